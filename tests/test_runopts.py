"The run options of issue 12: Algorithm 1's stop, kept checkpoints, chosen evolution epochs, AdaptiveLR's knobs, the per-iteration loss log."
import pytest, torch
from fastai.callback.core import Callback
from PIL import Image

from conftest import cli
from test_resume import TINY, Crash, states, assert_same, whole
from artgan_nb.checkpoint import load_checkpoint
from artgan_nb.callbacks.record import read_log
from artgan_nb.core import with_options
from artgan_nb.callbacks.guards import EarlyStop
from artgan_nb.run import Config, train, resume

NEW = dict(early_stop_eps=1e-9, keep_every=2, evolution_epochs='1,3,7', adaptive_lr=True, alr_threshold=0.5, alr_window=2,
           alr_cooldown=1, alr_nets='g', save_every_batches=3)

def test_resume_is_exact_with_the_new_options(tmp_path):
    "A run with every new option, crashed within an epoch and resumed, ends as the run never stopped: weights, logs, callback states."
    _,whole = train(with_options(Config(), **TINY, **NEW, out=str(tmp_path/'whole')))
    with pytest.raises(RuntimeError, match='simulated crash'): train(with_options(Config(), **TINY, **NEW, out=str(tmp_path/'crash')), cbs=[Crash(7)])
    run = tmp_path/'crash'/'abstract-dcgan-32px'
    assert len(read_log(run/'losses.csv')) == 4 # epoch 1's rows; the checkpoint (after batch 6) holds batches 5 and 6
    resume(run)
    (ta,ra,ea),(tb,rb,eb) = states(whole),states(run)
    assert ea == eb and [k for k in ta if not torch.equal(ta[k], tb[k])] == [] and ra == rb
    assert (run/'losses.csv').read_bytes() == (whole/'losses.csv').read_bytes()
    ca,cb = (load_checkpoint(r/'checkpoints'/'last.pth')['callbacks'] for r in (whole, run))
    for name in ('LossLog', 'LossChangeStop', 'LossCollapseSign', 'AdaptiveLR'): assert str(ca[name]) == str(cb[name]), name
    assert ca['AdaptiveLR']['mult_d'] == 1.0 and ca['AdaptiveLR']['mult_g'] != 1.0 # only G's rates moved
    rows = read_log(run/'losses.csv')
    assert [int(r['iteration']) for r in rows] == list(range(1, 13)) and list(rows[0]) == ['iteration', 'epoch', 'kimg', 'loss_d_1', 'loss_g']
    assert sorted(p.name for p in (run/'checkpoints').glob('epoch_*.pth')) == ['epoch_0002.pth']
    assert load_checkpoint(run/'checkpoints'/'epoch_0002.pth')['epoch'] == 2
    assert Image.open(run/'samples'/'evolution.gif').n_frames == 2 and (run/'losses.png').stat().st_size > 0

def test_algorithm_1_stops_the_run(tmp_path, capsys):
    "Any change is smaller than a huge epsilon: the run stops after its second batch, says why and keeps that batch."
    learn,run = train(with_options(Config(), **TINY, early_stop_eps=1e9, out=str(tmp_path)))
    out = capsys.readouterr().out
    assert learn.train_iter == 2
    assert 'LossChangeStop stopped the run: iteration 2: loss_d + loss_g changed by' in out
    assert 'stopped in epoch 1/' in out and 'after 2 batches; checkpoint written' in out
    ck = load_checkpoint(run/'checkpoints'/'last.pth') # where the paper's rule ends the run: kept to sample and score
    assert (ck['epoch'], ck['batch'], ck['train_iter']) == (0, 2, 2)

def test_early_stop_keeps_its_last_epoch(whole, tmp_path, capsys):
    "EarlyStop ends the run after an epoch with that epoch's checkpoint; the resume trains on as if it never stopped."
    learn,run = train(with_options(Config(), **TINY, save_every_batches=3, out=str(tmp_path)),
                      cbs=[EarlyStop('acc_fake', patience=1, eps=2.0)]) # accuracies never differ by 2: stops after 2
    out = capsys.readouterr().out
    assert 'EarlyStop stopped the run: acc_fake changed less than 2.0 over the last 1 epoch' in out
    assert 'stopped after epoch 2/3; checkpoint written' in out
    ck = load_checkpoint(run/'checkpoints'/'last.pth')
    assert (ck['epoch'], ck['batch'], ck['train_iter']) == (2, 0, 8)
    assert len(ck['callbacks']['EarlyStop']['values']) == 2
    resume(run)
    assert_same(whole, run)

class StepLosses(Callback):
    "Records each D step's loss as the D loss function returns it, beside GANTrainer's own `d_losses`."
    order = -20 # before GANTrainer's D steps
    def before_fit(self):
        t,loss = self.learn.gan_trainer,self.learn.gan_trainer.d_loss
        def recording(*logits): out = loss(*logits); self.steps.append(out.detach()); return out
        t.d_loss,self.seen = recording,[]
    def before_batch(self): self.steps = []
    def after_loss(self):
        if not self.training: return
        self.seen.append(torch.stack(self.steps).tolist())

def test_one_column_per_d_step(tmp_path):
    "With two D steps per batch, losses.csv has loss_d_1 and loss_d_2: each D step's own loss."
    shim = StepLosses()
    _,run = train(with_options(Config(), **{**TINY, 'epochs': 1}, n_dis=2, out=str(tmp_path)), cbs=[shim])
    rows = read_log(run/'losses.csv')
    assert list(rows[0]) == ['iteration', 'epoch', 'kimg', 'loss_d_1', 'loss_d_2', 'loss_g']
    assert [[float(r['loss_d_1']), float(r['loss_d_2'])] for r in rows] == shim.seen and len(rows) == 4

@pytest.mark.parametrize('options,message', [
    (dict(keep_every=3, save_every=2), 'keep_every (3) must be a multiple of save_every (2)'),
    (dict(evolution_epochs='1,last'), "evolution_epochs must be epoch numbers (from 1) separated by commas, such as '1,100,200', got '1,last'"),
    (dict(alr_nets='d'), "alr_nets must be one of both, g, got 'd'"),
    (dict(alr_threshold=1.5), 'alr_threshold must be in (0, 1], got 1.5'),
    (dict(early_stop_eps=-1.0), 'early_stop_eps must be at least 0'),
    (dict(alr_cooldown=-1), 'alr_cooldown must be at least 0')])
def test_refusals_write_nothing(tmp_path, options, message):
    with pytest.raises(ValueError, match=None) as e: train(with_options(Config(), **TINY, **options, out=str(tmp_path/'runs')))
    assert message in str(e.value)
    assert not (tmp_path/'runs').exists()

def test_command_line_refusal(tmp_path):
    r = cli('artgan-train', '--evolution-epochs', '0,5', '--out', tmp_path/'runs')
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith('error: ') and 'Traceback' not in r.stderr, r.stderr
    assert "evolution_epochs must be epoch numbers (from 1)" in r.stderr and not (tmp_path/'runs').exists()
