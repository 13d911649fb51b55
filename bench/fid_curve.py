"""FID against training time: score the checkpoints a run kept (`--keep-every N`) with one protocol.

Run: OMP_NUM_THREADS=1 PYTHONPATH=. python bench/fid_curve.py RUN --real DIR [--split test] [--n 1400]
     [--epochs 9,18,36] [--n-train 2000] [--out CURVE.csv] [--standing-stats]

For every kept checkpoint RUN/checkpoints/epoch_NNNN.pth (or those of `--epochs`), `evaluate` scores the generator
(its moving average when the run keeps one) with `--n` images against `--n` real ones of DIR/SPLIT, and one row is
added to the CSV: epoch, kimg seen, the minutes of training to that epoch (from RUN/log.csv), FID, KID and its spread.
Rows already in the CSV are kept, so a second call scores only the new checkpoints. Nothing is asserted: it prints and
writes what it measured. `--standing-stats` scores checkpoints written before runs saved their moving average ready
(`EMA.ready`) as runs save it today: a copy of each, its moving average given `standing_stats` first.
"""
import argparse, csv, re, tempfile, time
from pathlib import Path

from artgan_nb.checkpoint import load_checkpoint, read_checkpoint, gan_of, atomic_save
from artgan_nb.ema import standing_stats
from artgan_nb.metrics import evaluate

FIELDS = ('epoch', 'kimg', 'minutes', 'fid', 'kid', 'kid_std')


def kept(run, epochs=None):
    "The kept checkpoints of `run` as {epoch: path}, all of them or those of `epochs`."
    cks = {int(re.search(r'(\d+)', p.stem).group(1)): p for p in (run/'checkpoints').glob('epoch_*.pth')}
    return {e: p for e,p in sorted(cks.items()) if epochs is None or e in epochs}


def with_standing_stats(ck, folder):
    "A copy of checkpoint `ck` in `folder`/checkpoints whose moving average (or G, without one) has `standing_stats`."
    raw = load_checkpoint(ck)
    G = standing_stats(gan_of(read_checkpoint(ck))[0])
    net = 'ema' if 'ema' in raw else 'generator'
    return atomic_save({**raw, net: G.state_dict()}, Path(folder)/'checkpoints'/'last.pth')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run', type=Path)
    p.add_argument('--real', required=True)
    p.add_argument('--split', default='test')
    p.add_argument('--n', type=int, default=1400)
    p.add_argument('--epochs', help='comma-separated epochs to score (default: every kept checkpoint)')
    p.add_argument('--n-train', type=int, default=2000, help="training images the memorisation check searches; 0: all")
    p.add_argument('--out', type=Path, help='the CSV (default: RUN/fid_curve.csv)')
    p.add_argument('--standing-stats', action='store_true', help="give each moving average standing statistics first")
    a = p.parse_args()
    out = a.out or a.run/'fid_curve.csv'
    rows = {int(r['epoch']): r for r in csv.DictReader(open(out))} if out.exists() else {}
    log = {int(r['epoch']): r for r in csv.DictReader(open(a.run/'log.csv'))}
    for epoch,ck in kept(a.run, a.epochs and {int(e) for e in a.epochs.split(',')}).items():
        if epoch in rows or epoch not in log: continue
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            res = evaluate(with_standing_stats(ck, tmp) if a.standing_stats else ck, a.real, n=a.n, split=a.split,
                           n_train=a.n_train)
        minutes = sum(float(log[e]['seconds']) for e in log if e <= epoch) / 60
        rows[epoch] = dict(epoch=epoch, kimg=log[epoch]['kimg'], minutes=f"{minutes:.1f}", fid=f"{res['fid']:.2f}",
                           kid=f"{res['kid_mean']:.4f}", kid_std=f"{res['kid_std']:.4f}")
        print(f"{a.run.name} epoch {epoch}: {rows[epoch]['kimg']} kimg, {minutes:.1f} min: FID {res['fid']:.2f}, "
              f"KID {res['kid_mean']:.4f} (scored in {time.perf_counter() - start:.0f} s)", flush=True)
        with open(out, 'w', newline='') as f:
            w = csv.DictWriter(f, FIELDS); w.writeheader(); w.writerows(rows[e] for e in sorted(rows))


if __name__ == '__main__': main()
