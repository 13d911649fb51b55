"End to end: `artgan-eval` on a tiny trained run and a tiny folder of real images."
import json, shutil

import torch

from artgan_nb.checkpoint import read_checkpoint
from artgan_nb.run import train, config_of
from artgan_nb.core import normalize, save_grid
from artgan_nb.data.abstract import render_abstract
from artgan_nb.metrics import InceptionFeatures, image_features, load_split, train_images

from conftest import cli

def write_images(folder, images, start=0):
    "Each uint8 image of `images` as a PNG file in `folder`, numbered from `start`."
    for i,img in enumerate(images, start): save_grid(normalize(img)[None], folder/f'{i:03d}.png', nrow=1)

def test_artgan_eval(tmp_path):
    _,run = train(n_images=96, size=32, bs=16, epochs=1, nz=16, width=8, out=str(tmp_path/'runs'))
    write_images(tmp_path/'real'/'test', render_abstract(20, size=32, seed=7).images)
    write_images(tmp_path/'real'/'test', train_images(config_of(read_checkpoint(run)))[:2], start=20) # two the run trained on
    (tmp_path/'outside.json').write_text('mine'); (run/'eval.json').symlink_to(tmp_path/'outside.json')
    proc = cli('artgan-eval', run, '--real', tmp_path/'real', '--n', 12, '--cache', tmp_path/'cache')
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    res = json.loads((run/'eval.json').read_text())
    assert (res['n_real'], res['n_fake'], res['kid_subset_size'], res['memorisation']['n_train']) == (12, 12, 12, 96)  # every training image is searched
    assert res['real_left_out'] == 2 and '2 real images were left out: the run trained on them' in out
    assert f"UserWarning: the run trained on 2 of the images in {tmp_path/'real'}: they are left out of the evaluation\n" in proc.stderr
    assert res['fid'] > 0 and res['kid_std'] >= 0
    assert 0 <= res['memorisation']['frac_copies'] <= 1
    assert 0 <= res['d_acc_real'] <= 1 and 0 <= res['d_acc_fake'] <= 1
    assert f"FID {res['fid']:.2f}" in out and 'KID' in out and 'memorisation' in out
    feats = sorted(p.name.split('-')[0] for p in (tmp_path/'cache'/'features').glob('*.pt'))
    assert (run/'memorisation.png').is_file() and feats == ['inception', 'train'] # the real images' and the training images' features, shared by runs
    assert not (run/'eval.json').is_symlink() and (tmp_path/'outside.json').read_text() == 'mine' # written in the run folder only
    assert not list((tmp_path/'real').rglob('.*'))  # nothing written into the folder of paintings

def test_real_features_follow_the_images(tmp_path):
    "The features' file is named after the images' pixels: a painting added gives a new one, a copied folder the same."
    images = render_abstract(5, size=32, seed=3).images
    write_images(tmp_path/'a', images[:4])
    first = load_split(tmp_path/'a', size=32, cache_dir=tmp_path/'cache')[2]
    shutil.copytree(tmp_path/'a', tmp_path/'b')
    assert load_split(tmp_path/'b', size=32, cache_dir=tmp_path/'cache')[2] == first
    write_images(tmp_path/'a', images[4:], start=4)
    assert load_split(tmp_path/'a', size=32, cache_dir=tmp_path/'cache')[2] != first

def test_fast_features_equal_plain():
    "The fast feature network (batch norms folded, oneDNN, channels-last) gives the plain TorchScript call's features to 1e-4."
    images = torch.cat([render_abstract(2, size=32, seed=5).images, render_abstract(1, size=32, seed=6).images.flip(-1)])
    fast,plain = image_features(InceptionFeatures(), images, 2),image_features(InceptionFeatures(fast=False), images, 3)
    assert fast.shape == (3, 2048) and (fast - plain).abs().max() < 1e-4

def test_real_images_of_another_kind_are_said_so(tmp_path):
    "A run on the built-in shapes scored against built-in abstract art (`--real builtin:abstract`): a warning comes first."
    _,run = train(data='builtin:shapes', n_images=32, size=32, bs=16, epochs=1, nz=16, width=8, out=str(tmp_path/'runs'))
    proc = cli('artgan-eval', run, '--real', 'builtin:abstract', '--n', 8, '--cache', tmp_path/'cache')
    assert proc.returncode == 0, proc.stderr
    res = json.loads((run/'eval.json').read_text())
    assert (res['n_real'], res['n_fake'], res['real_left_out']) == (8, 8, 0)
    assert proc.stdout.startswith('warning: these real images are not the kind this run trained on'), proc.stdout
    assert res['memorisation']['median_nn_test'] > 1.5 * res['memorisation']['median_nn_train']
    assert f"KID {res['kid_mean']:.4f} (one subset: every image)" in proc.stdout # 8 of 8: no spread to print

def test_a_conditional_run_is_scored(tmp_path):
    "A class-conditional run is scored too; its discriminator's accuracy, which needs each real image's class, is not."
    _,run = train(data='builtin:shapes', cond=True, n_images=32, size=32, bs=16, epochs=1, nz=16, width=8,
                  out=str(tmp_path/'runs'))
    proc = cli('artgan-eval', run, '--real', 'builtin:shapes', '--n', 8, '--cache', tmp_path/'cache')
    assert proc.returncode == 0, proc.stderr
    res = json.loads((run/'eval.json').read_text())
    assert res['fid'] > 0 and 'd_acc_real' not in res and 'd_acc_fake' not in res
    assert "discriminator accuracy: not measured (a conditional D needs the images' classes)" in proc.stdout
