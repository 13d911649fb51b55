"""Launched by tests/test_parallel.py: `parallel_worker.py OUT BS` trains a tiny 2-epoch run with Adam's eps at 1
(`LinearAdam`) by `artgan_nb.parallel.train_parallel`; when launched on several processes also a 2-epoch run with the
default options, a 1-epoch one, then resumes that to 2 epochs. Each rank saves its weights after every batch of each fit
to OUT/weights_<processes>_<rank>_<linear|full|part|resumed>.pt."""
import sys
from pathlib import Path

import torch
from fastai.callback.core import Callback
from fastai.torch_core import rank_distrib, num_distrib
from artgan_nb.parallel import train_parallel, resume_parallel

class Weights(Callback):
    "Every floating-point tensor of G's and D's state after each training batch, flattened, saved at the end of the fit."
    order = 99
    def __init__(self, tag): self.path = out/f"weights_{max(num_distrib(), 1)}_{rank_distrib()}_{tag}.pt"
    def before_fit(self): self.steps = []
    def after_batch(self):
        if self.training: self.steps.append(torch.cat([t.detach().flatten().cpu() for t in self.model.state_dict().values() if t.is_floating_point()]))
    def after_fit(self): torch.save(torch.stack(self.steps), self.path)

class LinearAdam(Callback):
    "Adam's eps at 1 in both optimizers: a step moves a weight by lr * g / (|g| + 1), smooth in its gradient g."
    def before_fit(self):
        for opt in (self.learn.opt.opt, self.learn.gan_trainer.opt_d):
            for group in opt.param_groups: group['eps'] = 1.0

out,bs = Path(sys.argv[1]),int(sys.argv[2])
tiny = dict(n_images=32, size=32, nz=8, width=4, bs=bs, diffaug='none', flip=0.0, on_collapse='off', out=str(out/'runs'), device='cpu',
            precision='fp32') # compared with one process to float32 rounding, not bf16's
train_parallel(**tiny, epochs=2, name='linear', cbs=[Weights('linear'), LinearAdam()]) # compared across process counts
if num_distrib() > 1:
    train_parallel(**tiny, epochs=2, name='full', cbs=[Weights('full')])
    learn,run = train_parallel(**tiny, epochs=1, name='part', cbs=[Weights('part')])
    resume_parallel(run, epochs=2, cbs=[Weights('resumed')])
