__version__ = "0.0.1"
from . import core # first, whatever is imported: it imports fastai with TorchScript's deprecation warnings silenced
