"Exact resumption: a run that stops (an error, or kill -9) and is resumed ends exactly like one that never stopped."
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest, torch
from fastai.callback.core import Callback
from PIL import Image

from conftest import cli
from artgan_nb.checkpoint import load_checkpoint
from artgan_nb.callbacks.record import read_log
from artgan_nb.core import with_options
from artgan_nb.grow import grow_level
from artgan_nb.data.collection import DataError
from artgan_nb.run import Config, train, resume, read_config

TINY = dict(n_images=72, size=32, bs=16, nz=16, width=8, epochs=3, device='cpu') # 4 batches per epoch

class Crash(Callback):
    "Stop with an error after `n` batches, as a crash would."
    order = 200
    def __init__(self, n): self.n = n
    def after_batch(self):
        if self.train_iter == self.n: raise RuntimeError('simulated crash')

def place(run):
    "(epoch, batch) where the run's last checkpoint was written."
    ck = load_checkpoint(Path(run)/'checkpoints'/'last.pth')
    return ck['epoch'],ck['batch']

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
    assert ra == rb and len(ra) == ea[0] # a row per epoch

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

def test_progressive_resumes_exactly_mid_fade(tmp_path):
    "Progressive growing resumed in the middle of a fade-in: the level is a function of the images seen, nothing else."
    opts = dict(TINY, progressive=0.04, save_every_batches=3) # phases of 2.5 batches: 32 px fades in at batches 8 and 9
    _,whole = train(with_options(Config(), **opts, out=str(tmp_path/'whole')))
    with pytest.raises(RuntimeError, match='simulated crash'):
        train(with_options(Config(), **opts, out=str(tmp_path/'crash')), cbs=[Crash(10)])
    run = tmp_path/'crash'/'abstract-dcgan-32px'
    assert place(run) == (2, 1) # 9 batches trained: the next one, the 10th, is in the middle of the fade-in
    assert grow_level(9 * 16 / 1000, 0.04, 3) == pytest.approx(1.6)
    assert load_checkpoint(run/'checkpoints'/'last.pth')['generator']['level'].item() == pytest.approx(1.2)
    resume(run)
    assert_same(whole, run) # the weights, the moving average's, both optimizers' moments and the levels

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

def test_resume_of_a_finished_run_needs_a_new_total(whole):
    "Without --epochs, a finished run is refused with the command that extends it, and nothing changes."
    before = states(whole)
    with pytest.raises(ValueError, match=f"{whole} has finished its 3 epochs; to train on, give a new total: artgan-train --resume {whole} --epochs N"):
        resume(whole)
    r = cli('artgan-train', '--resume', whole)
    assert r.returncode == 1 and 'has finished its 3 epochs' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    r = cli('artgan-train', '--resume', whole, '--epochs', 3)
    assert r.returncode == 1 and '--epochs must be more than 3, got 3' in r.stderr, r.stderr
    after = states(whole)
    assert before[1:] == after[1:] and all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert not (whole/'.lock').exists()

def test_extend_a_finished_run_is_exact(whole, tmp_path):
    "A finished 2-epoch run continued to 3 epochs (`--resume RUN --epochs 3`) ends as the 3-epoch run, bit for bit."
    _,run = train(with_options(Config(), **{**TINY, 'epochs': 2}, save_every_batches=3, out=str(tmp_path)))
    r = cli('artgan-train', '--resume', run, '--epochs', 3)
    assert r.returncode == 0, r.stderr
    assert f'resuming {run} after 2 epochs of 3; no time limit' in r.stdout
    assert_same(whole, run)
    assert read_config(run/'config.json').train.epochs == 3 # config.json follows the checkpoint

def test_resume_refuses_other_options(whole):
    r = cli('artgan-train', '--resume', whole, '--size', 128)
    assert r.returncode != 0 and '--size' in r.stderr and 'Traceback' not in r.stderr

def test_a_run_algorithm_1_ended_goes_on_without_it(whole, tmp_path):
    "Stopped by Algorithm 1 at its second batch, resumed with `--early-stop-eps 0`: it ends as one without the rule."
    learn,run = train(with_options(Config(), **TINY, save_every_batches=3, early_stop_eps=1e9, out=str(tmp_path)))
    assert learn.train_iter == 2 and place(run) == (0, 2)
    r = cli('artgan-train', '--resume', run, '--early-stop-eps', 0)
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    assert read_config(run/'config.json').run.early_stop_eps == 0
    assert_same(whole, run)

ARGS = ['--size', 32, '--bs', 16, '--n-images', 200, '--epochs', 8, '--nz', 16, '--width', 8, '--device', 'cpu',
        '--save-every-batches', 1] # a checkpoint after each of the 11 batches of each epoch

def start(*args, out):
    exe = Path(sys.executable).parent/'artgan-train'
    return subprocess.Popen([str(exe), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out)

def stamp(f):
    "(inode, modification time) of `f`, which each checkpoint renamed into its place changes; None while there is none."
    try: st = os.stat(f)
    except FileNotFoundError: return None
    return st.st_ino,st.st_mtime_ns

def kill_after(proc, run, at:tuple, since:tuple):
    "SIGKILL `proc` once it has checkpointed `run` at (epoch, batch) `at` or later and after `since`; return its place."
    deadline,done,seen,ckpt = time.monotonic() + 600,(-1, 0),None,run/'checkpoints'/'last.pth'
    while not (at <= done and since < done): # the events: the run's checkpoints, each read once it is in place
        assert proc.poll() is None, f'the run ended before {at}: ' + proc.stdout.read()
        assert time.monotonic() < deadline, f'no checkpoint at {at} or later in 10 minutes'
        if (new := stamp(ckpt)) != seen: seen,done = new,place(run)
        else: time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return place(run)

def test_kill_9_then_resume_is_exact(tmp_path):
    "kill -9 of a run, then of its resumption twice, each once it has checkpointed a given batch: the end is exact."
    r = cli('artgan-train', *ARGS, '--out', tmp_path, '--name', 'whole')
    assert r.returncode == 0, r.stderr
    run,points = tmp_path/'killed',[(-1, 0)]
    for i,at in enumerate([(0, 5), (2, 8), (5, 0)]): # 33 batches or more before the end of 8 epochs
        args = ['--resume', run] if i else [*ARGS, '--out', tmp_path, '--name', 'killed']
        proc = start(*args, out=tmp_path)
        points.append(kill_after(proc, run, at, since=points[-1])) # a resumed run is killed once it has made progress
    assert (run/'.lock').exists() # left behind by kill -9
    r = cli('artgan-train', '--resume', run)
    assert r.returncode == 0, r.stderr
    assert 'taking over the lock of a stopped run' in r.stdout
    (ta,ra,ea),(tb,rb,eb) = states(tmp_path/'whole'),states(run)
    assert ea == eb == (8, 0) and ra == rb and len(ra) == 8
    assert [k for k in ta if not torch.equal(ta[k], tb[k])] == []
    print('killed after (epochs, batches):', points[1:])

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

# --- stopping on a signal ---

SIGNAL_ARGS = ['--n-images', 72, '--size', 32, '--bs', 16, '--nz', 16, '--width', 8, '--device', 'cpu', '--save-every-batches', 1,
               '--epochs', 10000] # as TINY, but far too long to end before the signal

def lines_until(proc, start:str):
    "The lines `proc` prints up to the first that begins with `start`, which they end with: an event, not a delay."
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(start): return lines
    raise AssertionError(f'the run ended without a line beginning with {start!r}:\n' + ''.join(lines))

@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_with_a_checkpoint_and_the_resume_command(whole, tmp_path, signum):
    "Ctrl-C or kill: a checkpoint, a free lock, one line with the command, status 128 + signal; resuming it is exact."
    run = tmp_path/'stopped'
    proc = start(*SIGNAL_ARGS, '--out', tmp_path, '--name', 'stopped', out=tmp_path)
    head = lines_until(proc, 'training ') # printed as the fit starts, with the run's signal handlers in place
    proc.send_signal(signum)
    out = ''.join(head) + proc.communicate(timeout=600)[0]
    assert proc.returncode == 128 + signum, out
    assert 'Traceback' not in out and out.strip().splitlines()[-1].endswith(f'checkpoint written; continue with: artgan-train --resume {run}'), out
    assert sum('continue with' in l for l in out.splitlines()) == 1
    assert not (run/'.lock').exists()
    epochs = max(3, load_checkpoint(run/'checkpoints'/'last.pth', resume=True)['epoch'] + 1) # 3 unless it stopped late
    r = cli('artgan-train', '--resume', run, '--epochs', epochs)
    assert r.returncode == 0, r.stderr
    base = whole if epochs == 3 else train(with_options(Config(), **{**TINY, 'epochs': epochs}, out=str(tmp_path)))[1]
    assert_same(base, run)

class Interrupt(Callback):
    "Ctrl-C, for real, after `n` batches."
    def __init__(self, n): self.n = n
    def after_batch(self):
        if self.train_iter == self.n: os.kill(os.getpid(), signal.SIGINT)

def test_ctrl_c_in_python_stops_with_a_checkpoint(tmp_path):
    "In Python (a notebook), Ctrl-C is a `KeyboardInterrupt` raised after the checkpoint is written and the lock released."
    before = signal.getsignal(signal.SIGINT) # Python's default, or SIG_IGN where the tests were started in the background
    with pytest.raises(KeyboardInterrupt, match='stopped by SIGINT after epoch 0 and 2 batches, checkpoint written'):
        train(with_options(Config(), **TINY, out=str(tmp_path)), cbs=[Interrupt(2)])
    run = tmp_path/'abstract-dcgan-32px'
    ck = load_checkpoint(run/'checkpoints'/'last.pth', resume=True)
    assert (ck['epoch'], ck['batch']) == (0, 2) and not (run/'.lock').exists()
    assert signal.getsignal(signal.SIGINT) is before # put back

# --- starting from another run ---

class FirstWeights(Callback):
    "The generator's and the moving average's weights when the fit begins."
    def before_fit(self):
        self.g = {k: v.clone() for k,v in self.learn.model.generator.state_dict().items()}
        self.ema = {k: v.clone() for k,v in self.learn.gan_trainer.ema.model.state_dict().items()}

def test_init_from_starts_from_the_other_runs_weights(whole, tmp_path):
    first = FirstWeights()
    _,run = train(with_options(Config(), **{**TINY, 'epochs': 1}, ema=0.9, init_from=str(whole), out=str(tmp_path)), cbs=[first])
    ck = load_checkpoint(whole/'checkpoints'/'last.pth')
    src,src_ema = ck['generator'],ck.get('ema', ck['generator']) # G, and its moving average where the run kept one
    assert all(torch.equal(first.g[k], src[k]) for k in src) and all(torch.equal(first.ema[k], src_ema[k]) for k in src)
    assert read_config(run/'config.json').run.init_from == str(whole.resolve())
    r = cli('artgan-train', '--init-from', whole, '--width', 16, '--size', 32, '--nz', 16, '--out', tmp_path/'other')
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert f"cannot start from {whole/'checkpoints'/'last.pth'}: its model differs in width 8 (this run: 16)" in r.stderr
    assert not (tmp_path/'other').exists()
    r = cli('artgan-train', '--init-from', tmp_path/'nothing', '--out', tmp_path/'other')
    assert r.returncode == 1 and 'no checkpoint at' in r.stderr and not (tmp_path/'other').exists(), r.stderr

# --- runs whose data changed ---

def paint(path, colour, size=40):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (size, size), colour).save(path)

def make_collection(root, classes:dict):
    "A folder of plain-coloured PNGs, one subfolder per class: {name: count}."
    for c,(name,n) in enumerate(classes.items()):
        for i in range(n): paint(root/name/f'{i}.png', (40 * c + 3 * i, 255 - 5 * i, 7 * i))
    return root

def test_resume_after_the_data_or_config_changed(tmp_path):
    data = make_collection(tmp_path/'art', {'a': 12, 'b': 12})
    cfg = with_options(Config(), data=str(data), size=32, bs=8, nz=16, width=8, epochs=2, device='cpu', workers=0,
                       cache=str(tmp_path/'cache'), on_collapse='off', out=str(tmp_path/'runs')) # 3 batches per epoch
    with pytest.raises(RuntimeError, match='simulated crash'): train(cfg, cbs=[Crash(4)])
    run = tmp_path/'runs'/'art-dcgan-32px'
    ident = load_checkpoint(run/'checkpoints'/'last.pth')['data']
    assert (ident['images'], ident['classes']) == (24, ['a', 'b']) and ident['cache'].startswith('art-')
    paint(data/'a'/'0.png', (255, 0, 255)) # one image replaced
    with pytest.raises(DataError, match=f"the data of {run} changed since its checkpoint: its files were added, removed or modified"):
        resume(run)
    r = cli('artgan-train', '--resume', run)
    assert r.returncode == 1 and 'pass --allow-data-change' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    edited = (run/'config.json').read_text().replace('"lr_g": 0.0002', '"lr_g": 0.1')
    (run/'config.json').write_text(edited)
    with pytest.warns(UserWarning) as w: resume(run, allow_data_change=True)
    said = [str(m.message) for m in w]
    assert any('config.json was edited (lr_g 0.1 there, 0.0002 in the checkpoint)' in m for m in said), said
    assert any('continuing on the new data' in m for m in said), said
    assert read_config(run/'config.json').train.lr_g == 0.0002 # rewritten from the checkpoint
    make_collection(data, {'c': 8}) # a class added: never allowed
    r = cli('artgan-train', '--resume', run, '--epochs', 3, '--allow-data-change')
    assert r.returncode == 1 and '2 classes' not in r.stderr and 'a run cannot change its number of classes' in r.stderr, r.stderr
    assert 'classes a, b then, a, b, c now' in r.stderr
    data.rename(tmp_path/'moved')
    r = cli('artgan-train', '--resume', run, '--epochs', 3)
    assert r.returncode == 1 and f'the data folder of {run} is missing: {data.resolve()}' in r.stderr, r.stderr
    assert not (run/'.lock').exists()

def test_time_limit_ends_with_a_checkpoint_and_resumes(tmp_path, capsys):
    "No time left: each start trains one batch, writes a checkpoint, and ends normally, saying where it stopped."
    _,run = train(with_options(Config(), **TINY, minutes=1e-9, out=str(tmp_path)))
    assert 'minutes up in epoch 1/3, after 1 batch; checkpoint written' in capsys.readouterr().out # as the bar says
    assert place(run) == (0, 1)
    assert [r['iteration'] for r in read_log(run/'losses.csv')] == ['1'] and [r['kimg'] for r in read_log(run/'log.csv')] == ['0.016']
    assert sorted(f.name for f in (run/'samples').iterdir()) == ['evolution.gif', 'evolution.png', 'images_000000016.png']
    resume(run)
    out = capsys.readouterr().out
    assert place(run) == (0, 2) and 'minutes up in epoch 1/3, after 2 batches' in out
    assert f'resuming {run} after 0 epochs and 1 batch of 3; at most 1e-09 minutes more (its --minutes)' in out
    assert [r['iteration'] for r in read_log(run/'losses.csv')] == ['1', '2'] and [r['kimg'] for r in read_log(run/'log.csv')] == ['0.032']
    assert Image.open(run/'samples'/'evolution.gif').n_frames == 2 # the grid of each stop, in order
