"""Everything public in `artgan_nb` in one import, as `fastai.vision.all` does: `from artgan_nb.all import *`.
Written by hand, one line per module in import order; `cli` (the `artgan-*` commands) is left out."""
from .core import *
from .data.abstract import *
from .data.collection import *
from .data.loaders import *
from .fastgan import *
from .grow import *
from .models import *
from .ema import *
from .export import *
from .losses import *
from .checkpoint import *
from .train import *
from .callbacks.record import *
from .callbacks.progress import *
from .callbacks.guards import *
from .callbacks.checkpoint import *
from .recipes import *
from .run import *
try: from .parallel import *
except MissingExtra: pass # several processes need the `parallel` extra (Accelerate); the rest runs without it
from .metrics import *
from .fid import *
from .explore import *
from .write import *
from .widgets import *
