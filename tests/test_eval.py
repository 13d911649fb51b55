"End to end: `artgan-eval` on a tiny trained run and a tiny folder of real images."
import json

from artgan_nb.cli import TrainConfig, train
from artgan_nb.core import normalize, save_grid
from artgan_nb.data.abstract import render_abstract

from conftest import cli


def test_artgan_eval(tmp_path):
    _,run = train(TrainConfig(n_images=96, size=32, bs=16, epochs=1, nz=16, width=8, out=str(tmp_path/'runs')))
    for i,img in enumerate(render_abstract(20, size=32, seed=7).images):
        save_grid(normalize(img)[None], tmp_path/'real'/'test'/f'{i:03d}.png', nrow=1)
    proc = cli('artgan-eval', run, '--real', tmp_path/'real', '--n', 12, '--n-train', 24, '--cache', tmp_path/'cache')
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    res = json.loads((run/'eval.json').read_text())
    assert (res['n_real'], res['n_fake'], res['kid_subset_size'], res['memorisation']['n_train']) == (12, 12, 12, 24)
    assert res['fid'] > 0 and res['kid_std'] >= 0
    assert 0 <= res['memorisation']['frac_copies'] <= 1
    assert 0 <= res['d_acc_real'] <= 1 and 0 <= res['d_acc_fake'] <= 1
    assert f"FID {res['fid']:.2f}" in out and 'KID' in out and 'memorisation' in out
    assert (run/'memorisation.png').is_file() and len(list((tmp_path/'cache').glob('*.pt'))) == 1
