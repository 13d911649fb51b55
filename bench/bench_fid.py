"""Images per second of TF-Inception feature extraction: the plain TorchScript call against `InceptionFeatures`.

Run: PYTHONPATH=. python bench/bench_fid.py [--n 32] [--bs 16] [--rounds 3] [--threads N]
Both get two untimed warm-up batches (TorchScript profiles and optimises on its first calls), then, interleaved
for `rounds` rounds, each extracts the features of the same `n` images (built-in abstract paintings, 64 px,
resized to 299). It prints images/s of each round, the median of the per-round ratios (ours / plain) and the
largest difference between the two features; also the ratio of images per CPU second of this process, which
other work on a shared machine disturbs less (with one thread: with more, waiting threads spin). Last, the work
per image (torch's FLOP counter on the plain network) and the GFLOP/s each reached, against a float32 matrix
product on the same threads: the ceiling for features that must stay float32-exact. Timings on shared CPUs are
noisy: compare ratios of the same round; the script never asserts on time.
"""
import argparse, statistics, time, warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench_train import matmul_gflops # this folder's training benchmark
from artgan_nb.data.abstract import render_abstract
from artgan_nb.metrics import InceptionFeatures, image_features


def rate(net, images, bs):
    "Time the features of all `images`; return (images/s, images per CPU second of this process, features)."
    start,cpu = time.perf_counter(),time.process_time()
    feats = image_features(net, images, bs)
    return len(images) / (time.perf_counter() - start),len(images) / (time.process_time() - cpu),feats


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--n', type=int, default=32, help='images timed per variant and round')
    p.add_argument('--bs', type=int, default=16, help='batch size')
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds')
    p.add_argument('--threads', type=int, default=torch.get_num_threads(), help='torch.set_num_threads')
    p.add_argument('--matmul-n', type=int, default=2048, help='side of the matrices of the GFLOP/s yardstick')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(a.threads)
    images = render_abstract(a.n, size=64).images
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.n} images of 64 px -> 299 px, batches of {a.bs}")
    nets = dict(plain=InceptionFeatures(fast=False), ours=InceptionFeatures())
    for net in nets.values():
        for _ in range(2): image_features(net, images[:a.bs], a.bs) # warm-up
    rates,cpu,feats = {k: [] for k in nets},{k: [] for k in nets},{}
    for r in range(a.rounds):
        for k,net in nets.items(): rate_k,cpu_k,feats[k] = rate(net, images, a.bs); rates[k].append(rate_k); cpu[k].append(cpu_k)
        print(f"round {r}: plain {rates['plain'][-1]:5.2f} images/s, ours {rates['ours'][-1]:5.2f} images/s, "
              f"ratio {rates['ours'][-1] / rates['plain'][-1]:.2f} (per CPU second: {cpu['ours'][-1] / cpu['plain'][-1]:.2f})", flush=True)
    ratios,cpu_ratios = ([o / p for o,p in zip(d['ours'], d['plain'])] for d in (rates, cpu))
    print(f"median: plain {statistics.median(rates['plain']):.2f} images/s, ours {statistics.median(rates['ours']):.2f} images/s, "
          f"median ratio {statistics.median(ratios):.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f}); "
          f"median ratio per CPU second {statistics.median(cpu_ratios):.2f}; "
          f"max |features ours - plain| = {(feats['ours'] - feats['plain']).abs().max().item():.2e}")
    with FlopCounterMode(display=False) as fc: nets['plain'](images[:2])
    gflop = fc.get_total_flops() / 2 / 1e9
    print(f"work: {gflop:.1f} GFLOP per image; median: plain {gflop * statistics.median(rates['plain']):.0f} GFLOP/s, "
          f"ours {gflop * statistics.median(rates['ours']):.0f} GFLOP/s; {a.matmul_n}x{a.matmul_n} float32 matmul: "
          f"{matmul_gflops(torch.float32, a.matmul_n):.0f} GFLOP/s")


if __name__ == '__main__': main()
