import os, signal, subprocess, sys, tempfile
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.parallel import DistributedDataParallel
from fastai.callback.core import Callback, CancelFitException
from fastai.distributed import DistributedDL, DistributedTrainer
from fastai.torch_core import rank_distrib, num_distrib

from .core import with_options
from .train import GANModule
from .callbacks.record import TensorBoardWriter, SampleLogger, MetricsLog, EpochSummary
from .callbacks.checkpoint import Checkpoint, Resume, catch_signals
from .run import (Config, prepare, resolved, callbacks_for, write_config, new_run_dir, run_name, RunLock, fit_stoppable,
                  read_checkpoint, start_from, checkpoint_path, check_run_folder, gan_of, continued, config_of,
                  warn_if_edited, check_data_folder, check_data, trim_log, interrupted)
import artgan_nb.run as run_mod

# ---- ranks

def world(): return rank_distrib(),max(num_distrib(), 1)

def start_ranks():
    "Join this process to the launched group (gloo on CPU, NCCL on GPUs) through Accelerate; return (rank, world size)."
    from accelerate import PartialState
    PartialState(cpu=not torch.cuda.is_available())
    return world()

def on_rank0(fn):
    "`fn()` run on rank 0 only, its value (or its error, raised) on every rank."
    box = [None]
    if world()[0] == 0:
        try: box = [(fn(), None)]
        except Exception as e: box = [(None, e)]
    dist.broadcast_object_list(box, 0)
    value,err = box[0]
    if err is not None: raise err
    return value

def comm_device(): return torch.device('cuda', torch.cuda.current_device()) if dist.get_backend() == 'nccl' else torch.device('cpu')

# ---- data

class RankDL(DistributedDL):
    "fastai's `DistributedDL` that gives rank r the r-th slice of every global batch of `world * bs` images (and broadcasts on CPU too)."
    def _broadcast(self, t, rank):
        box = [list(t)]
        dist.broadcast_object_list(box, rank)
        return box[0]

    def get_idxs(self):
        idxs = self._broadcast(self.dl.get_idxs(), 0)
        bs,step = self.dl.bs,self.dl.bs * self.world_size
        self.n = self.n_padded = len(idxs)
        return [i for s in range(0, len(idxs) - step + 1, step) for i in idxs[s + self.rank * bs:s + (self.rank + 1) * bs]]

    def __init__(self, dl, **kwargs):
        super().__init__(dl, **kwargs)
        self.bs = dl.bs * self.world_size # the global batch: what `images_seen` counts

    def __len__(self): return len(self.dl) // self.world_size
    @property
    def rng(self): return self.dl.rng # the shuffling's state, which checkpoints save and restore

# ---- batchnorm

class AllReduceSum(torch.autograd.Function):
    "The sum of a tensor over all ranks; its gradient is the sum of the ranks' gradients."
    @staticmethod
    def forward(ctx, t): t = t.clone(); dist.all_reduce(t); return t
    @staticmethod
    def backward(ctx, g): g = g.clone(); dist.all_reduce(g); return g

class SyncedBatchNorm(_BatchNorm):
    "BatchNorm whose training statistics are those of the whole global batch, summed across ranks with autograd (any backend, CPU included)."
    def _check_input_dim(self, x): pass

    def forward(self, x):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1): return super().forward(x)
        dims,C,xf = [0, *range(2, x.ndim)],x.shape[1],x.float()
        s = AllReduceSum.apply(torch.cat([xf.sum(dims), (xf * xf).sum(dims), xf.new_full((1,), x.numel() / C)]))
        n = s[-1]
        mean = s[:C] / n
        var = s[C:2 * C] / n - mean * mean
        if self.track_running_stats: self._update_running(mean.detach(), var.detach(), n)
        shape = (1, C) + (1,) * (x.ndim - 2)
        y = (xf - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine: y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running(self, mean, var, n):
        self.num_batches_tracked.add_(1)
        m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), m)
        self.running_var.lerp_((var * n / (n - 1)).to(self.running_var.dtype), m)

def sync_batchnorm(model:nn.Module):
    "Make every BatchNorm of `model` a `SyncedBatchNorm` in place (same object, same state); return them with their old classes."
    bns = [(m, type(m)) for m in model.modules() if isinstance(m, _BatchNorm)]
    for m,_ in bns: m.__class__ = SyncedBatchNorm
    return bns

def unsync_batchnorm(bns):
    for m,cls in bns: m.__class__ = cls

# ---- gradients

def _average_grad(p):
    dist.all_reduce(p.grad)
    p.grad.div_(dist.get_world_size())

def average_gradients(model:nn.Module):
    "Average each parameter's gradient across ranks as soon as a backward has accumulated it; return the hook handles."
    return [p.register_post_accumulate_grad_hook(_average_grad) for p in model.parameters() if p.requires_grad]

def rank_inputs(gan:GANModule, rank:int, world:int):
    "GAN inputs for `n` images: this rank's slice of the inputs of `n * world` images, which every rank draws alike."
    def inputs(n): return tuple(t[rank * n:(rank + 1) * n] for t in GANModule.inputs(gan, n * world))
    return inputs

# ---- callbacks

class DistributedGAN(Callback):
    "After fastai's `DistributedTrainer` wrapped the whole GAN in DDP: unwrap it, then make G and D each data-parallel."
    order = DistributedTrainer.order + 1
    def before_fit(self):
        dt,gan = self.learn.distributed_trainer,self.learn.model
        if isinstance(gan, DistributedDataParallel): self.learn.model = gan = gan.module # DDP synced the weights and buffers as it wrapped
        dt.after_fit = lambda: setattr(self.learn.dls, 'loaders', dt.old_dls) # nothing for it to unwrap
        rank,n = world()
        self.bns = sync_batchnorm(gan.generator) + sync_batchnorm(gan.discriminator)
        self.hooks = average_gradients(gan.generator) + average_gradients(gan.discriminator)
        gan.inputs = rank_inputs(gan, rank, n)

    def after_fit(self):
        for h in self.hooks: h.remove()
        unsync_batchnorm(self.bns)
        del self.learn.model.inputs

def _rng_tensors():
    return [torch.get_rng_state()] + ([torch.cuda.get_rng_state()] if torch.cuda.is_available() else [])

class RankSync(Callback):
    "Every rank draws rank 0's random numbers, sees the statistics averaged across ranks, and stops at the same batch."
    order = -8 # after GANTrainer has filled `last`, before NaNGuard and every other reader
    def before_epoch(self):
        box = [_rng_tensors()]
        dist.broadcast_object_list(box, 0)
        torch.set_rng_state(box[0][0])
        if torch.cuda.is_available(): torch.cuda.set_rng_state(box[0][1])

    def after_batch(self):
        if not self.training: return
        last,dev = self.learn.gan_trainer.last,comm_device()
        keys = list(last)
        t = torch.stack([torch.as_tensor(last[k], dtype=torch.float32).to(dev) for k in keys]
                        + [torch.tensor(float(getattr(self.learn, 'stop_signal', None) or 0), device=dev)])
        dist.all_reduce(t)
        vals = t[:-1] / dist.get_world_size()
        for k,v in zip(keys, vals): last[k] = v.to(last[k].device) if torch.is_tensor(last[k]) else float(v)
        if t[-1] > 0 and not getattr(self.learn, 'stop_signal', None): self.learn.stop_signal = signal.SIGTERM

class FollowStop(Callback):
    "Ranks > 0: end the fit where rank 0's `SignalStop` does, without a checkpoint."
    order = 101
    def stop(self, at):
        self.learn.stopped_at = at
        raise CancelFitException()
    def after_batch(self):
        if self.training and getattr(self.learn, 'stop_signal', None) and self.iter + 1 < self.n_iter: self.stop((self.epoch, self.iter + 1))
    def after_epoch(self):
        if getattr(self.learn, 'stop_signal', None): self.stop((self.epoch + 1, 0))

WRITERS = (TensorBoardWriter, SampleLogger, MetricsLog, EpochSummary, Checkpoint)

def fit_parallel(learn, cfg:Config, run:Path, ck:dict=None, cbs=None):
    "Fit `learn` data-parallel inside fastai's `distrib_ctx`: rank 0 as `fit_stoppable` does, the others without writing."
    rank,_ = world()
    learn.dls.loaders[0] = RankDL(learn.dls.train)
    cbs = [DistributedGAN(), RankSync(), *(cbs or [])]
    with learn.distrib_ctx(sync_bn=False, cpu=not torch.cuda.is_available()):
        if rank == 0: return fit_stoppable(learn, cfg, run, ck, cbs)
        with tempfile.TemporaryDirectory() as scratch:
            keep = [cb for cb in callbacks_for(cfg, Path(scratch)) if not isinstance(cb, WRITERS)]
            learn.add_cbs(keep + ([Resume(ck)] if ck else []) + cbs + [FollowStop()])
            with catch_signals(learn), learn.no_bar(), learn.no_logging(): learn.fit(cfg.train.epochs)
    return learn

def train(cfg:Config=None, cbs=None, **options):
    "`run.train` on every launched process: one run folder (rank 0's), G and D data-parallel; return (learner, run folder)."
    cfg = with_options(cfg or Config(), **options)
    if num_distrib() <= 1: return run_mod.train(cfg, cbs)
    start = read_checkpoint(cfg.run.init_from) if cfg.run.init_from else None
    rank,n = start_ranks()
    learn = prepare(cfg, report=print if rank == 0 else None)
    if start: start_from(learn, start, checkpoint_path(cfg.run.init_from))
    cfg = resolved(cfg, learn)
    run = on_rank0(lambda: new_run_dir(cfg.run.out, run_name(cfg)))
    if rank: return fit_parallel(learn, cfg, run, cbs=cbs),run
    with RunLock(run):
        write_config(cfg, run, f"{learn.dls.device}, {n} processes")
        print(f"run folder: {run} ({n} processes)")
        return fit_parallel(learn, cfg, run, cbs=cbs),run

def resume(run, epochs:int=None, allow_data_change:bool=False, cbs=None, on_nan:str=None):
    "`run.resume` on every launched process (launch as many as the run had: the global batch is theirs); return (learner, run folder)."
    if num_distrib() <= 1: return run_mod.resume(run, epochs, allow_data_change, cbs, on_nan)
    rank,n = start_ranks()
    run,lock = check_run_folder(run),RunLock(run)
    on_rank0(lambda: lock.__enter__() and None) # every rank stops if the folder is in use
    try:
        ck = read_checkpoint(run, resume=True)
        gan_of(ck, name=checkpoint_path(run))
        cfg = continued(config_of(ck), ck, run, epochs, on_nan)
        if rank == 0: warn_if_edited(run, ck)
        check_data_folder(cfg, run)
        learn = prepare(cfg, report=None)
        check_data(ck.get('data'), learn.data_identity, run, allow_data_change)
        if rank == 0:
            write_config(cfg, run, f"{learn.dls.device}, {n} processes")
            trim_log(run/'log.csv', ck['epoch'])
            print(f"resuming {run} after {ck['epoch']} epochs" + (f" and {ck['batch']} batches" if ck['batch'] else '') + f" of {cfg.train.epochs} ({n} processes)")
        ck = {**ck, 'pct_train': ck['pct_train'] * config_of(ck).train.epochs / cfg.train.epochs}
        return fit_parallel(learn, cfg, run, ck, cbs),run
    finally:
        if rank == 0: lock.__exit__()

def launch_args(argv, nproc:int, script=None):
    "The `accelerate launch` command line that runs `script` (default: `artgan-train`) with `argv` on `nproc` processes."
    script = script or Path(sys.executable).parent/'artgan-train'
    return [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', str(nproc), '--num_machines', '1',
            '--mixed_precision', 'no', '--dynamo_backend', 'no', str(script), *map(str, argv)]

def launch(argv, nproc:int, script=None):
    "Run `script` (default: `artgan-train`) with `argv` on `nproc` processes through `accelerate launch`; return its exit status."
    return subprocess.run(launch_args(argv, nproc, script)).returncode
