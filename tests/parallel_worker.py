"""Launched by tests/test_parallel.py: `worker.py OUT BS EPOCHS [RESUME_TO]` trains a tiny run with `artgan_nb.parallel.train_parallel`
(then resumes it to RESUME_TO epochs) and saves each rank's weights after every batch to OUT/weights_<world>_<rank>[_resumed].pt."""
import sys
from pathlib import Path

import torch
from fastai.callback.core import Callback
from fastai.torch_core import rank_distrib, num_distrib
from artgan_nb.parallel import train_parallel, resume_parallel

class Weights(Callback):
    "Every floating-point tensor of G's and D's state after each training batch, flattened, saved at the end of the fit."
    order = 99
    def __init__(self, path): self.path = path
    def before_fit(self): self.steps = []
    def after_batch(self):
        if self.training: self.steps.append(torch.cat([t.detach().flatten().cpu() for t in self.model.state_dict().values() if t.is_floating_point()]))
    def after_fit(self): torch.save(torch.stack(self.steps), self.path)

out,bs,epochs = Path(sys.argv[1]),int(sys.argv[2]),int(sys.argv[3])
name = f"weights_{max(num_distrib(), 1)}_{rank_distrib()}"
learn,run = train_parallel(n_images=32, size=32, nz=8, width=4, bs=bs, epochs=epochs, diffaug='none', on_collapse='off', out=str(out/'runs'),
                  device='cpu', cbs=[Weights(out/f"{name}.pt")])
if len(sys.argv) > 4: resume_parallel(run, epochs=int(sys.argv[4]), cbs=[Weights(out/f"{name}_resumed.pt")])
