"""bf16 against fp32 in what a run learns: the FID of two runs after the same images, beside the spread of two fp32 seeds.

Run: OMP_NUM_THREADS=1 PYTHONPATH=. python bench/precision_fid.py --real ../shared/data/wikiart128 [--epochs 4] [--n 1400] [--out DIR]

Three runs of the house recipe (what `artgan-train --data REAL/train --size 64` trains) for the same epochs, one after
the other: fp32 with seed 0, fp32 with seed 1, bf16 with seed 0. Each is scored as `artgan-eval RUN --real REAL --split
test --n N` scores it (its EMA generator, N samples against N held-out paintings). It prints each run's images/s, FID
and KID, then the gap bf16 - fp32 (same seed) beside the gap between the two fp32 seeds: bf16 is as good as fp32 where
the first is within the second. Nothing is asserted; on a CPU without native bf16 the bf16 run is slow, not wrong.
"""
import argparse, tempfile, warnings
from pathlib import Path

import torch

from artgan_nb.callbacks.record import read_log
from artgan_nb.metrics import evaluate
from artgan_nb.run import train
from artgan_nb.train import auto_precision

RUNS = (('fp32-seed0', 'fp32', 0), ('fp32-seed1', 'fp32', 1), ('bf16-seed0', 'bf16', 0))


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
    p.add_argument('--out', type=Path, help='where the three run folders go (default: a temporary folder)')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    precision,why = auto_precision(torch.device('cpu'))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; --precision auto here: {precision} ({why})")
    with tempfile.TemporaryDirectory() as d:
        out = a.out or Path(d)
        res = {name: run_and_score(out, name, prec, seed, a) for name,prec,seed in RUNS}
    for name,r in res.items(): print(f"{name}: FID {r['fid']:.2f}  KID {r['kid_mean']:.4f} +- {r['kid_std']:.4f}")
    f0,f1,b0 = (res[n]['fid'] for n,_,_ in RUNS)
    print(f"after {a.epochs} epochs: bf16 - fp32 (seed 0) {b0 - f0:+.2f} FID; fp32 seed 1 - seed 0 {f1 - f0:+.2f} FID: "
          f"bf16 is {'within' if abs(b0 - f0) <= abs(f1 - f0) else 'outside'} the spread of two fp32 seeds")


if __name__ == '__main__': main()
