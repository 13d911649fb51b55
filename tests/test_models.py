"The model options end to end: they train, they are recorded and reload, old checkpoints still load, refusals are one line."
import pytest, torch
from torch import nn

from conftest import cli
from artgan_nb.checkpoint import load_checkpoint, load_gan
from artgan_nb.core import with_options
from artgan_nb.models import ARCHS, ModelSpec, build_gan
from artgan_nb.run import Config, train, read_config

TINY = dict(n_images=32, size=32, bs=16, nz=8, width=4, epochs=1, device='cpu', workers=0) # 2 batches

SEQUENTIAL = [a for a in ARCHS if a != 'fastgan'] # the archs whose networks are layer lists (fastgan: tests/test_fastgan.py)

NEW = dict(d_first_bn=False, init='dcgan', d_noise=0.1, d_dropout=0.3, g_out='tanh', g_up='resize') # the defaults

def test_defaults_upsample_by_resize_and_deconv_gives_older_networks():
    "The default G doubles its side by resizing then convolving (only a latent of side 1 goes through a transposed"
    " convolution); `g_up='deconv'` gives the transposed convolutions of older versions. Tanh either way."
    assert {k: getattr(ModelSpec(), k) for k in NEW} == NEW
    for arch in SEQUENTIAL:
        for g_up,deconvs,ups in (('resize', 0 if arch == 'dcgan-fc' else 1, 4 if arch == 'dcgan-fc' else 3), ('deconv', 4, 0)):
            torch.manual_seed(0); G,D = build_gan(arch=arch, size=32, nz=8, width=4, g_up=g_up)
            counts = [sum(isinstance(m, t) for m in G.modules()) for t in (nn.ConvTranspose2d, nn.Upsample, nn.Sigmoid)]
            assert counts == [deconvs, ups, 0] and isinstance(G[-1], nn.Tanh), (arch, g_up, counts)

@pytest.mark.parametrize('arch', SEQUENTIAL)
@pytest.mark.parametrize('n_classes', [0, 3])
def test_discriminator_is_its_features_then_its_head(arch, n_classes):
    "`forward` runs the layers in place; it gives what the features then the head (and the projection) give."
    torch.manual_seed(0)
    D = build_gan(arch=arch, size=32, nz=8, width=4, n_classes=n_classes)[1].eval()
    x,y = torch.randn(3, 3, 32, 32),torch.tensor([0, 1, 2])
    with torch.no_grad():
        h = nn.Sequential(*D.features)(x)
        want = nn.Sequential(*D.head)(h) + ((D.class_embed[y] * h.mean((2, 3))).sum(1) if n_classes else 0)
        assert torch.allclose(D(x, y) if n_classes else D(x), want)

def test_new_options_train_are_recorded_and_reload(tmp_path):
    "A tiny run with every new option away from its default trains two batches; config.json and the checkpoint give it back."
    opts = dict(arch='dcgan-fc', d_first_bn=True, init='default', d_dropout=0.1, g_out='sigmoid', g_up='resize', norm='unit')
    learn,run = train(with_options(Config(), **TINY, **opts, out=str(tmp_path)))
    assert {k: getattr(read_config(run/'config.json').model, k) for k in opts if k != 'norm'} == {k: v for k,v in opts.items() if k != 'norm'}
    G,D,spec = load_gan(run, ema=False)
    assert (spec.g_up, spec.mean, spec.std) == ('resize', (0.0,) * 3, (1.0,) * 3)
    assert any(isinstance(m, nn.Upsample) for m in G) and isinstance(G[-1], nn.Sigmoid)
    x = G(torch.randn(4, 8))
    assert x.min() >= 0 and x.max() <= 1 and D(x).shape == (4,)

def test_checkpoint_without_the_new_options_loads(tmp_path):
    "A checkpoint written before these options existed (its spec lacks them) loads as the networks of its time (`OLD_DEFAULTS`)."
    _,run = train(with_options(Config(), **TINY, g_up='deconv', out=str(tmp_path)))
    path = run/'checkpoints'/'last.pth'
    ck = load_checkpoint(path)
    for k in NEW: del ck['config']['model'][k]
    torch.save(ck, path)
    G,D,spec = load_gan(run, ema=False)
    assert {k: getattr(spec, k) for k in NEW} == {**NEW, 'g_up': 'deconv'}
    assert torch.equal(G[1].weight, ck['generator']['1.weight'])

@pytest.mark.parametrize('args,msg', [(['--arch', 'classical', '--d-first-bn'], 'd_first_bn: the classical discriminator has no BatchNorm'),
                                      (['--g-up', 'bilinear'], 'g_up must be one of deconv, resize'),
                                      (['--d-dropout', '1'], 'd_dropout must be in [0, 1)')])
def test_bad_model_options_are_refused_before_any_file(tmp_path, args, msg):
    p = cli('artgan-train', '--n-images', 32, '--size', 32, '--width', 4, '--epochs', 1, '--out', tmp_path, *args)
    assert p.returncode == 1 and msg in p.stderr and len(p.stderr.strip().splitlines()) <= 2, p.stderr
    assert list(tmp_path.iterdir()) == []
