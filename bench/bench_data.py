"""Images per second delivered by our cache loader (`gan_dls`) against a torchvision ImageFolder loader.

Run: PYTHONPATH=. OMP_NUM_THREADS=1 python bench/bench_data.py [--data DIR] [--size 64] [--bs 64] [--workers 2] [--epochs 2]
Both read the same images (default: the training split of the shared WikiArt sample, ../shared/data/wikiart128/train)
and deliver normalised float batches of `size` px on the CPU, `workers` loader processes each (ours is also timed with
none: indexing the cache needs no worker processes). Ours first builds (or reuses) its cache with `prepare_data`, timed
apart, then reuses it twice: with the checksum check every reuse makes, and with `verify=True` (every source file and
the whole cache hashed again), to show what each costs; torchvision decodes every JPEG every epoch (Resize + CenterCrop + ToTensor + Normalize). Timings on shared CPUs
are noisy; the script prints what it measured and never asserts on time.
"""
import argparse, tempfile, time, warnings
from pathlib import Path

import torch
from torch.utils.data import DataLoader as TorchLoader
from torchvision import datasets, transforms as T

from artgan_nb.data.collection import prepare_data, format_report
from artgan_nb.data.loaders import gan_dls

ROOT = Path(__file__).resolve().parents[1]


def epoch_rates(loader, epochs):
    "Images per second of each of `epochs` full passes over `loader` (the first includes starting its workers)."
    rates = []
    for _ in range(epochs):
        start,n = time.perf_counter(),0
        for x,_ in loader: n += len(x)
        rates.append(n / (time.perf_counter() - start))
    return rates


def imagefolder_loader(data, size, bs, workers):
    "The usual torchvision pipeline: decode, resize and crop every image in every epoch."
    tfm = T.Compose([T.Resize(size), T.CenterCrop(size), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    return TorchLoader(datasets.ImageFolder(data, tfm), batch_size=bs, shuffle=True, drop_last=True,
                       num_workers=workers, persistent_workers=workers > 0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--data', default=str(ROOT.parent/'shared'/'data'/'wikiart128'/'train'), help='a folder of images in class subfolders')
    p.add_argument('--size', type=int, default=64)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--workers', type=int, default=2, help='loader processes of both loaders')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--cache-dir', default=None, help='where our cache goes (default: a temporary folder)')
    a = p.parse_args()
    if not Path(a.data).is_dir(): raise SystemExit(f"no images at {a.data}: pass --data (the shared WikiArt sample is absent)")
    warnings.filterwarnings('ignore')
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.data}, {a.size} px, batch {a.bs}")
    with tempfile.TemporaryDirectory() as tmp:
        cache,report = prepare_data(a.data, size=a.size, cache_dir=a.cache_dir or tmp, workers=a.workers)
        print(format_report(report, max_listed=3))
        for verify in (False, True):
            start = time.perf_counter()
            report = prepare_data(a.data, size=a.size, cache_dir=a.cache_dir or tmp, workers=a.workers, verify=verify)[1]
            print(f"reuse{' with verify=True' if verify else ''}: {time.perf_counter() - start:.2f} s for {report['kept']} images, {report['bytes'] / 2**20:.1f} MB")
        results = {f"ours, {w} workers": epoch_rates(gan_dls(cache, bs=a.bs, device='cpu', num_workers=w).train, a.epochs)
                   for w in sorted({0, a.workers})}
    results[f"ImageFolder, {a.workers} workers"] = epoch_rates(imagefolder_loader(a.data, a.size, a.bs, a.workers), a.epochs)
    base = results[f"ImageFolder, {a.workers} workers"]
    print(f"{'loader':<24}" + ''.join(f"{f'epoch {e + 1} img/s':>18}" for e in range(a.epochs)) + f"{'x ImageFolder':>28}")
    for name,rates in results.items():
        print(f"{name:<24}" + ''.join(f"{r:>18,.0f}" for r in rates) + f"{' / '.join(f'{r / b:.1f}x' for r,b in zip(rates, base)):>28}")


if __name__ == '__main__': main()
