"The fastgan arch end to end: it builds at every size, trains through `train`, resumes exactly and exports; precision 'auto'."
import json

import pytest, torch

from artgan_nb.core import with_options
from artgan_nb.models import build_gan
from artgan_nb.checkpoint import load_gan
from artgan_nb.run import Config, train, resume
from test_resume import Crash, assert_same

TINY = dict(n_images=72, size=32, bs=16, nz=16, width=8, epochs=3, device='cpu') # 4 batches per epoch, as test_resume's
FAST = dict(arch='fastgan', loss='hinge', label_smoothing=0.0, diffaug='color,translation,cutout', ema=0.9)

@pytest.mark.parametrize('size', [32, 64, 128])
@pytest.mark.parametrize('n_classes', [0, 3])
def test_builds_and_reconstructs(size, n_classes):
    "G makes images of `size`; D scores them, and on real images also gives its reconstruction loss, which trains its decoders."
    torch.manual_seed(0)
    G,D = build_gan(arch='fastgan', size=size, nz=8, width=8, n_classes=n_classes)
    z,y = torch.randn(2, 8),(torch.tensor([0, 2]) if n_classes else None)
    x = G(z, y)
    assert x.shape == (2, 3, size, size) and D(x, y).shape == (2,)
    logits,loss = D.with_aux(x.detach(), y)
    loss.backward()
    assert logits.shape == (2,) and loss.item() > 0 and D.decode_all[-1].weight.grad.abs().sum() > 0

def test_refuses_what_it_lacks():
    for opts,msg in [(dict(attn=16), 'no self-attention'), (dict(g_up='deconv'), "g_up 'deconv'")]:
        with pytest.raises(ValueError, match=msg): build_gan(arch='fastgan', size=64, **opts)

def test_trains_resumes_exactly_and_exports(tmp_path):
    "Twelve batches at 32 px through `train`, with D's reconstruction loss; a crashed run resumes to the same end."
    opts = dict(**TINY, **FAST, cond=False, save_every_batches=3)
    learn,whole = train(with_options(Config(), **opts, out=str(tmp_path/'whole')))
    assert learn.train_iter == 12 and learn.gan_trainer.ema is not None
    with pytest.raises(RuntimeError, match='simulated crash'): train(with_options(Config(), **opts, out=str(tmp_path/'crash')), cbs=[Crash(7)])
    run = tmp_path/'crash'/'abstract-fastgan-32px'
    resume(run)
    assert_same(whole, run)
    path = learn.export(tmp_path/'G.pt2')
    assert path.exists() and path.stat().st_size > 0
    G,D,spec = load_gan(run)
    assert spec.arch == 'fastgan' and G(torch.randn(2, 16)).shape == (2, 3, 32, 32)

def test_conditional_trains_two_batches(tmp_path):
    "Class-conditional fastgan through `train` on labelled images (the built-in shapes have classes)."
    learn,run = train(with_options(Config(), **{**TINY, 'n_images': 32, 'epochs': 1}, **FAST, data='builtin:shapes', cond=True,
                                   out=str(tmp_path)))
    assert learn.train_iter == 2 and learn.model.n_classes > 1 and learn.model.generator.class_scale is not None

def test_config_records_the_resolved_precision(tmp_path):
    "'auto' is stored as the precision it chose, with why; a given precision is stored as given."
    from artgan_nb.train import auto_precision
    for given,want in [('auto', auto_precision(torch.device('cpu'))), ('fp32', ('fp32', ''))]:
        _,run = train(with_options(Config(), **{**TINY, 'n_images': 32, 'epochs': 1}, precision=given, out=str(tmp_path/given)))
        saved = json.loads((run/'config.json').read_text())['train']
        assert (saved['precision'], saved['precision_auto']) == want
