"""Train GANs that paint: a literate fastai package, from a folder of paintings to samples and honest metrics

Modules:

- `artgan_nb.all`: Everything public in `artgan_nb` in one import, as `fastai.vision.all` does: `from artgan_nb.all import *`."""

__version__ = "0.0.1"
from . import core # first, whatever is imported: it imports fastai with TorchScript's deprecation warnings silenced
