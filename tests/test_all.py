"`from artgan_nb.all import *` brings the public API of every module but the command line, as `fastai.vision.all` does."
import importlib, pkgutil

import artgan_nb

def test_all_imports_every_public_name():
    names = {}
    exec('from artgan_nb.all import *', names)
    modules = [m.name for m in pkgutil.walk_packages(artgan_nb.__path__, 'artgan_nb.') if not m.ispkg]
    left_out = {'artgan_nb.cli', 'artgan_nb.all', 'artgan_nb._modidx'}
    assert {'artgan_nb.core', 'artgan_nb.run', 'artgan_nb.metrics'} < set(modules)
    for m in sorted(set(modules) - left_out):
        mod = importlib.import_module(m)
        missing = [n for n in mod.__all__ if names.get(n) is not getattr(mod, n)]
        assert not missing, f"artgan_nb.all lacks {m}'s {', '.join(missing)} (add: from .{m[len('artgan_nb.'):]} import *)"
    assert 'artgan_train' not in names
