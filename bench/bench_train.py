"""Training images per second: the plain PyTorch DCGAN loop (`../shared/bench/dcgan_ref.py`) against `gan_learner`
with every callback `artgan-train` adds, on identical networks (DCGAN 64 px, width 64, nz 100, transposed-convolution
upsampling as the reference has, BCE, batch 128).

Run: PYTHONPATH=. python bench/bench_train.py [--ref ../shared/bench/dcgan_ref.py] [--rounds 5] [--iters 4] [--precision fp32|bf16] [--no-reuse-fakes] [--compile] [--no-channels-last] [--other-layout]
     PYTHONPATH=. python bench/bench_train.py --precisions [--recipes artgan,fastgan64] [--rounds 4] [--iters 4]
With --precisions it times ours in fp32 and in bf16 instead, in interleaved rounds, for DCGAN-64 (the networks
above) and for each recipe of --recipes at 64 px, then says whether this CPU computes bf16 natively (what
`--precision auto` decides) beside the fp32 and bf16 matmul rates.
Rounds interleave the two loops (reference, then ours), so that a busy machine slows both alike; each prints
images/s, and the end the median of the per-round ratios ours/reference. Each side times `iters` batches after
one untimed batch: the reference its `step` on one random batch, ours the batches of a one-epoch `fit` (data
loading, the run folder's callbacks and the live bar included; the epoch's end, which writes the sample grid,
the log and the checkpoint, is not timed). The reference always runs in float32. GFLOP/s count the
reference's work per image (torch's FLOP counter on one reference step) against 2048x2048 matrix products
in float32 and bfloat16 timed in the same run. Timings on shared CPUs are noisy: compare the ratios, and the
script never asserts on time.
"""
import argparse, contextlib, importlib.util, io, statistics, tempfile, time, warnings
from pathlib import Path

import torch
from fastai.callback.core import Callback
from torch.utils.flop_counter import FlopCounterMode

from artgan_nb.callbacks.progress import LiveProgress
from artgan_nb.run import Config, build_learner, as_used, callbacks_for, with_recipe
from artgan_nb.train import auto_precision


class BatchClock(Callback):
    "The time after each training batch."
    order = 1000 # after every other callback
    def before_fit(self): self.times = []
    def after_batch(self): self.times.append(time.perf_counter())


REF = Path(__file__).resolve().parents[2]/'shared'/'bench'/'dcgan_ref.py' # ../shared from the project's root

def load_reference(path):
    "The reference module `dcgan_ref.py` at `path`."
    spec = importlib.util.spec_from_file_location('dcgan_ref', path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

def reference(ref, bs:int, iters:int):
    "A reference trainer and a function timing `iters` of its steps after one untimed step: images/s."
    torch.manual_seed(0)
    t,real = ref.Trainer(bs),torch.rand(bs, 3, 64, 64) * 2 - 1
    def rate():
        t.step(real)
        start = time.perf_counter()
        for _ in range(iters): t.step(real)
        return bs * iters / (time.perf_counter() - start)
    return t,rate


DCGAN64 = dict(size=64, width=64, nz=100, g_up='deconv', loss='bce', label_smoothing=0.0, diffaug='none') # the reference's networks

def ours(bs:int, iters:int, run:Path, recipe:str='', **options):
    "A learner as `artgan-train` builds it (from `recipe`, then `options`), with its run-folder callbacks, and a function timing `iters` batches: images/s."
    cfg = with_recipe(Config(), recipe, data='builtin:abstract', n_images=bs * (iters + 1), bs=bs, epochs=1, device='cpu', **options)
    learn = build_learner(cfg, report=None)
    clock = BatchClock()
    learn.add_cbs(callbacks_for(as_used(cfg, learn), run) + [LiveProgress(), clock])
    def rate():
        with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()): learn.fit(1)
        return bs * iters / (clock.times[-1] - clock.times[0])
    return learn,rate


def flops_per_image(t, bs:int=8):
    "Floating-point operations of one reference step, per image (forward and backward of both networks)."
    with FlopCounterMode(display=False) as fc: t.step(torch.rand(bs, 3, 64, 64) * 2 - 1)
    return fc.get_total_flops() / bs


def matmul_gflops(dtype, n:int=2048, reps:int=2):
    "GFLOP/s of an n x n matrix product in `dtype`, the best of `reps` (after a small warm-up: bf16 is slow without native support)."
    a,b = torch.randn(n, n, dtype=dtype),torch.randn(n, n, dtype=dtype)
    a[:256, :256] @ b[:256, :256]
    best = min(_timed(lambda: a @ b) for _ in range(reps))
    return 2 * n**3 / best / 1e9


def _timed(f):
    start = time.perf_counter(); f(); return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--rounds', type=int, default=5, help='interleaved rounds (reference, then ours)')
    p.add_argument('--iters', type=int, default=4, help='batches timed per round and side')
    p.add_argument('--bs', type=int, default=128, help='batch size')
    p.add_argument('--precision', default='fp32', choices=('fp32', 'bf16'), help="ours: autocast precision (the reference stays fp32)")
    p.add_argument('--reuse-fakes', action=argparse.BooleanOptionalAction, default=True, help="ours: the G step reuses D's fakes, as the reference does")
    p.add_argument('--matmul-n', type=int, default=2048, help='side of the matrices of the GFLOP/s yardstick')
    p.add_argument('--ref', default=str(REF), help='the reference loop, dcgan_ref.py')
    p.add_argument('--compile', action='store_true', help='ours: torch.compile G and D (the compile time is printed apart)')
    p.add_argument('--channels-last', action=argparse.BooleanOptionalAction, default=Config().train.channels_last,
                   help="ours: channels-last weights and images (default: artgan-train's)")
    p.add_argument('--other-layout', action='store_true', help='also time ours in the other memory layout in each round, after ours')
    p.add_argument('--precisions', action='store_true', help='time ours in fp32 and bf16 (no reference): DCGAN-64 and --recipes')
    p.add_argument('--recipes', default='artgan,fastgan64', help='with --precisions: recipes timed at 64 px besides DCGAN-64')
    a = p.parse_args()
    warnings.filterwarnings('ignore')
    if a.precisions: return precisions(a)
    flags = open('/proc/cpuinfo').read() if Path('/proc/cpuinfo').exists() else ''
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, avx512_bf16: {'avx512_bf16' in flags}, "
          f"amx_bf16: {'amx_bf16' in flags}; batch {a.bs}, ours: precision {a.precision}, reuse_fakes {a.reuse_fakes}, compile {a.compile}, channels_last {a.channels_last}")
    with tempfile.TemporaryDirectory() as d:
        t,ref_rate = reference(load_reference(a.ref), a.bs, a.iters)
        gflop = flops_per_image(t) / 1e9
        opts = dict(precision=a.precision, reuse_fakes=a.reuse_fakes, compile=a.compile)
        learn,our_rate = ours(a.bs, a.iters, Path(d), channels_last=a.channels_last, **DCGAN64, **opts)
        other = ours(a.bs, a.iters, Path(d)/'other', channels_last=not a.channels_last, **DCGAN64, **opts)[1] if a.other_layout else None
        if a.compile:
            for name,rate in [('ours', our_rate)] + ([('ours in the other layout', other)] if other else []):
                start = time.perf_counter(); rate()
                print(f"compile, {name}: first epoch of {a.iters + 1} batches took {time.perf_counter() - start:.1f} s")
        ratios,layouts = [],[]
        for r in range(a.rounds):
            ref,our = ref_rate(),our_rate()
            ratios.append(our / ref)
            print(f"round {r + 1}: reference {ref:6.1f} img/s  ours {our:6.1f} img/s  ratio {our / ref:.2f}", flush=True)
            if other:
                alt = other(); layouts.append(our / alt)
                print(f"         ours in the other layout {alt:6.1f} img/s  ours/other {our / alt:.2f}", flush=True)
            last = ref,our
        fp32,bf16 = matmul_gflops(torch.float32, a.matmul_n),matmul_gflops(torch.bfloat16, a.matmul_n)
    med = statistics.median(ratios)
    print(f"median ratio ours/reference {med:.2f} (rounds {min(ratios):.2f}-{max(ratios):.2f})")
    if layouts: print(f"median ratio ours/ours in the other layout {statistics.median(layouts):.2f} (rounds {min(layouts):.2f}-{max(layouts):.2f})")
    print(f"work: {gflop:.2f} GFLOP per image per iteration; last round: reference {gflop * last[0]:.1f} GFLOP/s, "
          f"ours {gflop * last[1]:.1f} GFLOP/s; {a.matmul_n}x{a.matmul_n} matmul: fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s")


def precisions(a):
    "Ours in fp32 and bf16 in interleaved rounds, for DCGAN-64 and each recipe of `a.recipes` at 64 px; then the matmul rates."
    precision,why = auto_precision(torch.device('cpu'))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {a.bs}; --precision auto here: {precision} ({why})")
    nets = {'dcgan64': ('', DCGAN64), **{r: (r, dict(size=64)) for r in a.recipes.split(',') if r}}
    rates,res = {},{}
    with tempfile.TemporaryDirectory() as d:
        for name,(recipe,options) in nets.items():
            for p in ('fp32', 'bf16'): rates[name, p] = ours(a.bs, a.iters, Path(d)/f"{name}-{p}", recipe, precision=p, **options)[1]
        for r in range(a.rounds):
            for name in nets:
                f,b = rates[name, 'fp32'](),rates[name, 'bf16']()
                res.setdefault(name, []).append((f, b))
                print(f"round {r + 1}: {name:12} fp32 {f:6.1f} img/s  bf16 {b:6.1f} img/s  bf16/fp32 {b / f:.2f}", flush=True)
    for name,rows in res.items():
        f,b = statistics.median(x[0] for x in rows),statistics.median(x[1] for x in rows)
        print(f"median {name:12} fp32 {f:6.1f} img/s  bf16 {b:6.1f} img/s  bf16/fp32 {statistics.median(x[1] / x[0] for x in rows):.2f}")
    fp32,bf16 = matmul_gflops(torch.float32, a.matmul_n),matmul_gflops(torch.bfloat16, a.matmul_n)
    print(f"{a.matmul_n}x{a.matmul_n} matmul: fp32 {fp32:.1f} GFLOP/s, bf16 {bf16:.1f} GFLOP/s"
          + ('' if precision == 'bf16' else "; this CPU has no native bf16 (or torch does not use it): bf16 is emulated here, keep fp32"))


if __name__ == '__main__': main()
