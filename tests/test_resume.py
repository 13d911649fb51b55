"Exact resumption: a run that stops (an error, or kill -9) and is resumed ends exactly like one that never stopped."
import os, random, signal, subprocess, sys, time
from pathlib import Path

import pytest, torch
from fastai.callback.core import Callback

from conftest import cli
from artgan_nb.callbacks.checkpoint import load_checkpoint
from artgan_nb.callbacks.record import read_log
from artgan_nb.core import with_options
from artgan_nb.run import Config, train, resume

TINY = dict(n_images=72, size=32, bs=16, nz=16, width=8, epochs=3, device='cpu') # 4 batches per epoch

class Crash(Callback):
    "Stop with an error after `n` batches, as a crash would."
    order = 200
    def __init__(self, n): self.n = n
    def after_batch(self):
        if self.train_iter == self.n: raise RuntimeError('simulated crash')

def states(run):
    "Everything that must match at the end: weights, optimizer moments, the epochs' statistics."
    ck = load_checkpoint(Path(run)/'checkpoints'/'last.pth')
    tensors = {f'{net}.{k}': v for net in ('generator', 'discriminator', 'ema') if net in ck for k,v in ck[net].items()}
    for opt in ('opt_g', 'opt_d'):
        for i,s in ck[opt]['state'].items(): tensors.update({f'{opt}.{i}.{k}': v for k,v in s.items()})
    rows = [{k: v for k,v in r.items() if k not in ('seconds', 'images_per_s')} for r in read_log(Path(run)/'log.csv')]
    return tensors,rows,(ck['epoch'], ck['batch'])

def assert_same(run_a, run_b):
    (ta,ra,ea),(tb,rb,eb) = states(run_a),states(run_b)
    assert ea == eb and ta.keys() == tb.keys()
    assert [k for k in ta if not torch.equal(ta[k], tb[k])] == []
    assert ra == rb and len(ra) == TINY['epochs']

@pytest.fixture(scope='module')
def whole(tmp_path_factory):
    "An uninterrupted run."
    _,run = train(with_options(Config(), **TINY, save_every_batches=3, out=str(tmp_path_factory.mktemp('whole'))))
    return run

@pytest.mark.parametrize('stop,where', [(7, (1, 2)), (5, (1, 0)), (10, (2, 1))]) # mid-epoch, epoch boundary, first batch of the last epoch
def test_crash_then_resume_is_exact(whole, tmp_path, stop, where):
    cfg = with_options(Config(), **TINY, save_every_batches=3, out=str(tmp_path))
    with pytest.raises(RuntimeError, match='simulated crash'): train(cfg, cbs=[Crash(stop)])
    run = tmp_path/'abstract-dcgan-32px'
    ck = load_checkpoint(run/'checkpoints'/'last.pth')
    assert (ck['epoch'], ck['batch']) == where
    resume(run)
    assert_same(whole, run)
    assert not (run/'.lock').exists()

EVERYTHING = dict(cond=True, ema=0.9, diffaug='color,translation,cutout', flip=0.5, jitter=0.5, adaptive_lr=True,
                  early_stop=5, label_smoothing=0.1, r1=1.0, instance_noise=0.05, on_nan='rollback', on_collapse='rollback')

def test_resume_is_exact_with_every_option(tmp_path):
    "Random augmentations, the moving average, adaptive learning rates and the monitors' states all resume exactly."
    _,whole = train(with_options(Config(), **TINY, **EVERYTHING, save_every_batches=3, out=str(tmp_path/'whole')))
    cfg = with_options(Config(), **TINY, **EVERYTHING, save_every_batches=3, out=str(tmp_path/'crash'))
    with pytest.raises(RuntimeError, match='simulated crash'): train(cfg, cbs=[Crash(7)])
    run = tmp_path/'crash'/'abstract-dcgan-32px'
    resume(run)
    assert_same(whole, run) # the moving average's weights included

def test_every_second_epoch_and_the_last(whole, tmp_path):
    "Checkpoints after epochs 2 and 3 only; saving less often changes nothing in the training itself."
    cfg = with_options(Config(), **TINY, save_every=2, out=str(tmp_path))
    with pytest.raises(RuntimeError, match='simulated crash'): train(cfg, cbs=[Crash(11)])
    run = tmp_path/'abstract-dcgan-32px'
    ck = load_checkpoint(run/'checkpoints'/'last.pth')
    assert (ck['epoch'], ck['batch']) == (2, 0) and len(read_log(run/'log.csv')) == 2
    resume(run)
    assert_same(whole, run)

def test_ema_is_saved_and_restored(tmp_path):
    cfg = with_options(Config(), **TINY, ema=0.9, save_every_batches=3, out=str(tmp_path))
    whole,_ = train(cfg)
    with pytest.raises(RuntimeError, match='simulated crash'): train(cfg, cbs=[Crash(7)])
    run = tmp_path/'abstract-dcgan-32px-2'
    assert 'ema' in load_checkpoint(run/'checkpoints'/'last.pth')
    resumed,_ = resume(run)
    a,b = whole.gan_trainer.ema.model.state_dict(),resumed.gan_trainer.ema.model.state_dict()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    g = whole.model.generator.state_dict()
    assert any(not torch.equal(a[k], g[k]) for k in a) # the average is not G itself

def test_resume_of_a_finished_run_changes_nothing(whole, capsys):
    before = states(whole)
    resume(whole)
    assert 'after 3 epochs of 3' in capsys.readouterr().out
    after = states(whole)
    assert before[1:] == after[1:] and all(torch.equal(before[0][k], after[0][k]) for k in before[0])

def test_resume_refuses_other_options(whole):
    r = cli('artgan-train', '--resume', whole, '--size', 128)
    assert r.returncode != 0 and '--size' in r.stderr and 'Traceback' not in r.stderr

ARGS = ['--size', 32, '--bs', 16, '--n-images', 200, '--epochs', 8, '--nz', 16, '--width', 8, '--device', 'cpu',
        '--save-every-batches', 1] # 11 batches per epoch: about 3 s of training on a busy CPU

def start(*args, out):
    exe = Path(sys.executable).parent/'artgan-train'
    return subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out)

def kill_at_random(proc, ckpt, wait):
    "SIGKILL `proc` `wait` seconds after its first checkpoint exists; True if it was still running."
    while not ckpt.exists() and proc.poll() is None: time.sleep(0.02)
    time.sleep(wait)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running

def test_kill_9_then_resume_is_exact(tmp_path):
    r = cli('artgan-train', *ARGS, '--out', tmp_path, '--name', 'whole')
    assert r.returncode == 0, r.stderr
    span = sum(float(r['seconds']) for r in read_log(tmp_path/'whole'/'log.csv')) # the training time, whatever the machine
    run,rng,points = tmp_path/'killed',random.Random(0),[]
    ckpt = run/'checkpoints'/'last.pth'
    proc = start(*ARGS, '--out', tmp_path, '--name', 'killed', out=tmp_path)
    for i in range(3): # kill the first run, then its resumption twice, each at a random moment
        if i:
            mtime = ckpt.stat().st_mtime_ns
            proc = start('--resume', run, out=tmp_path)
            while ckpt.stat().st_mtime_ns == mtime and proc.poll() is None: time.sleep(0.02) # it has made progress
        if kill_at_random(proc, ckpt, rng.uniform(0.03, 0.25) * span):
            ck = load_checkpoint(ckpt)
            points.append((ck['epoch'], ck['batch']))
    assert len(set(points)) >= 2, f'the runs finished before they could be killed twice ({points}): make them longer'
    assert (run/'.lock').exists() # left behind by kill -9
    r = cli('artgan-train', '--resume', run)
    assert r.returncode == 0, r.stderr
    assert 'taking over the lock of a stopped run' in r.stdout
    (ta,ra,ea),(tb,rb,eb) = states(tmp_path/'whole'),states(run)
    assert ea == eb == (8, 0) and ra == rb and len(ra) == 8
    assert [k for k in ta if not torch.equal(ta[k], tb[k])] == []
    print('killed after (epochs, batches):', points)

HANG_IN_WRITE = '''
import os, sys, time
from pathlib import Path
flag,nth,out = Path(sys.argv[1]),int(sys.argv[2]),sys.argv[3]
real_fsync,writes = os.fsync,[0]
def fsync(fd):
    "The nth checkpoint write hangs after its data is written and before its rename: the moment to kill."
    if os.readlink(f'/proc/self/fd/{fd}').endswith('last.pth.tmp'):
        writes[0] += 1
        if writes[0] == nth: flag.touch(); time.sleep(600)
    real_fsync(fd)
os.fsync = fsync
from artgan_nb.run import train
train(n_images=72, size=32, bs=16, nz=16, width=8, epochs=3, device='cpu', save_every_batches=3, out=out, name='killed')
'''

@pytest.mark.parametrize('nth,previous', [(2, (0, 3)), (4, (1, 2))]) # 2nd write: mid-epoch; 4th: the end of epoch 2
def test_kill_9_during_a_checkpoint_write(whole, tmp_path, nth, previous):
    "A kill in the middle of writing a checkpoint leaves the previous one complete, and the resumed run is exact."
    script,flag = tmp_path/'hang.py',tmp_path/'writing'
    script.write_text(HANG_IN_WRITE)
    proc = subprocess.Popen([sys.executable, str(script), str(flag), str(nth), str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not flag.exists() and proc.poll() is None and time.time() < deadline: time.sleep(0.02)
    assert flag.exists(), proc.communicate()[0]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = tmp_path/'killed'
    assert (run/'checkpoints'/'last.pth.tmp').exists() # the interrupted write
    ck = load_checkpoint(run/'checkpoints'/'last.pth')
    assert (ck['epoch'], ck['batch']) == previous
    resume(run)
    assert_same(whole, run)
    assert not (run/'checkpoints'/'last.pth.tmp').exists() # the next write replaced it
