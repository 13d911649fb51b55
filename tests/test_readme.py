"README.md's Python examples run as written on a fresh clone: only the training budget is made tiny here."
import os, re, subprocess, sys

from conftest import ROOT, cli

BUDGET = "train(size=32, n_images=512, epochs=10, minutes=2)"
TINY = "train(size=32, n_images=16, epochs=1, bs=8, nz=16, width=8)"

def python_example():
    "The code block of README's 'How to use it from Python'."
    section = (ROOT/'README.md').read_text().split('## How to use it from Python', 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)

def test_python_example_runs(tmp_path):
    code = python_example()
    assert BUDGET in code, "the README's train() call changed: update BUDGET here"
    r = subprocess.run([sys.executable, '-c', code.replace(BUDGET, TINY)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr
    assert (tmp_path/'grid.png').stat().st_size > 0 and (tmp_path/'runs').is_dir()
    assert 'tensor(' in r.stdout # the distances printed

def test_pretrained_lines_run(tmp_path):
    "The two lines under README's 'A generator that learned': the command writes its grid, the Python draws it."
    section = (ROOT/'README.md').read_text().split('## A generator that learned', 1)[1].split('\n## ', 1)[0]
    sh,py = re.search(r"```sh\n(.*?)```", section, re.S).group(1),re.search(r"```python\n(.*?)```", section, re.S).group(1)
    name,*args = sh.split()
    r = cli(name, *args, cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path/'grid.png').stat().st_size > 0, r.stderr
    r = subprocess.run([sys.executable, '-c', py], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                       env={**os.environ, 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, r.stderr
