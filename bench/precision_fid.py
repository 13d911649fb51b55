"""bf16 against fp32 in what a run learns: the FID of runs after the same images, two seeds each, beside their spread.

Run: OMP_NUM_THREADS=1 PYTHONPATH=. python bench/precision_fid.py --real ../shared/data/wikiart128 [--epochs 4]
     [--n 1400] [--out DIR]

Four runs of the house recipe (what `artgan-train --data REAL/train --size 64` trains) for the same epochs, one after
the other: fp32 and bf16, each with seeds 0 and 1. Each is scored as `artgan-eval RUN --real REAL --split test --n N`
scores it (its moving average, with statistics of its own, N samples against N held-out paintings). It prints each
run's images/s, FID and KID, then the gap between the two precisions' mean FIDs beside the larger of the two seed
spreads: bf16 is as good as fp32 where the gap is within the spread. Nothing is asserted; on a CPU without native bf16
the bf16 runs are slow, not wrong.
"""
import argparse, tempfile, warnings
from pathlib import Path

import torch

from artgan_nb.callbacks.record import read_log
from artgan_nb.metrics import evaluate
from artgan_nb.run import train
from artgan_nb.train import auto_precision

RUNS = tuple((f'{precision}-seed{seed}', precision, seed) for precision in ('fp32', 'bf16') for seed in (0, 1))


def run_and_score(out:Path, name:str, precision:str, seed:int, a):
    "Train the house recipe `a.epochs` epochs in `precision` with `seed` under `out`, then score it: `evaluate`'s dict."
    run = train(data=str(Path(a.real)/'train'), size=64, epochs=a.epochs, seed=seed, precision=precision,
                out=str(out), name=name)[1]
    rows = read_log(run/'log.csv')
    kimg,seconds = float(rows[-1]['kimg']),sum(float(r['seconds']) for r in rows)
    print(f"{name}: {kimg:g} kimg in {seconds / 60:.1f} min, {1000 * kimg / seconds:.0f} img/s", flush=True)
    return evaluate(run, a.real, n=a.n, split='test', n_train=a.n_train)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--real', required=True, help='a folder with train/ and test/ (the WikiArt stand-in)')
    p.add_argument('--epochs', type=int, default=4, help='epochs of each run')
    p.add_argument('--n', type=int, default=1400, help='samples and held-out paintings scored')
    p.add_argument('--n-train', type=int, default=2000, help="training images the memorisation check searches")
    p.add_argument('--out', type=Path, help='where the four run folders go (default: a temporary folder)')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    precision,why = auto_precision(torch.device('cpu'))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; --precision auto here: {precision} ({why})")
    with tempfile.TemporaryDirectory() as d:
        out = a.out or Path(d)
        res = {name: run_and_score(out, name, prec, seed, a) for name,prec,seed in RUNS}
    for name,r in res.items(): print(f"{name}: FID {r['fid']:.2f}  KID {r['kid_mean']:.4f} +- {r['kid_std']:.4f}")
    (f0,f1),(b0,b1) = [[res[f'{p}-seed{s}']['fid'] for s in (0, 1)] for p in ('fp32', 'bf16')]
    gap,spread = (b0 + b1 - f0 - f1) / 2,max(abs(f1 - f0), abs(b1 - b0))
    verdict = 'within' if abs(gap) <= spread else 'better than fp32, beyond' if gap < 0 else 'worse than fp32, beyond'
    print(f"after {a.epochs} epochs: bf16 - fp32 (mean FID of two seeds each) {gap:+.2f}; seed 1 - seed 0: fp32 "
          f"{f1 - f0:+.2f}, bf16 {b1 - b0:+.2f}: bf16 is {verdict} the spread of two seeds")


if __name__ == '__main__': main()
