"Feedback while a run trains: the live bar on a terminal and plain lines when piped, kimg, TensorBoard per batch, the evolution GIF."
import csv, os, pty, select, sys
from pathlib import Path

import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import cli
from test_cli import TINY

BATCHES = 4 # 64 images in batches of 16, two epochs

def on_a_terminal(*args, timeout=600):
    "Run `artgan-train` with a pseudo-terminal as its stdout and stderr; return (exit status, everything it wrote)."
    exe = str(Path(sys.executable).parent/'artgan-train')
    env = {**os.environ, 'COLUMNS': '120', 'OMP_NUM_THREADS': '1'}
    pid,fd = pty.fork()
    if pid == 0: os.execve(exe, [exe, *map(str, args)], env)
    out = b''
    while select.select([fd], [], [], timeout)[0]: # no output for `timeout` seconds: give up
        try: chunk = os.read(fd, 1 << 16)
        except OSError: break # the child closed the terminal
        if not chunk: break
        out += chunk
    else: os.kill(pid, 9)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]),out.decode(errors='replace')

def test_bar_on_a_terminal(tmp_path):
    status,out = on_a_terminal(*TINY, '--out', tmp_path, '--name', 'tiny')
    assert status == 0, out
    bars = [l for l in out.split('\r') if l.startswith('epoch 2/2 |')]
    assert len(bars) >= BATCHES, out # drawn at the start of the epoch and after every batch, in place
    assert all(w in bars[-1] for w in ('100.00% [4/4', '0.128 kimg', 'img/s', 'ETA 00:00')), bars[-1]
    assert 'epoch 2/2  0.128 kimg' in out and '  loss_d ' in out and 'done: 0.128 kimg seen' in out

@pytest.fixture(scope='module')
def piped(tmp_path_factory):
    "A tiny run whose output goes to a pipe: (finished process, run folder)."
    out,env = tmp_path_factory.mktemp('piped'),{**os.environ, 'ARTGAN_PROGRESS_EVERY': '1e9'} # no line within an epoch
    return cli('artgan-train', *TINY, '--out', out/'runs', '--name', 'tiny', env=env),out/'runs'/'tiny'

def test_lines_within_an_epoch_when_piped(tmp_path):
    "Piped, a long epoch says how far it is every $ARTGAN_PROGRESS_EVERY seconds (30; 0 here: after every batch)."
    env = {**os.environ, 'ARTGAN_PROGRESS_EVERY': '0'}
    r = cli('artgan-train', *TINY, '--out', tmp_path, '--name', 'tiny', env=env)
    assert r.returncode == 0, r.stderr
    within = [l for l in r.stdout.splitlines() if l.startswith('epoch 1/2: ')]
    assert [l.split('  ')[0] for l in within] == [f'epoch 1/2: {i}/{BATCHES}' for i in range(1, BATCHES + 1)]
    assert all(' kimg  ' in l and ' img/s  ETA ' in l for l in within) and '\r' not in r.stdout
    assert 'drawing the built-in dataset: 64/64  ' in r.stdout # the dataset is drawn with progress too

def test_plain_lines_when_piped(piped):
    r,run = piped
    assert r.returncode == 0, r.stderr
    assert '\r' not in r.stdout and '█' not in r.stdout # no bar in a log file
    lines = r.stdout.splitlines()
    assert 'training 2 epochs of 4 batches of 16 images; a line after each epoch' in lines
    epoch = [l for l in lines if l.startswith('epoch ')]
    assert [l.split('  ')[0] for l in epoch] == ['epoch 1/2', 'epoch 2/2']
    assert ' 0.064 kimg  (' in epoch[0] and 'img/s, ETA ' in epoch[0] and ' 0.128 kimg  (' in epoch[1] and 'ETA' not in epoch[1]
    summary = lines[lines.index('done: 0.128 kimg seen; in ' + str(run.parent) + '/:'):]
    assert [l.split()[0] for l in summary[1:6]] == ['tiny/samples/', 'tiny/log.csv', 'tiny/losses.csv', 'tiny/tensorboard/', 'tiny/checkpoints/last.pth']
    assert summary[6] == 'next:' and [l.split()[0] for l in summary[7:] if not l.startswith(' ' * 6)] == ['artgan-sample', 'artgan-eval', 'tensorboard', 'artgan-train']
    assert f'tensorboard --logdir {run}/tensorboard' in r.stdout and f'artgan-sample {run} --out samples.png' in r.stdout

def test_kimg_in_the_log(piped):
    _,run = piped
    with open(run/'log.csv') as f: rows = list(csv.DictReader(f))
    assert [(r['epoch'], r['kimg']) for r in rows] == [('1', '0.064'), ('2', '0.128')]

def test_tensorboard_steps_are_images_seen(piped):
    _,run = piped
    ea = EventAccumulator(str(run/'tensorboard'), size_guidance={'scalars': 0, 'images': 0}).Reload()
    per_batch = [16 * (i + 1) for i in range(2 * BATCHES)]
    assert [s.step for s in ea.Scalars('batch/loss_d')] == per_batch and [s.step for s in ea.Scalars('batch/loss_g')] == per_batch
    assert [s.step for s in ea.Scalars('loss_g')] == [64, 128] and [s.value for s in ea.Scalars('epoch')] == [1, 2]
    assert [i.step for i in ea.Images('samples')] == [64, 128]

def test_evolution_gif(piped):
    _,run = piped
    gif = Image.open(run/'samples'/'evolution.gif')
    assert gif.n_frames == 2 and gif.size == (8*34 + 2, 8*34 + 2 + 14) # each epoch's whole grid below a band naming the epoch
