"End to end: exploring a trained run from Python and from `artgan-sample`, and exporting its generator."
import json, os, subprocess, sys

import pytest
import torch
from PIL import Image

from conftest import ROOT, cli
from artgan_nb.run import train
from artgan_nb.write import write_samples, SampleOptions
from artgan_nb.models import seed_latents
from artgan_nb.explore import load_run

TINY = dict(size=32, bs=16, n_images=64, epochs=1, nz=16, width=8, device='cpu')

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "A class-conditional run and an unconditional one, tiny."
    out = tmp_path_factory.mktemp('runs')
    return train(**TINY, cond=True, ema=0.9, out=str(out), name='cond')[1],train(**TINY, out=str(out), name='plain')[1]

def pixels(path): return torch.from_numpy(__import__('numpy').array(Image.open(path).convert('RGB'))).permute(2, 0, 1)

def grey_apart(a, b):
    "The largest difference between uint8 images' pixels, which batches of other sizes may round otherwise."
    assert a.shape == b.shape
    return (a.int() - b.int()).abs().max().item()

def python(*code_and_args, env=None):
    return subprocess.run([sys.executable, '-c', *map(str, code_and_args)], capture_output=True, text=True, timeout=300, env=env)

def test_walk_gif_classes(runs, tmp_path):
    run = runs[0]
    r = cli('artgan-sample', run, '--interp', 2, 9, '--steps', 5, '--out', tmp_path/'walk.png', '--gif', tmp_path/'walk.gif')
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path/'walk.gif').n_frames == 8 and Image.open(tmp_path/'walk.png').size == (5*34 + 2, 36)
    ex = load_run(run)
    walk = ex.interpolate(2, 9, 5)
    for i in (0, 4): assert torch.equal(pixels(tmp_path/'walk.png')[:, 2:34, 2 + 34*i:34 + 34*i], walk[i])
    assert grey_apart(walk[0], ex.sample(1, 2)[0]) <= 1  # the walk starts at seed 2's own image

    r = cli('artgan-sample', run, '--by-class', '-n', 4, '--out', tmp_path/'grids'/'g.png')
    assert r.returncode == 0, r.stderr
    assert f"creating folder {tmp_path/'grids'}" in r.stdout
    assert sorted(p.name for p in (tmp_path/'grids').iterdir()) == [f'g-{c}.png' for c in sorted(('circles', 'grid', 'bands', 'stars'))]

    r = cli('artgan-sample', run, '--class', 'stars', '-n', 3, '--seed', 5, '--truncation', 0.5, '--each', tmp_path/'each')
    assert r.returncode == 0, r.stderr
    got = torch.stack([pixels(p) for p in sorted((tmp_path/'each').iterdir())])
    assert torch.equal(got, ex.sample(3, 5, labels='stars', truncation=0.5))

def test_a_training_grid_is_artgan_sample_of_its_seed(tmp_path):
    "Image k of a run's sample grid, drawn with its seed s, is image k of `artgan-sample --seed s`: one rule."
    run = train(**TINY, cond=True, ema=0, init='default', seed=5, out=str(tmp_path), name='grid')[1] # G sampled
    r = cli('artgan-sample', run, '--seed', 5, '-n', 10, '--each', tmp_path/'each')
    assert r.returncode == 0, r.stderr
    grid = pixels(run/'samples'/'epoch_0001.png') # 8 images a row, 2 pixels apart
    for k,p in enumerate(sorted((tmp_path/'each').iterdir())):
        row,col = divmod(k, 8)
        assert grey_apart(grid[:, 2 + 34*row:34 + 34*row, 2 + 34*col:34 + 34*col], pixels(p)) <= 1, k

def test_errors_are_one_line_and_write_nothing(runs, tmp_path):
    cond,plain = runs
    for run,args,msg in [(plain, ['--class', 'stars'], 'is not a class-conditional run: --class and --by-class need one'),
                         (plain, ['-n', 0, '--nrow', 0], 'n must be at least 1, got 0; nrow must be at least 1, got 0'),
                         (plain/'config.json', [], "is a run's JSON file, not a checkpoint")]:
        r = cli('artgan-sample', run, *args, '--out', tmp_path/'g.png')
        assert r.returncode == 1 and r.stderr.startswith('error: ') and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    cases = [(plain, dict(by_class=True), 'is not a class-conditional run'),
             (cond, dict(label='cubism'), "no class 'cubism' in this run: its classes are circles, grid, bands, stars"),
             (plain, dict(n=-3), 'n must be at least 1, got -3'), (plain, dict(interp=(0, 1), steps=1), 'steps must be at least 2'),
             (plain, dict(truncation=-1), 'truncation must be at least 0'), (plain, dict(device='nope'), "device must be 'auto'"),
             (plain, dict(out=tmp_path/'x.jpgx'), "unknown file extension '.jpgx' (use .png or .jpg or .jpeg)"),
             (plain, dict(gif=tmp_path/'w.gif'), '--gif writes a walk: give --interp A B too'),
             (plain, dict(each=tmp_path/'e', interp=(0, 1)), '--each and --interp cannot be used together')]
    for run,kw,msg in cases:
        with pytest.raises(ValueError, match=None) as e: write_samples(run, **{'out': tmp_path/'g.png', **kw})
        assert msg in str(e.value), (kw, str(e.value))
    assert list(tmp_path.iterdir()) == []

def test_generation_is_batched(runs, tmp_path):
    "Images are made `bs` at a time and `--each` writes them as they come; the images do not depend on the batch size."
    sizes = []
    import artgan_nb.explore as explore
    real = explore.Explorer.generate
    def spy(self, z, y=None, bs=64): sizes.append(len(z)); return real(self, z, y, bs)
    explore.Explorer.generate = spy
    try: write_samples(runs[0], each=tmp_path/'a', n=10, bs=4, device='cpu')
    finally: explore.Explorer.generate = real
    assert sizes == [4, 4, 2]
    write_samples(runs[0], each=tmp_path/'b', n=10, device='cpu')
    a,b = [torch.stack([pixels(p) for p in sorted((tmp_path/d).iterdir())]) for d in 'ab']
    assert grey_apart(a, b) <= 1
    assert SampleOptions().bs == 64

def test_export_runs_with_plain_torch(runs, tmp_path):
    run = runs[0]
    r = python('from artgan_nb.cli import artgan_export; artgan_export()', run, '--out', tmp_path/'G.pt2')
    assert r.returncode == 0, r.stderr
    z,y = seed_latents(16, range(6)),torch.tensor([0, 1, 2, 3, 3, 0])
    torch.save((z, y), tmp_path/'inputs.pt')
    plain = ("import json, sys, torch\n"
             "files = {'meta.json': ''}\n"
             "G = torch.export.load(sys.argv[1], extra_files=files).module()\n"
             "z, y = torch.load(sys.argv[2])\n"
             "torch.save(G(z, y), sys.argv[3])\n"
             "meta = json.loads(files['meta.json'])\n"
             "assert 'artgan_nb' not in sys.modules\n"
             "print(json.dumps(dict(classes=meta['classes'], nz=meta['spec']['nz'], mean=meta['spec']['mean'])))")
    env = {k: v for k,v in os.environ.items() if k != 'PYTHONPATH'}
    r = python(plain, tmp_path/'G.pt2', tmp_path/'inputs.pt', tmp_path/'out.pt', env=dict(env, PYTHONNOUSERSITE='1'))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == dict(classes=['circles', 'grid', 'bands', 'stars'], nz=16, mean=[0.5, 0.5, 0.5])
    assert torch.equal(torch.load(tmp_path/'out.pt'), load_run(run).generate(z, y))
