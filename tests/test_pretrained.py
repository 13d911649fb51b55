"""The generator shipped in the package, `pretrained:wikiart64`: it loads by name wherever a run does, samples the same
images from the same seeds, matches its model card, and a built wheel carries it. No FID here: the card has the scores."""
import hashlib, re, subprocess, sys, zipfile

import torch

from conftest import cli
from artgan_nb.checkpoint import pretrained_file, pretrained_folder
from artgan_nb.explore import load_run

NAME = 'pretrained:wikiart64'

def test_it_matches_its_card():
    path = pretrained_file(NAME)
    card = path.with_suffix('.md').read_text()
    assert re.search(r'SHA-256 `([0-9a-f]{64})`', card).group(1) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.stat().st_size <= 10 * 2**20 and 'non-commercial' in card

def test_it_samples_the_same_images_from_the_same_seeds():
    ex = load_run(NAME)
    a,b = ex.sample(4, seed=7),load_run(NAME).sample(4, seed=7)
    assert (ex.spec.size, a.shape, a.dtype) == (64, (4, 3, 64, 64), torch.uint8)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    assert a.float().std() > 10 # images, not one flat colour

def test_every_command_takes_it(tmp_path):
    r = cli('artgan-sample', NAME, '-n', 4, '--out', tmp_path/'grid.png')
    assert r.returncode == 0 and (tmp_path/'grid.png').is_file(), r.stderr
    r = cli('artgan-sample', NAME, '--interp', 1, 2, '--steps', 3, '--out', tmp_path/'walk.png', '--gif', tmp_path/'walk.gif')
    assert r.returncode == 0 and (tmp_path/'walk.gif').is_file(), r.stderr
    r = cli('artgan-export', NAME, '--out', tmp_path/'G.pt2')
    assert r.returncode == 0 and (tmp_path/'G.pt2').is_file(), r.stderr
    r = cli('artgan-info', NAME)
    assert r.returncode == 0 and r.stdout.startswith(f'the networks of {NAME}:'), r.stderr
    r = cli('artgan-sample', 'pretrained:monet', '--out', tmp_path/'x.png')
    assert r.returncode != 0 and r.stderr.strip() == 'error: no pretrained generator pretrained:monet: there is pretrained:wikiart64'

def test_what_is_made_from_it_goes_to_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('ARTGAN_CACHE', str(tmp_path))
    assert pretrained_folder(NAME) == tmp_path/'pretrained'/'wikiart64' # eval.json and features: never into the package

def test_a_built_wheel_carries_it(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', tmp_path, '.'], check=True,
                   cwd=pretrained_file(NAME).parents[2], capture_output=True, timeout=600)
    names = zipfile.ZipFile(next(tmp_path.glob('*.whl'))).namelist()
    assert {'artgan_nb/pretrained/wikiart64.pth', 'artgan_nb/pretrained/wikiart64.md', 'artgan_nb/data/loaders.py',
            'artgan_nb/checkpoint.py'} <= set(names)
