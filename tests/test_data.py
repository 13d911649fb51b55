"End-to-end checks of the data pipeline: the artgan-prepare command, the cache's atomicity, real paintings."
import json, os, shutil, signal, subprocess, sys, time
from types import SimpleNamespace
from pathlib import Path

import pytest, torch
from PIL import Image

from artgan_nb.data.collection import DataError, prepare_data, read_cache
from artgan_nb.data.loaders import gan_dls, BatchAugment
from fixtures import messy_folder, painting
from artgan_nb.metrics import load_split

ROOT = Path(__file__).resolve().parents[1]

def run_py(tmp_path, code, *args):
    "Run `code` as a script file with this checkout's package (a script file, so `call_parse` reads `args`)."
    script = tmp_path/f"run_{abs(hash(code))}.py"; script.write_text(code)
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1'}
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)

def prepare_cli(tmp_path, *args):
    "Run `artgan-prepare args` as its console script does; return (exit code, stdout, stderr)."
    p = run_py(tmp_path, "from artgan_nb.cli import artgan_prepare\nartgan_prepare()\n", *args)
    out,err = p.communicate(timeout=120)
    return p.returncode,out,err

@pytest.fixture
def messy(tmp_path):
    expected = messy_folder(tmp_path/'messy')
    return tmp_path/'messy',expected

def test_prepare_reports_every_file(messy, tmp_path):
    root,expected = messy
    rc,out,err = prepare_cli(tmp_path, root, '--size', 32, '--cache', tmp_path/'cache', '--workers', 2)
    assert rc == 0, err
    assert '13 images kept, 4 skipped, 1 other files ignored' in out
    assert 'skipped: 1 empty file, 1 not an image, 1 too large, 1 truncated or corrupt' in out
    for f,why in expected.items():
        if why: assert f"{root/f}: {why}" in out
    assert 'labels: calm 6, loud 7' in out and 'built in' in out
    rc,out,_ = prepare_cli(tmp_path, root, '--size', 32, '--cache', tmp_path/'cache')
    assert rc == 0 and 'reused in' in out

def test_cli_and_library_share_the_cache(messy, tmp_path):
    root,_ = messy
    rc,_,err = prepare_cli(tmp_path, root, '--size', 32, '--fit', 'pad', '--gray', '--cache', tmp_path/'cache')
    assert rc == 0, err
    cache,report = prepare_data(root, size=32, fit='pad', gray=True, cache_dir=tmp_path/'cache')
    assert report['reused'] and cache.images.shape == (13, 1, 32, 32) and cache.images.dtype == torch.uint8
    x,y = gan_dls(cache, bs=4, holdout=0.25, device='cpu', augment=BatchAugment()).train.one_batch()
    assert x.shape == (4, 1, 32, 32) and x.dtype == torch.float32 and -1 <= x.min() and x.max() <= 1
    assert y.dtype == torch.int64 and set(y.tolist()) <= {0, 1}

def test_prepare_and_eval_pad_with_the_runs_colour(tmp_path):
    "artgan-prepare --pad-color builds the cache a run padded so reads, and artgan-eval's real images are padded alike."
    root = tmp_path/'wide'; root.mkdir()
    for i in range(3): painting(48, 24, i).save(root/f"{i}.png")
    rc,_,err = prepare_cli(tmp_path, root, '--size', 32, '--fit', 'pad', '--pad-color', 'white', '--cache', tmp_path/'cache')
    assert rc == 0, err
    cache,report = prepare_data(root, size=32, fit='pad', pad_color='white', cache_dir=tmp_path/'cache')
    assert report['reused'] and (cache.images[:, :, 0] == 255).all() # the top bar is white
    images,_,_ = load_split(root, size=32, fit='pad', pad_color='white', cache_dir=tmp_path/'cache')
    assert len(images) == 3 and (images[:, :, 0] == 255).all()

@pytest.mark.parametrize('case,expect', [('missing', 'there is no folder'), ('empty', 'no usable image'),
                                         ('unwritable', 'cannot write the cache'), ('size', 'size must be')])
def test_cli_errors_are_messages(case, expect, messy, tmp_path):
    root,_ = messy
    (tmp_path/'empty').mkdir(); (tmp_path/'empty'/'zero.png').touch()
    args = dict(missing=[tmp_path/'nowhere'], empty=[tmp_path/'empty'], unwritable=[root, '--cache', root/'calm'/'wide.png'/'c'],
                size=[root, '--size', 4])[case]
    rc,out,err = prepare_cli(tmp_path, *args, *(['--cache', tmp_path/'cache'] if case != 'unwritable' else []))
    assert rc != 0 and f"error: " in err and expect in err and 'Traceback' not in err

def test_csv_labels_and_missing_files(messy, tmp_path):
    root,_ = messy
    (tmp_path/'list.csv').write_text('file,label\ncalm/wide.png,a\nloud/cmyk.jpg,b\ncalm/gone.png,a\n')
    cache,report = prepare_data(root, size=32, cache_dir=tmp_path/'cache', labels_csv=tmp_path/'list.csv', workers=0)
    assert cache.classes == ('a', 'b') and cache.labels.tolist() == [0, 1]
    assert report['skipped'] == {str(root/'calm'/'gone.png'): 'missing'}

HANG_MIDWAY = """
import sys, time
from pathlib import Path
import artgan_nb.data.collection as d
decode,flag,seen = d.decode_image,Path(sys.argv[3]),[0]
def hang_at_150(*a, **k):
    "Decode as usual, but hang before the 150th of the 300 images, half of them written: the moment to kill the build."
    seen[0] += 1
    if seen[0] == 150: flag.touch(); time.sleep(600)
    return decode(*a, **k)
d.decode_image = hang_at_150
d.prepare_data(sys.argv[1], size=16, cache_dir=sys.argv[2], workers=0)
"""

def test_killed_build_leaves_no_complete_cache(tmp_path):
    root,cache_dir,flag = tmp_path/'imgs',tmp_path/'cache',tmp_path/'halfway'
    root.mkdir()
    for i in range(300): Image.new('RGB', (20, 20), (i % 256, 0, 0)).save(root/f'{i:03d}.png')
    p = run_py(tmp_path, HANG_MIDWAY, root, cache_dir, flag)
    deadline = time.monotonic() + 600
    while not flag.exists(): # an event: the build is half done
        assert p.poll() is None, f'the build ended before it got halfway: {p.stderr.read()}'
        assert time.monotonic() < deadline, 'the build did not get halfway in 10 minutes'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    left = list(cache_dir.iterdir())
    assert left and all(d.name.startswith('.tmp-') for d in left)       # only the unfinished temporary folder
    assert all((d/'images.u8').stat().st_size < 300 * 3 * 16 * 16 for d in left) # killed in the middle of its images
    assert all(read_cache(d) is None for d in left)
    cache,report = prepare_data(root, size=16, cache_dir=cache_dir, workers=0)
    assert not report['reused'] and report['kept'] == 300 and len(cache) == 300
    assert [d.name for d in cache_dir.iterdir()] == [Path(report['cache']).name]  # the dead build's folder is gone

def test_wikiart_batches(wikiart, tmp_path):
    train = wikiart/'train'
    styles = sorted(p.name for p in train.iterdir())
    rows = [f"{s}/{f.name},{s}" for s in styles for f in sorted((train/s).iterdir())[:10]]
    (tmp_path/'list.csv').write_text('file,label\n' + '\n'.join(rows) + '\n')
    cache,report = prepare_data(train, size=64, cache_dir=tmp_path/'cache', labels_csv=tmp_path/'list.csv')
    assert report['kept'] == 10 * len(styles) and not report['skipped'] and cache.classes == tuple(styles)
    dls = gan_dls(cache, bs=16, holdout=0.2, device='cpu', norm='unit')
    x,y = dls.train.one_batch()
    assert x.shape == (16, 3, 64, 64) and 0 <= x.min() and x.max() <= 1 and x.std() > 0.1
    assert dls.valid.dataset.labels.bincount().tolist() == [2] * len(styles)

PEAK_MEMORY = '''
import resource, sys
from artgan_nb.data.collection import prepare_data
cache,report = prepare_data(sys.argv[1], size=32, cache_dir=sys.argv[2], workers=0)
print(report['kept'], len(report['skipped']), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
'''

def test_decompression_bomb_keeps_memory_bounded(tmp_path):
    "A real bomb (a 110-megapixel PNG of a few hundred KB) is skipped without decoding: peak memory as for small files."
    small,bombs = tmp_path/'small',tmp_path/'bombs'
    for folder in (small, bombs):
        folder.mkdir()
        for i in range(4): Image.new('RGB', (40, 40), (60 * i, 90, 200)).save(folder/f'{i}.png')
    Image.new('RGB', (11_000, 10_000), (200, 30, 30)).save(bombs/'bomb.png') # 330 MB once decoded
    assert (bombs/'bomb.png').stat().st_size < 2**20
    peak = {}
    for name,folder in [('small', small), ('bombs', bombs)]:
        out,err = run_py(tmp_path, PEAK_MEMORY, folder, tmp_path/f'cache-{name}').communicate(timeout=120)
        kept,skipped,peak[name] = map(int, out.split())
        assert (kept, skipped) == (4, name == 'bombs'), err
    assert peak['bombs'] < peak['small'] + 100, peak # MB: far below the 330 MB a decode would take

def small_collection(root, n=8):
    "Write `n` distinct 24 px PNGs to `root` (created)."
    root.mkdir(parents=True)
    for i in range(n): Image.new('RGB', (24, 24), (30 * i % 256, 90, 200 - 20 * i)).save(root/f"{i}.png")
    return root

def test_cache_damaged_in_place_is_rebuilt(tmp_path):
    root = small_collection(tmp_path/'imgs')
    cache,report = prepare_data(root, size=16, cache_dir=tmp_path/'cache', workers=0)
    before = cache.images.clone()                                # the cache maps its file: keep a copy of the pixels
    images = Path(report['cache'])/'images.u8'
    size = images.stat().st_size
    images.write_bytes(bytes(size))                              # black images, same size
    again,report2 = prepare_data(root, size=16, cache_dir=tmp_path/'cache', workers=0)
    assert not report2['reused'] and report2['cache'] == report['cache'] and (again.images == before).all()
    assert report2['notes'] == [f"rebuilt the cache {images.parent.name}: images.u8 does not match its checksums (1 of the 1 chunks read differ)"]

@pytest.mark.parametrize('damage', ['truncated images', 'broken meta.json', 'no meta.json', 'broken manifest', 'older version'])
def test_broken_cache_is_replaced_with_a_note(tmp_path, damage):
    root = small_collection(tmp_path/'imgs')
    cache,report = prepare_data(root, size=32, cache_dir=tmp_path/'cache', workers=0)
    before,dest = cache.images.clone(),Path(report['cache'])
    del cache                                                    # it maps the file damaged below
    if damage == 'truncated images': os.truncate(dest/'images.u8', 1000)
    if damage == 'broken meta.json': (dest/'meta.json').write_text('{"shape": [8, 3')
    if damage == 'no meta.json': (dest/'meta.json').unlink()
    if damage == 'broken manifest': (dest/'manifest.csv').write_text('file,label,status,sha1\n0.png,,ok,\n')
    if damage == 'older version': meta = json.loads((dest/'meta.json').read_text()); del meta['chunk']; (dest/'meta.json').write_text(json.dumps(meta))
    rc,out,err = prepare_cli(tmp_path, root, '--size', 32, '--cache', tmp_path/'cache', '--workers', 0)
    assert rc == 0 and 'Traceback' not in err, err
    notes = [l for l in out.splitlines() if l.startswith('note: ')]
    assert len(notes) == 1 and notes[0].startswith(f"note: rebuilt the cache {dest.name}: ") and 'built in' in out
    again,report2 = prepare_data(root, size=32, cache_dir=tmp_path/'cache', workers=0)
    assert report2['reused'] and report2['notes'] == [] and (again.images == before).all()
    assert sorted(p.name for p in (tmp_path/'cache').iterdir()) == [dest.name]

FULL_DISK = """
import resource, signal
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)                    # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))      # a size-limited disk: files of at most 20 KB
from artgan_nb.cli import artgan_prepare
artgan_prepare()
"""

def test_full_disk_during_build_leaves_nothing(tmp_path):
    root = small_collection(tmp_path/'imgs', 16)                 # 16 x 3 KB of images: more than the limit
    p = run_py(tmp_path, FULL_DISK, root, '--size', 32, '--cache', tmp_path/'cache', '--workers', 0)
    out,err = p.communicate(timeout=120)
    assert p.returncode == 1 and err.startswith(f"error: cannot write the cache in {tmp_path/'cache'}: File too large") and err.count('\n') == 1, err
    assert list((tmp_path/'cache').iterdir()) == []              # the temporary folder is gone, no cache

def test_too_little_space_is_refused_before_writing(tmp_path, monkeypatch):
    root = small_collection(tmp_path/'imgs')
    (tmp_path/'cache').mkdir()
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: SimpleNamespace(free=1000))
    with pytest.raises(DataError, match=r"not enough space for the cache in .*cache: it needs up to 24 KB, 1 KB are free"):
        prepare_data(root, size=32, cache_dir=tmp_path/'cache', workers=0)
    assert list((tmp_path/'cache').iterdir()) == []

def test_show_batch_shows_real_images(tmp_path):
    import matplotlib; matplotlib.use('Agg')
    cache,_ = prepare_data(small_collection(tmp_path/'imgs', 12), size=32, cache_dir=tmp_path/'cache', workers=0)
    dls = gan_dls(cache, bs=8, device='cpu', norm='dataset')
    fig = dls.show_batch(max_n=6)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 6 and all(a.shape == (32, 32, 3) for a in shown)
    real = {tuple(cache.images[i].permute(1, 2, 0).reshape(-1, 3)[0].tolist()) for i in range(len(cache))}
    assert all(tuple((a[0, 0] * 255).round().astype(int).tolist()) in real for a in shown)   # denormalised: the cache's pixels

# The data options of issue 12: rotate, zoom, pad_color, mirror and the built-in shapes.

from artgan_nb.checkpoint import atomic_save, load_checkpoint
from artgan_nb.core import to_dict, with_options
from artgan_nb.run import Config, read_config, resume, train
from conftest import cli
from test_resume import Crash

NEW = dict(rotate=0.0, zoom=0.0, pad_color='black', mirror=False)     # the new options and their defaults
TINY = dict(size=32, bs=16, nz=16, width=8, epochs=2, device='cpu', save_every_batches=2)

def weights(run):
    ck = load_checkpoint(Path(run)/'checkpoints'/'last.pth')
    return {f'{net}.{k}': v for net in ('generator', 'discriminator') for k,v in ck[net].items()},(ck['epoch'], ck['batch'])

def test_shapes_mirror_rotate_zoom_train_and_resume_exactly(tmp_path):
    "Greyscale shapes, mirrored, rotated and zoomed: epochs twice as long, config.json keeps the options, a crashed run resumes exactly."
    opts = dict(TINY, data='builtin:shapes', n_images=24, gray=True, mirror=True, rotate=10.0, zoom=0.1, holdout=0.25)
    learn,whole = train(with_options(Config(), **opts, out=str(tmp_path/'whole')))
    assert whole.name == 'shapes-dcgan-32px' and learn.model.spec.nc == 1
    assert (len(learn.dls.train.dataset), len(learn.dls.train), len(learn.dls.valid.dataset)) == (36, 2, 6) # 18 images both ways; 6 held out
    data = read_config(whole/'config.json').data
    assert (data.data, data.mirror, data.rotate, data.zoom) == ('builtin:shapes', True, 10.0, 0.1)
    with pytest.raises(RuntimeError, match='simulated crash'): train(with_options(Config(), **opts, out=str(tmp_path/'crash')), cbs=[Crash(3)])
    run = tmp_path/'crash'/'shapes-dcgan-32px'
    assert weights(run)[1] == (1, 0)
    resume(run)
    (a,ea),(b,eb) = weights(whole),weights(run)
    assert ea == eb == (2, 0) and [k for k in a if not torch.equal(a[k], b[k])] == []

def test_old_run_without_the_new_options_resumes(tmp_path):
    "A run whose config.json and checkpoint predate the new options loads with their defaults (today's behaviour) and resumes."
    _,run = train(with_options(Config(), **dict(TINY, n_images=32, epochs=1, flip=0.0), out=str(tmp_path))) # no augmentation
    ck = load_checkpoint(run/'checkpoints'/'last.pth')
    for k in NEW: del ck['config']['data'][k]
    atomic_save(ck, run/'checkpoints'/'last.pth')
    cfg = json.loads((run/'config.json').read_text())
    assert {k: cfg['data'].pop(k) for k in NEW} == NEW
    (run/'config.json').write_text(json.dumps(cfg))
    assert read_config(run/'config.json').data.augment() is None
    learn,_ = resume(run, epochs=2)
    assert len(learn.dls.train) == 2 and weights(run)[1] == (2, 0)

@pytest.mark.parametrize('options,expect', [(dict(rotate=-1.0, zoom=1.0), 'rotate must be in [0, 180], got -1.0\n  zoom must be in [0, 1), got 1.0'),
                                            (dict(pad_color='grey'), "pad_color must be black, white, mean or #rrggbb, not 'grey'"),
                                            (dict(data='builtin:squares'), 'data must be builtin:abstract, builtin:shapes or a folder of images'),
                                            (dict(mirror='yes'), "mirror must be of type bool, got 'yes'")])
def test_bad_data_options_are_refused_before_any_file(tmp_path, options, expect):
    with pytest.raises(ValueError) as e: train(with_options(Config(), **TINY, **options, out=str(tmp_path/'runs')))
    assert expect in str(e.value) and not (tmp_path/'runs').exists()

def test_pad_color_on_the_command_line(tmp_path):
    r = cli('artgan-train', '--data', 'builtin:shapes', '--pad-color', '#12345', '--out', tmp_path)
    assert r.returncode == 1 and r.stderr.strip().endswith("pad_color must be black, white, mean or #rrggbb, not '#12345'") and 'Traceback' not in r.stderr
    assert list(tmp_path.iterdir()) == []
