"Bad input is refused with a clear message before any work; bad files and full disks never leave a broken run."
import errno, os, pickle, shutil
from pathlib import Path

import pytest, torch
from fastai.callback.core import Callback

from conftest import cli
from artgan_nb.callbacks.checkpoint import CheckpointError, atomic_save, load_checkpoint
from artgan_nb.core import check_options, validate, with_options
from artgan_nb.run import Config, train, resume, RunLock, RunLocked

TINY = dict(n_images=72, size=32, bs=16, nz=16, width=8, epochs=2, device='cpu') # 4 batches per epoch

def clean_error(r, *words):
    "The command failed with a one-line message holding `words`, not a traceback."
    assert r.returncode != 0 and 'Traceback' not in r.stderr, r.stderr
    for w in words: assert w in r.stderr, r.stderr

# --- options out of range ---

BAD = [(dict(size=48), 'size must be one of 32, 64, 128, 256, got 48'), (dict(size=-64), 'got -64'), (dict(size=512), 'got 512'),
       (dict(bs=0), 'bs must be at least 1, got 0'), (dict(bs=-4), 'bs must be at least 1'),
       (dict(arch='vae'), "arch must be one of dcgan"), (dict(loss='l7'), "loss must be one of bce"),
       (dict(lr_g=0), 'lr_g must be greater than 0, got 0'), (dict(lr_d=-1e-3), 'lr_d must be greater than 0'),
       (dict(epochs=0), 'epochs must be at least 1, got 0'), (dict(n_dis=0), 'n_dis must be at least 1'),
       (dict(label_smoothing=0.5), 'label_smoothing must be in [0, 0.5)'), (dict(label_smoothing=-0.1), 'label_smoothing'),
       (dict(ema=1.0), 'ema must be in [0, 1)'), (dict(ema=-0.5), 'ema must be in [0, 1)'),
       (dict(data='/no/such/folder'), 'there is no folder /no/such/folder'), (dict(device='gpu'), "device must be 'auto', 'cpu'"),
       (dict(fit='zoom'), "fit must be one of crop, pad, stretch, got 'zoom'"), (dict(norm='z'), 'norm must be one of tanh'),
       (dict(diffaug='color,blur'), "diffaug must be 'none' or comma-separated names from"), (dict(flip=1.5), 'flip must be in [0, 1]'),
       (dict(on_nan='ignore'), 'on_nan must be one of stop, rollback'), (dict(on_collapse='panic'), 'on_collapse must be one of'),
       (dict(attn=5), 'no 5px feature map for self-attention'), (dict(loss='hinge', label_smoothing=0.1), 'label smoothing applies to')]

@pytest.mark.parametrize('opts,message', BAD)
def test_config_refuses(opts, message):
    assert any(message in m for m in check_options(with_options(Config(), **opts)))
    with pytest.raises(ValueError, match='invalid options'): validate(with_options(Config(), **opts))

def test_cli_refuses_before_any_work(tmp_path):
    r = cli('artgan-train', '--size', 48, '--bs', 0, '--arch', 'vae', '--lr-g', 0, '--epochs', 0, '--n-dis', 0,
            '--label-smoothing', 0.7, '--ema', 1, '--out', tmp_path/'runs')
    clean_error(r, 'size must be one of 32, 64, 128, 256, got 48', 'bs must be at least 1', "arch must be one of", 'lr_g must be greater than 0',
                'epochs must be at least 1', 'n_dis must be at least 1', 'label_smoothing must be in [0, 0.5), got 0.7', 'ema must be in [0, 1)')
    assert not (tmp_path/'runs').exists()

# --- checkpoints that are not what they claim ---

class Evil:
    "Unpickling this creates a file: what a checkpoint crafted to run code would do."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (open, (self.path, 'w'))

@pytest.fixture(scope='module')
def stopped(tmp_path_factory):
    "A run stopped after the first of its two epochs."
    class Stop(Callback):
        order = 200
        def after_batch(self):
            if self.train_iter == 5: raise RuntimeError('stop')
    with pytest.raises(RuntimeError): train(with_options(Config(), **TINY, out=str(tmp_path_factory.mktemp('runs'))), cbs=[Stop()])
    run = tmp_path_factory.getbasetemp()/'runs0'/'abstract-dcgan-32px'
    assert load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1
    return run

@pytest.fixture
def run(stopped, tmp_path):
    "A copy of the stopped run to damage."
    return Path(shutil.copytree(stopped, tmp_path/'run'))

@pytest.mark.parametrize('how', ['torch.save', 'pickle'])
def test_checkpoint_that_runs_code_is_refused(tmp_path, how):
    bad,target = tmp_path/'evil.pth',tmp_path/'pwned'
    obj = {'generator': Evil(target), 'discriminator': {}, 'config': {}}
    if how == 'torch.save': torch.save(obj, bad)
    else: bad.write_bytes(pickle.dumps(obj))
    with pytest.raises(CheckpointError, match=f'refusing to load {bad}'): load_checkpoint(bad)
    assert not target.exists()
    clean_error(cli('artgan-sample', bad, '--out', tmp_path/'g.png'), f'refusing to load {bad}', 'could run code')
    assert not target.exists()

@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'empty', 'not ours'])
def test_damaged_checkpoint_is_a_clear_error(run, damage):
    ck = run/'checkpoints'/'last.pth'
    data = ck.read_bytes()
    if damage == 'truncated': ck.write_bytes(data[:len(data) // 2])
    if damage == 'garbage': ck.write_bytes(b'\x00not a checkpoint' * 100)
    if damage == 'empty': ck.write_bytes(b'')
    if damage == 'not ours': torch.save({'weights': torch.zeros(3)}, ck)
    with pytest.raises(CheckpointError, match=str(ck)): load_checkpoint(ck)
    if damage == 'truncated':
        clean_error(cli('artgan-sample', run, '--out', run/'g.png'), str(ck), 'truncated or corrupted')
        clean_error(cli('artgan-train', '--resume', run), str(ck), 'truncated or corrupted')

def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match='no checkpoint at'): load_checkpoint(tmp_path/'none.pth')
    clean_error(cli('artgan-train', '--resume', tmp_path/'nope'), 'no run folder at')

# --- full disk ---

needs_dev_full = pytest.mark.skipif(not os.path.exists('/dev/full'), reason='/dev/full (a device whose writes fail with ENOSPC) is not available')

def assert_previous_kept(ck, before):
    assert ck.read_bytes() == before and not ck.with_name(ck.name + '.tmp').exists()

@needs_dev_full
def test_atomic_save_on_a_full_disk_keeps_the_previous_file(tmp_path):
    path = atomic_save({'a': torch.ones(3)}, tmp_path/'ck.pth')
    before = path.read_bytes()
    path.with_name('ck.pth.tmp').symlink_to('/dev/full') # the write really fails with ENOSPC
    with pytest.raises(CheckpointError, match=f'could not write {path}: No space left on device'): atomic_save({'a': torch.zeros(10**5)}, path)
    assert_previous_kept(path, before)

def test_atomic_save_failing_at_fsync_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_save({'a': torch.ones(3)}, tmp_path/'ck.pth')
    before = path.read_bytes()
    def full(fd): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(CheckpointError, match='No space left on device'): atomic_save({'a': torch.zeros(3)}, path)
    assert_previous_kept(path, before)

@needs_dev_full
def test_training_on_a_full_disk_stops_with_a_clear_message(run):
    ck = run/'checkpoints'/'last.pth'
    before = ck.read_bytes()
    ck.with_name('last.pth.tmp').symlink_to('/dev/full')
    clean_error(cli('artgan-train', '--resume', run), f'could not write {ck}: No space left on device')
    assert_previous_kept(ck, before)
    (run/'samples'/'epoch_0002.png').unlink() # written by the run that could not save its checkpoint
    (run/'samples'/'epoch_0002.png').symlink_to('/dev/full') # now the sample grid cannot be written either
    clean_error(cli('artgan-train', '--resume', run), 'SampleLogger', 'No space left on device')
    assert_previous_kept(ck, before)
    assert not (run/'.lock').exists()

def test_non_finite_weights_are_never_saved(run):
    class Poison(Callback):
        order = 90 # just before Checkpoint
        def after_epoch(self): next(self.learn.model.generator.parameters()).data.view(-1)[0] = float('nan')
    ck = run/'checkpoints'/'last.pth'
    before = ck.read_bytes()
    with pytest.raises(CheckpointError, match=r"refusing to save .*non-finite.*generator"): resume(run, cbs=[Poison()])
    assert_previous_kept(ck, before)

# --- one process per run folder ---

def test_second_process_on_a_run_folder_is_refused(run):
    with RunLock(run):
        with pytest.raises(RunLocked, match=f'process {os.getpid()} on'): RunLock(run).__enter__()
        clean_error(cli('artgan-train', '--resume', run), f'run folder {run} is in use by process {os.getpid()}')
    assert not (run/'.lock').exists()

def test_stale_lock_is_taken_over(run, capsys):
    (run/'.lock').write_text('process 4000000 on somewhere\n') # left by a process that died
    with RunLock(run): assert 'taking over the lock of a stopped run (process 4000000 on somewhere)' in capsys.readouterr().out

def test_checkpoint_without_training_state_cannot_be_resumed(run):
    ck = run/'checkpoints'/'last.pth'
    full = load_checkpoint(ck)
    torch.save({k: full[k] for k in ('generator', 'discriminator', 'config', 'epoch')}, ck) # as older versions wrote them
    with pytest.raises(CheckpointError, match=f'{ck} cannot be resumed: it lacks opt_g'): resume(run)
    assert not (run/'.lock').exists()
