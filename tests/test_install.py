"The base install (`pip install -e .`, no extras) lacks Accelerate: every command and `artgan_nb.all` still work."
import subprocess, sys, textwrap

BLOCK = textwrap.dedent("""
    import sys
    class NoAccelerate:
        "Find nothing named accelerate, as in a Python where it is not installed."
        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] == 'accelerate': raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, NoAccelerate())
    """)

def without_accelerate(code:str):
    "Run `code` in a fresh Python that cannot import accelerate; return the finished process."
    code = BLOCK + textwrap.dedent(code)
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=600)

def test_commands_and_all_import_without_accelerate():
    p = without_accelerate("""
        from artgan_nb.all import *
        assert 'gan_learner' in dir() and 'train_parallel' not in dir()
        from artgan_nb.cli import artgan_train
        artgan_train(['--help'])
        """)
    assert p.returncode == 0, p.stderr
    assert 'usage: artgan-train' in p.stdout and p.stderr == ''

def test_nproc_without_accelerate_says_how_to_install():
    p = without_accelerate("""
        from artgan_nb.cli import artgan_train
        artgan_train(['--nproc', '2', '--epochs', '1'])
        """)
    assert p.returncode == 1 and p.stdout == ''
    assert p.stderr.splitlines() == ["error: training on several processes needs the accelerate package: "
                                     "pip install 'artgan_nb[parallel]' (in a clone: pip install -e '.[parallel]')"]
