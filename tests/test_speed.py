"""Speed options: reusing the discriminator step's fakes, bf16 autocast, fp16's refusal on the CPU, statistics kept on the
device, the channels-last layout."""
from pathlib import Path

import pytest, torch
from fastai.callback.core import Callback

from conftest import cli
from test_resume import TINY, Crash, assert_same
from artgan_nb.core import with_options
from artgan_nb.checkpoint import load_gan
from artgan_nb.run import Config, train, resume, read_config

def crash_and_resume(tmp_path, **options):
    "An uninterrupted run and one that crashed mid-epoch and was resumed: (whole, resumed) run folders."
    _,whole = train(with_options(Config(), **TINY, **options, save_every_batches=3, out=str(tmp_path/'whole')))
    with pytest.raises(RuntimeError, match='simulated crash'):
        train(with_options(Config(), **TINY, **options, save_every_batches=3, out=str(tmp_path/'crash')), cbs=[Crash(7)])
    run = tmp_path/'crash'/'abstract-dcgan-32px'
    resume(run)
    return whole,run

@pytest.mark.parametrize('options', [dict(reuse_fakes=True, precision='fp32'), dict(precision='bf16'),
                                     dict(reuse_fakes=True, n_dis=2, precision='bf16'), dict(channels_last=False, precision='fp32')])
def test_resume_is_exact(tmp_path, options):
    assert_same(*crash_and_resume(tmp_path, **options))

class Calls(Callback):
    "Count the generator's forward passes and keep each batch's statistics as numbers, read every batch."
    order = 50
    def before_fit(self):
        self.forwards,self.rows = [],[]
        self.learn.model.generator.register_forward_hook(lambda m, i, o: self.forwards.append(m.training))
    def after_batch(self):
        t = self.learn.gan_trainer
        self.rows.append({k: v.item() for k,v in t.last.items()} | dict(d_losses=[l.item() for l in t.d_losses], g_loss=t.g_loss.item()))

@pytest.mark.parametrize('reuse,n_dis,calls', [(False, 1, 2), (True, 1, 1), (True, 2, 2)])
def test_reuse_fakes_runs_the_generator_once_per_batch(tmp_path, reuse, n_dis, calls):
    "One generator forward per D step, plus one for the G step unless it reuses the last D step's fakes."
    rec = Calls()
    learn,_ = train(with_options(Config(), **{**TINY, 'epochs': 1}, reuse_fakes=reuse, n_dis=n_dis, out=str(tmp_path)), cbs=[rec])
    assert rec.forwards.count(True) == calls * len(rec.rows) # training forwards; samples are drawn in evaluation mode
    assert all(len(r['d_losses']) == n_dis and r['d_losses'][-1] == r['loss_d'] and r['g_loss'] == r['loss_g'] for r in rec.rows)

def test_epoch_statistics_are_the_means_of_every_batch(tmp_path):
    "The statistics summed on the device equal the means of the per-batch numbers."
    rec = Calls()
    learn,run = train(with_options(Config(), **{**TINY, 'epochs': 1}, reuse_fakes=True, out=str(tmp_path)), cbs=[rec])
    epoch = dict(zip(learn.recorder.metric_names[1:-1], learn.recorder.values[-1]))
    for k in ('loss_d', 'loss_g', 'd_real', 'd_fake', 'acc_real', 'acc_fake'):
        assert epoch[k] == pytest.approx(sum(r[k] for r in rec.rows) / len(rec.rows), rel=1e-5), k

def test_fp16_is_refused_on_the_cpu(tmp_path):
    r = cli('artgan-train', '--data', 'builtin:abstract', '--n-images', 32, '--size', 32, '--bs', 16, '--precision', 'fp16',
            '--device', 'cpu', '--out', tmp_path)
    assert r.returncode == 1 and "error: precision 'fp16' needs a CUDA GPU" in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == [] # refused before any file was written
    r = cli('artgan-train', '--data', 'builtin:abstract', '--precision', 'fp8', '--out', tmp_path)
    assert r.returncode != 0 and 'fp8' in r.stderr

@pytest.mark.parametrize('flag,channels_last', [([], True), (['--no-channels-last'], False)])
def test_the_layout_is_an_option_the_config_records(tmp_path, flag, channels_last):
    "artgan-train stores both networks channels-last unless told not to; config.json says which; the checkpoint loads either way."
    r = cli('artgan-train', '--data', 'builtin:abstract', '--n-images', 32, '--size', 32, '--width', 4, '--nz', 8, '--bs', 16,
            '--epochs', 1, '--out', tmp_path, *flag)
    assert r.returncode == 0, r.stderr
    run, = tmp_path.iterdir()
    assert read_config(run/'config.json').train.channels_last == channels_last
    G,D,_ = load_gan(run, ema=False)
    assert G(torch.randn(2, 8)).shape == (2, 3, 32, 32)
