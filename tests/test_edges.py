"""Edges a new user meets: an edited config.json on --resume, --minutes on --resume, a generator whose output range
misses the data's, seeds out of range, output paths that cannot be written, --class with --out, option errors
with --nproc, a killed worker, a resume on another number of processes, and an export without deprecation warnings.
Each ends in one line (an error, or a warning in the package's words) before any work, with nothing written."""
import json, os, shutil, signal, subprocess, sys, warnings
from pathlib import Path

import psutil, pytest, torch

from conftest import cli
from artgan_nb import cli as commands
from artgan_nb.cli import artgan_train, artgan_sample, artgan_export
from artgan_nb.models import ModelSpec, build_gan
from artgan_nb.export import export_generator
from artgan_nb.run import train, read_config
from artgan_nb.callbacks.checkpoint import processes_note
from artgan_nb.models import seed_latents
from artgan_nb.explore import load_run
from artgan_nb.callbacks.checkpoint import resume_command

TINY = dict(size=32, bs=16, n_images=32, nz=8, width=4, device='cpu', on_collapse='off')

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A finished class-conditional run of one epoch, with a time limit it did not reach."
    return train(**TINY, epochs=1, cond=True, minutes=5.0, out=str(tmp_path_factory.mktemp('runs')), name='cond')[1]

def files(folder): return {p: p.stat().st_mtime_ns for p in Path(folder).rglob('*')}

def one_line_error(command, *argv):
    "Run `command` on `argv`; check it exits with one line `error: ...` and return the line."
    with pytest.raises(SystemExit) as e: command(list(map(str, argv)))
    msg = e.value.code
    assert isinstance(msg, str) and msg.startswith('error: ') and '\n' not in msg, msg
    return msg

@pytest.fixture
def copy_of(run, tmp_path):
    "A fresh copy of the finished run, to resume."
    return shutil.copytree(run, tmp_path/'cond')

def test_resume_names_an_edited_config(copy_of):
    run = copy_of
    d = json.loads((run/'config.json').read_text())
    d['train']['epochs'],d['train']['lr_g'] = 3,0.001
    (run/'config.json').write_text(json.dumps(d))
    before = files(run)
    msg = one_line_error(artgan_train, '--resume', run)
    assert f"{run} has finished its 1 epoch ({run/'config.json'} was edited (epochs 3 there, 1 in the checkpoint, " \
           "lr_g 0.001 there, 0.0002 in the checkpoint), but a resume reads its options from the checkpoint" in msg, msg
    assert (f"give it --epochs N, --on-nan, --minutes, --early-stop, --early-stop-eps, or start a new run with "
            f"--init-from {run} to change") in msg
    assert msg.endswith(f"; to train on, give a new total: artgan-train --resume {run} --epochs N (N > 1)"), msg
    assert files(run) == before
    with pytest.warns(UserWarning) as w: artgan_train(['--resume', str(run), '--epochs', '2'])
    said = [str(m.message) for m in w if 'was edited' in str(m.message)]
    assert len(said) == 1 and '(lr_g 0.001 there, 0.0002 in the checkpoint)' in said[0], said # not epochs: given
    cfg = read_config(run/'config.json')
    assert (cfg.train.epochs, cfg.train.lr_g) == (2, 0.0002)

def test_minutes_on_resume(copy_of):
    "--minutes M on --resume: M more minutes; 0: no limit (as its check allows); not given: the run's own limit."
    run = copy_of
    help = ' '.join(commands.train_parser().format_help().split())
    assert "on --resume: this many more (0: none), the run's own if not given" in help
    artgan_train(['--resume', str(run), '--epochs', '2', '--minutes', '0'])
    assert read_config(run/'config.json').run.minutes == 0
    artgan_train(['--resume', str(run), '--epochs', '3', '--minutes', '7.5'])
    assert read_config(run/'config.json').run.minutes == 7.5
    artgan_train(['--resume', str(run), '--epochs', '4'])
    assert read_config(run/'config.json').run.minutes == 7.5 # the run's own
    assert 'minutes must be at least 0' in one_line_error(artgan_train, '--resume', run, '--epochs', 5, '--minutes', -1)

def test_sigmoid_generator_under_tanh_data_is_refused(tmp_path):
    msg = one_line_error(artgan_train, '--recipe', 'portraits64', '--norm', 'tanh', '--out', tmp_path/'runs')
    assert "g_out 'sigmoid' draws pixels in [0, 1] only, but norm 'tanh'" in msg and "use norm 'unit'" in msg, msg
    assert not (tmp_path/'runs').exists()

@pytest.mark.parametrize('args,words', [
    (['--seed', 2**64], 'seed must be in [0, 9223372036854775807], got 18446744073709551616'),
    (['--seed', -1], 'seed must be in [0, 9223372036854775807], got -1'),
    (['--seed', 2**63 - 1, '-n', 2], "seed + n - 1 (the last image's seed) must be at most 9223372036854775807"),
    (['--interp', 3, 2**64], '--interp seed must be in [0, 9223372036854775807], got 18446744073709551616')])
def test_seed_out_of_range(run, tmp_path, args, words):
    assert words in one_line_error(artgan_sample, run, *args, '--out', tmp_path/'x.png')
    assert list(tmp_path.iterdir()) == []

def test_destinations_checked_before_anything_is_written(run, tmp_path, monkeypatch):
    (tmp_path/'walk.gif').mkdir(); (tmp_path/'G.pt2').mkdir(); (tmp_path/'file').write_text('')
    monkeypatch.setattr(commands, 'load_run', lambda *a, **k: pytest.fail('the run was loaded before the check'))
    before = files(tmp_path)
    walk = ['--interp', 1, 2, '--out', tmp_path/'walk.png']
    msg = one_line_error(artgan_sample, run, *walk, '--gif', tmp_path/'walk.gif')
    assert msg == f"error: cannot write {tmp_path/'walk.gif'}: it is a folder"
    msg = one_line_error(artgan_sample, run, *walk, '--gif', '/proc/walk.gif')
    assert msg.startswith('error: cannot write /proc/walk.gif: /proc cannot be written in'), msg
    msg = one_line_error(artgan_sample, run, *walk, '--gif', tmp_path/'file'/'new'/'walk.gif')
    assert msg == f"error: cannot write {tmp_path/'file'/'new'/'walk.gif'}: {tmp_path/'file'} is not a folder"
    msg = one_line_error(artgan_sample, run, '--each', tmp_path/'file')
    assert msg == f"error: cannot write {tmp_path/'file'}: it is a file"
    msg = one_line_error(artgan_export, run, '--out', tmp_path/'G.pt2')
    assert msg == f"error: cannot write {tmp_path/'G.pt2'}: it is a folder"
    assert '/proc cannot be written in' in one_line_error(artgan_export, run, '--out', '/proc/G.pt2')
    assert "unknown file extension '.pt' (use .pt2)" in one_line_error(artgan_export, run, '--out', tmp_path/'G.pt')
    if os.geteuid() != 0: # root writes in read-only folders
        (tmp_path/'ro').mkdir(); (tmp_path/'ro').chmod(0o555); before = files(tmp_path)
        msg = one_line_error(artgan_export, run, '--out', tmp_path/'ro'/'G.pt2')
        assert f"{tmp_path/'ro'} cannot be written in (Permission denied)" in msg
    assert files(tmp_path) == before

def test_class_writes_exactly_out(run, tmp_path):
    artgan_sample([str(run), '--class', 'grid', '-n', '2', '--out', str(tmp_path/'grid.png')])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['grid.png']

@pytest.mark.parametrize('args,words', [(['--lr-g', '0'], 'lr_g must be greater than 0, got 0.0'),
                                        (['--data', 'no/such/folder'], 'there is no folder no/such/folder'),
                                        (['--resume', 'no/such/run'], 'no run folder at no/such/run')])
def test_nproc_checks_options_before_launching(monkeypatch, args, words):
    monkeypatch.setattr(commands, 'launch_on', lambda *a, **k: pytest.fail('launched before the options were checked'))
    assert words in one_line_error(artgan_train, '--nproc', '2', *args)

def test_processes_note_both_ways(tmp_path):
    for processes,k,n in ((2, 2, 1), (1, 1, 2)):
        (tmp_path/'config.json').write_text(json.dumps(dict(env=dict(device='cpu', processes=processes), train=dict(bs=8))))
        note = processes_note(tmp_path, n)
        assert note.startswith(f"; it trained on {k} process"), note
        assert f"the global batch is now {n} x 8 images, not {k} x 8" in note, note
        assert f"--nproc {k}" in note and processes_note(tmp_path, k) == ''

def test_killed_worker_says_how_to_continue(tmp_path):
    "kill -9 of one worker, once the run says its first epoch is done: one line, the resume command, no traceback."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [str(Path(sys.executable).parent/'artgan-train'), '--nproc', '2', '--size', '32', '--n-images', '32',
           '--bs', '8',
           '--epochs', '1000', '--nz', '8', '--width', '4', '--device', 'cpu', '--on-collapse', 'off',
           '--out', str(tmp_path), '--name', 'two']
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in p.stdout: # the second epoch's line: the first epoch's checkpoint is written
        if line.startswith('epoch 2/'): break
    workers = sorted((c for c in psutil.Process(p.pid).children(recursive=True)
                      if c.ppid() != p.pid and 'artgan-train' in ' '.join(c.cmdline())), key=lambda c: c.pid)
    assert len(workers) == 2, workers
    workers[-1].send_signal(signal.SIGKILL)
    out,err = p.communicate(timeout=600)
    run = tmp_path/'two'
    assert p.returncode == 1 and 'Traceback' not in err and 'Error' not in err, err
    assert err.endswith(f"the run stopped at its last checkpoint: continue it with {resume_command(run)} --nproc 2\n"), \
        err
    assert 'was killed (SIGKILL)' in err and len(err.strip().splitlines()) == 1, err
    r = cli('artgan-train', '--resume', run, '--epochs', 3) # on one process: said in the resuming line
    assert r.returncode == 0 and 'Warning' not in r.stderr, r.stderr
    assert "it trained on 2 processes: the global batch is now 1 x 8 images, not 2 x 8, so the resume is not exact" \
           in r.stdout, r.stdout

def test_export_without_deprecation_warnings(run, tmp_path):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        artgan_export([str(run), '--out', str(tmp_path/'G.pt2')])
        meta = {'meta.json': ''}
        G = torch.export.load(tmp_path/'G.pt2', extra_files=meta).module()
    assert [str(m.message) for m in w if issubclass(m.category, (FutureWarning, DeprecationWarning))] == []
    assert json.loads(meta['meta.json'])['classes'] == ['circles', 'grid', 'bands', 'stars']
    z,y = seed_latents(8, [5]),torch.tensor([1])
    assert torch.equal(G(z, y), load_run(run).generate(z, y))

def test_export_of_channels_last_weights_is_quiet(tmp_path):
    "Training stores weights channels-last; their export must not print torch.export's shared-storage warning."
    spec = ModelSpec(size=32, nz=8, width=4)
    G = build_gan(spec)[0].to(memory_format=torch.channels_last)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        export_generator(G, spec, tmp_path/'G.pt2')
    assert torch.export.load(tmp_path/'G.pt2').module()(torch.zeros(3, 8)).shape == (3, 3, 32, 32)
