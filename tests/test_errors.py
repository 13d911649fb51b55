"""Every mistake a user can make with `artgan-eval`, `artgan-info` and `artgan-prepare` ends in one line, `error: ...`,
with exit status 1 and no traceback, before any file is written and before any Inception feature is computed."""
import pytest

from conftest import cli
from artgan_nb import __version__, cli as commands, metrics
from artgan_nb.core import normalize, save_grid
from artgan_nb.data.abstract import render_abstract
from artgan_nb.metrics import train_images
from artgan_nb.checkpoint import read_checkpoint
from artgan_nb.run import config_of, train

def write_images(folder, images):
    "Each uint8 image of `images` as a PNG file in `folder`."
    for i,img in enumerate(images): save_grid(normalize(img)[None], folder/f'{i:03d}.png', nrow=1)
    return folder

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "One tiny trained run (the built-in images, one epoch) that every test here evaluates."
    return train(n_images=32, size=32, bs=16, epochs=1, nz=8, width=4, device='cpu', out=str(tmp_path_factory.mktemp('runs')))[1]

@pytest.fixture(scope='module')
def real(run, tmp_path_factory):
    "Folders of real images: fresh ones (in a test split), one, three, the run's own, none, and a file that is no picture."
    root,fresh = tmp_path_factory.mktemp('real'),render_abstract(4, size=32, seed=7).images # seed 7: not the run's images
    write_images(root/'fresh'/'test', fresh)
    write_images(root/'one', fresh[:1]); write_images(root/'three', fresh[:3])
    write_images(root/'seen', train_images(config_of(read_checkpoint(run)))[:5])
    (root/'empty').mkdir(); (root/'text').mkdir(); (root/'text'/'notes.png').write_text('not a picture')
    return root

def one_line_error(capsys, command, *argv):
    "Run `command` on `argv` as its console script does; check that it ends with one line `error: ...`, and return it."
    with pytest.raises(SystemExit) as e: command(list(map(str, argv)))
    assert 'Traceback' not in capsys.readouterr().err
    msg = e.value.code # `sys.exit(msg)` prints `msg` to stderr and exits with status 1
    assert isinstance(msg, str) and msg.startswith('error: ') and '\n' not in msg, msg
    return msg

EVAL = [(['missing'], 'error: no such folder: '),
        (['fresh', '--n', 0], 'error: invalid options: n must be at least 2, got 0'),
        (['fresh', '--n', -5], 'n must be at least 2, got -5'),
        (['fresh', '--kid-subset', 0], 'kid_subset must be at least 2, got 0'),
        (['fresh', '--n', 0, '--kid-subset', 0, '--seed', -1], 'n must be at least 2, got 0; kid_subset must be at least 2, got 0; seed must be at least 0'),
        (['fresh', '--n', 3, '--pr'], 'pr needs n of at least 4, got 3'),
        (['fresh', '--device', 'mps'], "device 'mps' is not available here"),
        (['fresh', '--device', 'meta'], "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'meta'"),
        (['fresh', '--split', 'val'], "fresh has no subfolder 'val' to evaluate on"),
        (['empty'], 'no usable image in'),
        (['text'], 'no usable image in'),
        (['one', '--n', 4], 'FID and KID need at least 2 images on each side, got 1 real and 4 generated'),
        (['three', '--n', 4, '--pr'], 'precision and recall need at least 4 images on each side, got 3 real and 4 generated'),
        (['seen', '--n', 4], 'got 0 real and 4 generated (the run trained on 5 of the images in')]

@pytest.mark.parametrize('args,words', EVAL, ids=lambda a: ' '.join(map(str, a)) if isinstance(a, list) else None)
def test_eval_refuses(run, real, capsys, monkeypatch, args, words):
    monkeypatch.setattr(metrics, 'InceptionFeatures', lambda *a, **k: pytest.fail('features computed before the check'))
    before = sorted(run.rglob('*'))
    assert words in one_line_error(capsys, commands.artgan_eval, run, '--real', real/args[0], *args[1:], '--cache', real.parent/'cache')
    assert sorted(run.rglob('*')) == before # no eval.json, no features, no figure

def test_eval_on_a_missing_run(real, capsys, tmp_path):
    assert f"no checkpoint at {tmp_path/'nope'}" in one_line_error(capsys, commands.artgan_eval, tmp_path/'nope', '--real', real/'fresh')

def test_eval_of_a_file_that_is_no_checkpoint(run, real, capsys):
    "The run's config.json is not a checkpoint: said so, not that it might run code."
    assert f"{run/'config.json'} is not a checkpoint" in one_line_error(capsys, commands.artgan_eval, run/'config.json', '--real', real/'fresh')

INFO = [(['--arch', 'foo'], "arch must be one of dcgan, dcgan-fc, classical, fastgan, got 'foo'"),
        (['--size', 48], 'size must be one of 32, 64, 128, 256, got 48'),
        (['--attn', 5], 'no 5px feature map for self-attention'),
        (['--width', 0, '--nz', -1], 'nz must be at least 1, got -1; width must be at least 1, got 0')]

@pytest.mark.parametrize('args,words', INFO, ids=lambda a: ' '.join(map(str, a)) if isinstance(a, list) else None)
def test_info_refuses(capsys, args, words):
    assert words in one_line_error(capsys, commands.artgan_info, *args)

def test_prepare_refuses(real, capsys, tmp_path):
    for args,words in [([real/'fresh', '--size', 48], 'size must be one of 32, 64, 128, 256, got 48'),
                       ([real/'fresh', '--workers', -1], 'workers must be at least 0, got -1'),
                       ([real/'fresh', '--labels-csv', tmp_path/'labels.csv'], 'labels_csv: no such file'),
                       ([tmp_path/'nope'], f'there is no folder {tmp_path/"nope"}')]:
        assert words in one_line_error(capsys, commands.artgan_prepare, *args, '--cache', tmp_path/'cache')
    assert not (tmp_path/'cache').exists()

def test_prepare_verify(real, capsys, tmp_path):
    for _ in range(2): commands.artgan_prepare([str(real/'fresh'/'test'), '--size', '32', '--verify', '--cache', str(tmp_path)])
    assert capsys.readouterr().out.count('4 images kept, 0 skipped') == 2

COMMANDS = ['artgan_train', 'artgan_sample', 'artgan_info', 'artgan_prepare', 'artgan_eval']

@pytest.mark.parametrize('name', COMMANDS)
def test_version(name, capsys):
    with pytest.raises(SystemExit) as e: getattr(commands, name)(['--version'])
    assert e.value.code == 0 and capsys.readouterr().out == f"{name.replace('_', '-')} (artgan_nb {__version__})\n"

def test_real_is_shown_as_required():
    usage,_,rest = commands.eval_parser().format_help().partition('\n\n')
    assert ' --real DIR ' in usage and '[--real' not in usage and 'required arguments:\n  --real DIR' in rest

@pytest.mark.parametrize('args', [['artgan-eval', 'RUN', '--real', '/nonexistent'], ['artgan-info', '--size', 48, '--arch', 'foo']])
def test_the_console_scripts_print_one_line(run, args):
    r = cli(args[0], *[run if a == 'RUN' else a for a in args[1:]])
    assert r.returncode == 1 and r.stderr.startswith('error: ') and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
