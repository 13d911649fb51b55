"Bad input is refused with a clear message before any work; bad files and full disks never leave a broken run."
import errno, json, os, pickle, resource, shutil, signal, subprocess, sys
from pathlib import Path

import pytest, torch
from fastai.callback.core import Callback

from conftest import cli
from artgan_nb.checkpoint import CheckpointError, atomic_save, load_checkpoint, load_gan
from artgan_nb.core import RUN_MARKER, check_options, validate, with_options
from artgan_nb.run import Config, train, resume, write_config, read_config
from artgan_nb.checkpoint import RunLock, RunLocked
from artgan_nb.callbacks.record import append_row, read_log, trim_rows

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
    out = tmp_path_factory.mktemp('runs')
    with pytest.raises(RuntimeError): train(with_options(Config(), **TINY, out=str(out)), cbs=[Stop()])
    run = out/'abstract-dcgan-32px'
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

def assert_previous_kept(ck, before):
    assert ck.read_bytes() == before and not ck.with_name(ck.name + '.tmp').exists()

def test_atomic_save_on_a_full_disk_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_save({'a': torch.ones(3)}, tmp_path/'ck.pth')
    before = path.read_bytes()
    def full(obj, f): f.write(b'half a checkpoint'); raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(torch, 'save', full)
    with pytest.raises(CheckpointError, match=f'could not write {path}: No space left on device'): atomic_save({'a': torch.zeros(10**5)}, path)
    assert_previous_kept(path, before)

def test_atomic_save_failing_at_fsync_keeps_the_previous_file(tmp_path, monkeypatch):
    path = atomic_save({'a': torch.ones(3)}, tmp_path/'ck.pth')
    before = path.read_bytes()
    def full(fd): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, 'fsync', full)
    with pytest.raises(CheckpointError, match='No space left on device'): atomic_save({'a': torch.zeros(3)}, path)
    assert_previous_kept(path, before)

def limited(max_bytes):
    "A `preexec_fn`: no file the process writes may grow past `max_bytes` (the write fails with EFBIG, as on a full disk)."
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN) # fail the write instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit

def resume_limited(run, max_bytes):
    exe = Path(sys.executable).parent/'artgan-train'
    return subprocess.run([str(exe), '--resume', str(run)], capture_output=True, text=True, timeout=600, preexec_fn=limited(max_bytes))

def test_training_on_a_full_disk_stops_with_a_clear_message(run):
    ck = run/'checkpoints'/'last.pth'
    before = ck.read_bytes()
    clean_error(resume_limited(run, len(before) // 2), f'could not write {ck}: File too large') # the samples fit, the checkpoint does not
    assert_previous_kept(ck, before)
    (run/'samples'/'epoch_0002.png').unlink() # written by the run that could not save its checkpoint
    clean_error(resume_limited(run, 4000), 'File too large') # now the TensorBoard events or the sample grid cannot be written either
    assert_previous_kept(ck, before)
    assert not (run/'.lock').exists()

def test_non_finite_weights_are_never_saved(run):
    class Poison(Callback):
        order = 90 # just before Checkpoint
        def after_epoch(self):
            p = next(self.learn.model.generator.parameters()).data
            p[(0,) * p.ndim] = float('nan') # its first element, in any memory layout
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

# --- refused before anything is written ---

@pytest.mark.parametrize('opts,message', [(['--seed', -1], 'seed must be in [0, 4294967295], got -1'),
                                          (['--seed', 2**32], 'seed must be in [0, 4294967295]'),
                                          (['--device', 'meta'], "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got 'meta'"),
                                          (['--device', 'mps'], "device 'mps' is not available here")])
def test_seed_and_device_refused_before_the_run_folder(tmp_path, opts, message):
    clean_error(cli('artgan-train', *opts, '--out', tmp_path/'runs'), message)
    assert not (tmp_path/'runs').exists()

# --- checkpoints that do not fit their model ---

def rewrite(ck_path, change):
    "Load a checkpoint, let `change(ck)` alter it, save it back (as a damaged or foreign file would be)."
    ck = load_checkpoint(ck_path)
    change(ck)
    torch.save(ck, ck_path)

def test_weights_of_the_wrong_shape_are_one_line(run):
    ck = run/'checkpoints'/'last.pth'
    def shrink(c): k = next(iter(c['generator'])); c['generator'][k] = c['generator'][k][:1]
    rewrite(ck, shrink)
    with pytest.raises(CheckpointError, match=f'{ck}: its generator weights do not fit the model its config describes \\(size mismatch for'):
        load_gan(run)
    clean_error(cli('artgan-sample', run, '--out', run/'g.png'), str(ck), 'its generator weights do not fit', 'size mismatch for')
    clean_error(cli('artgan-train', '--resume', run), str(ck), 'size mismatch for')
    assert not (run/'g.png').exists() and not (run/'.lock').exists()

def test_a_checkpoint_of_another_architecture_is_one_line(run):
    ck = run/'checkpoints'/'last.pth'
    def other(c): c['config']['model']['arch'] = 'classical'
    rewrite(ck, other)
    clean_error(cli('artgan-sample', run, '--out', run/'g.png'), f'{ck}: its', 'weights do not fit the model its config describes (Missing key(s)') # classical's D has spectral norm

def test_non_finite_weights_are_refused_on_load(run):
    ck = run/'checkpoints'/'last.pth'
    def poison(c): w = next(iter(c['discriminator'].values())); w[(0,) * w.ndim] = float('inf')
    rewrite(ck, poison)
    with pytest.raises(CheckpointError, match=f'{ck} holds non-finite \\(NaN or inf\\) weights, in discriminator'): load_checkpoint(ck)
    clean_error(cli('artgan-sample', run, '--out', run/'g.png'), f'{ck} holds non-finite (NaN or inf) weights')
    clean_error(cli('artgan-train', '--resume', run), f'{ck} holds non-finite')
    assert not (run/'g.png').exists()

NAN_AT_BATCH_6 = '''
import artgan_nb.run as run
from fastai.callback.core import Callback
class Poison(Callback):
    "The generator's weights turn NaN in the second epoch, before its discriminator step: the losses follow."
    order = -20 # before GANTrainer (-10), whose discriminator step makes the batch's fakes
    def before_batch(self):
        if self.training and self.train_iter == 5:
            for p in self.learn.model.generator.parameters(): p.data.fill_(float('nan'))
callbacks_for = run.callbacks_for
run.callbacks_for = lambda cfg, folder: callbacks_for(cfg, folder) + [Poison()]
from artgan_nb.cli import artgan_train
artgan_train()
'''

def test_a_run_stopped_by_the_nan_guard_fails_and_says_what_to_do(tmp_path):
    args = ['--n-images', 72, '--size', 32, '--bs', 16, '--nz', 16, '--width', 8, '--epochs', 2, '--device', 'cpu', '--out', tmp_path, '--name', 'nan']
    r = subprocess.run([sys.executable, '-c', NAN_AT_BATCH_6, *map(str, args)], capture_output=True, text=True, timeout=600)
    run = tmp_path/'nan'
    clean_error(r, 'error: NaNGuard stopped the run: epoch 2, batch 2: non-finite', 'its last checkpoint is kept',
                f'artgan-train --resume {run} --on-nan rollback', 'lower learning rates (--lr-g, --lr-d)')
    assert r.returncode == 1 and load_checkpoint(run/'checkpoints'/'last.pth')['epoch'] == 1 and not (run/'.lock').exists()

# --- the run folder is the user's, but only the run folder ---

def test_a_run_folder_holds_its_marker(stopped):
    assert (stopped/RUN_MARKER).is_file()

@pytest.mark.parametrize('entry', ['log.csv', '.lock', 'samples', 'checkpoints/last.pth.tmp'])
def test_resume_refuses_links_to_outside_the_run_folder(run, tmp_path, entry):
    "A resumed run would write through them: refused, and the files outside are untouched."
    outside = tmp_path/'precious'
    if entry == 'samples': shutil.rmtree(run/entry); outside.mkdir(); (outside/'keep.png').write_bytes(b'mine')
    else: (run/entry).unlink(missing_ok=True); outside.write_text('mine')
    (run/entry).symlink_to(outside)
    before = sorted((p.name, p.read_bytes()) for p in ([outside] if outside.is_file() else outside.iterdir()))
    with pytest.raises(ValueError, match=f'refusing to write into {run}: {run/entry} is a symbolic link to {outside}, outside the run folder'):
        resume(run)
    clean_error(cli('artgan-train', '--resume', run), 'is a symbolic link to', 'outside the run folder')
    assert sorted((p.name, p.read_bytes()) for p in ([outside] if outside.is_file() else outside.iterdir())) == before

def test_run_files_are_written_without_following_links(run, tmp_path):
    "Links inside the run folder (allowed) are replaced when the run writes there, not written through."
    (run/'config.json').rename(run/'config.copy.json')
    (run/'config.json').symlink_to('config.copy.json')
    (run/'log.csv').rename(run/'log.copy.csv')
    (run/'log.csv').symlink_to('log.copy.csv')
    before = (run/'config.copy.json').read_text(),(run/'log.copy.csv').read_text()
    write_config(read_config(run/'config.json'), run, 'cpu', 1)
    trim_rows(run/"log.csv", 0)
    assert not (run/'config.json').is_symlink() and not (run/'log.csv').is_symlink()
    assert ((run/'config.copy.json').read_text(),(run/'log.copy.csv').read_text()) == before
    assert (run/'log.csv').read_text().count('\n') == 1 # the header only

def test_logs_are_appended_without_following_links(tmp_path):
    "A log.csv that is a link is replaced by a file of its own when a row is added; the file it pointed to is untouched."
    outside = tmp_path/'precious.csv'; outside.write_bytes(b'epoch,loss_d\r\n1,0.5\r\n')
    (tmp_path/'run').mkdir(); (tmp_path/'run'/'log.csv').symlink_to(outside)
    rows = append_row(tmp_path/'run'/'log.csv', {'epoch': 2, 'loss_d': 0.25})
    assert outside.read_bytes() == b'epoch,loss_d\r\n1,0.5\r\n' and not (tmp_path/'run'/'log.csv').is_symlink()
    assert [r['epoch'] for r in read_log(tmp_path/'run'/'log.csv')] == ['1', '2'] and len(rows) == 2
