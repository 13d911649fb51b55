"""Images per second of TF-Inception feature extraction: the plain TorchScript call against `InceptionFeatures`.

Run: PYTHONPATH=. python bench/bench_fid.py [--n 64] [--bs 16 32] [--threads N]
Each variant gets one untimed warm-up batch (TorchScript profiles and optimises on its first calls), then
extracts features of the same `n` images (built-in abstract paintings, 64 px, resized to 299). Timings on
shared CPUs are noisy; the script prints what it measured and never asserts on time.
"""
import argparse, time, warnings

import torch

from artgan_nb.data.abstract import render_abstract
from artgan_nb.metrics import InceptionFeatures, image_features


def rate(net, images, bs):
    "Warm up on one batch, then time the features of all `images`; return (images/s, features)."
    image_features(net, images[:bs], bs)
    start = time.perf_counter()
    feats = image_features(net, images, bs)
    return len(images) / (time.perf_counter() - start),feats


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--n', type=int, default=64, help='images timed per variant')
    p.add_argument('--bs', type=int, nargs='+', default=[16, 32], help='batch sizes to try')
    p.add_argument('--threads', type=int, default=torch.get_num_threads(), help='torch.set_num_threads')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(a.threads)
    images = render_abstract(a.n, size=64).images
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.n} images of 64 px -> 299 px")
    ref = None
    for fast in (False, True):
        net = InceptionFeatures(fast=fast)
        for bs in a.bs:
            r,feats = rate(net, images, bs)
            ref = feats if ref is None else ref
            diff = (feats - ref).abs().max().item()
            print(f"{'fast (frozen, optimised, channels-last)' if fast else 'plain TorchScript call':40s} bs {bs:3d}: "
                  f"{r:5.1f} images/s, max |features - plain bs {a.bs[0]}| = {diff:.2e}")


if __name__ == '__main__': main()
