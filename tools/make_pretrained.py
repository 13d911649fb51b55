"""Make a pretrained generator from a finished run: the slimmed checkpoint and its model card.

Run: python tools/make_pretrained.py RUN --name wikiart64 --curve CURVE.csv --hardware "..." --command "artgan-train ..." [--note "..."]

Writes artgan_nb/pretrained/NAME.pth (`pretrained_checkpoint` of RUN's last checkpoint) and NAME.md, the model card,
from what the run recorded: config.json, log.csv, eval.json (run `artgan-eval RUN --real DIR --split test --n 1400 --pr
--n-train 0` first) and the FID curve CSV (kimg,minutes,fid,kid rows). Every figure on the card comes from those files.
"""
import argparse, csv, hashlib, json
from pathlib import Path

from artgan_nb.checkpoint import load_checkpoint, pretrained_checkpoint, atomic_save, checkpoint_path

PACKAGE = Path(__file__).resolve().parents[1]/'artgan_nb'/'pretrained'
MAX_MB = 10

CARD = """# pretrained:{name}

A {size} px {kind} generator, the house recipe trained for real: `artgan-sample pretrained:{name}`, or
`load_run('pretrained:{name}')` in Python. It ships inside the package (no download), in half precision
({mb:.1f} MB), with the discriminator it was trained against.

## Data and licence
Trained on `wikiart128/train`: {n_train:,} WikiArt paintings of 128 px (1,228 in each of 7 styles: {styles}),
centre-cropped to {size} px. WikiArt images are for non-commercial research use (many works are in the public
domain; some, mostly expressionism, may not be). **This generator inherits that licence: non-commercial
research use only.** Its images may resemble works it saw; the memorisation check below measures how often.

## Training
- Images seen: {kimg:,.0f} thousand ({epochs} epochs of batches of {bs}), in {minutes:.0f} minutes.
- Hardware: {hardware}.
- Options: {options}.
- Reproduce it: `{command}`{note}

## Scores
Protocol: {n_fake:,} generated images against the {n_real:,} held-out test paintings
(`artgan-eval RUN --real wikiart128 --split test --n 1400 --pr --n-train 0`), TF-Inception features
through torchmetrics. The floor of this protocol, 1,400 training paintings against the same 1,400 held-out
ones, is FID 40.0, KID 0.0001 at 64 px.

| | FID | KID | precision | recall |
|---|---|---|---|---|
| this generator | {fid:.1f} | {kid:.4f} +- {kid_std:.4f} | {precision:.3f} | {recall:.3f} |

Memorisation: {mem:.1%} of generated images are closer to one of the {n_mem:,} training paintings than
{q:.0%} of held-out paintings are (about {q:.0%} expected without copying). Its discriminator calls {d_fake:.0%} of
the held-out paintings fake (and {d_acc_fake:.0%} of its samples): it has learned the training set by heart.

FID during the run (the same protocol, at the checkpoints it kept):

| kimg | minutes | FID | KID |
|---|---|---|---|
{curve}

## What it cannot do
It paints at {size} px only, and {cond}. Its images are impressions of a style, not of any
subject: faces, hands, text and perspective are rarely right. It has seen only these 7 styles.

## File
`{name}.pth`, SHA-256 `{sha}`.
"""


def sha256(path): return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def card(run, name, out, classes, hardware, command, note, curve):
    "The model card's text, from the files in `run`, the class names of its data and the curve rows."
    cfg,ev = json.loads((run/'config.json').read_text()),json.loads((run/'eval.json').read_text())
    log = list(csv.DictReader(open(run/'log.csv')))
    m,t = cfg['model'],cfg['train']
    styles = ', '.join(c.replace('_', ' ') for c in classes)
    options = ', '.join(f"{k} {v}" for k,v in [*m.items(), *t.items()] if k in
                        ('arch', 'width', 'nz', 'loss', 'label_smoothing', 'diffaug', 'ema', 'precision', 'lr_g', 'lr_d'))
    rows = '\n'.join(f"| {float(r['kimg']):.0f} | {float(r['minutes']):.0f} | {float(r['fid']):.1f} | {float(r['kid']):.4f} |"
                     for r in curve)
    mem = ev['memorisation']
    return CARD.format(name=name, size=m['size'], kind='class-conditional' if m['cond'] else 'unconditional',
        mb=out.stat().st_size / 2**20, n_train=mem['n_train_all'], styles=styles, kimg=float(log[-1]['kimg']),
        epochs=log[-1]['epoch'], bs=t['bs'], minutes=sum(float(r['seconds']) for r in log) / 60, hardware=hardware,
        options=options, command=command, n_fake=ev['n_fake'], n_real=ev['n_real'], fid=ev['fid'], kid=ev['kid_mean'],
        kid_std=ev['kid_std'], precision=ev.get('precision', float('nan')), recall=ev.get('recall', float('nan')),
        mem=mem['frac_copies'], n_mem=mem['n_train'], q=mem['q'], curve=rows, note=f'\n- {note}' if note else '',
        d_fake=1 - ev['d_acc_real'], d_acc_fake=ev['d_acc_fake'],
        cond='paints the 7 styles by name (--class)' if m['cond'] else 'cannot be asked for a style', sha=sha256(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('run', type=Path)
    p.add_argument('--name', default='wikiart64')
    p.add_argument('--curve', type=Path, required=True, help='CSV of kimg,minutes,fid,kid rows')
    p.add_argument('--hardware', required=True)
    p.add_argument('--command', required=True, help='the command that trained the run')
    p.add_argument('--note', default='', help='a sentence on how the run differs from what the command does today')
    a = p.parse_args()
    out = PACKAGE/f'{a.name}.pth'
    slim = pretrained_checkpoint(load_checkpoint(checkpoint_path(a.run)))
    atomic_save(slim, out)
    mb = out.stat().st_size / 2**20
    if mb > MAX_MB: raise SystemExit(f"{out.name} is {mb:.1f} MB, more than the {MAX_MB} MB a package should carry")
    (PACKAGE/f'{a.name}.md').write_text(card(a.run, a.name, out, slim['data']['classes'], a.hardware, a.command, a.note, list(csv.DictReader(open(a.curve)))))
    print(f"wrote {out} ({mb:.1f} MB) and {a.name}.md")


if __name__ == '__main__': main()
