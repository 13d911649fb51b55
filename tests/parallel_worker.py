"""Launched by tests/test_parallel.py: `parallel_worker.py OUT BS` trains a tiny 2-epoch run in the NCHW layout with
`artgan_nb.parallel.train_parallel`; when launched on several processes also a 2-epoch run with the default options, a
1-epoch one, then resumes that to 2 epochs. Each rank saves its weights after every batch of each fit to
OUT/weights_<processes>_<rank>_<nchw|full|part|resumed>.pt."""
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

out,bs = Path(sys.argv[1]),int(sys.argv[2])
tiny = dict(n_images=32, size=32, nz=8, width=4, bs=bs, diffaug='none', on_collapse='off', out=str(out/'runs'), device='cpu',
            precision='fp32') # compared with one process to float rounding: fp32's, not bf16's
train_parallel(**tiny, epochs=2, channels_last=False, name='nchw', cbs=[Weights('nchw')]) # compared across process counts
if num_distrib() > 1:
    train_parallel(**tiny, epochs=2, name='full', cbs=[Weights('full')])
    learn,run = train_parallel(**tiny, epochs=1, name='part', cbs=[Weights('part')])
    resume_parallel(run, epochs=2, cbs=[Weights('resumed')])
