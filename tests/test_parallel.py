"""Data-parallel training on CPU: 2 processes (gloo) launched by `accelerate launch`, as `artgan-train --nproc 2` does.
Both ranks hold identical weights after every batch; 2 processes with batch 8 each match 1 process with batch 16 to 1e-5
(float sums in another order: measured 2e-7); a 2-process run stopped after an epoch and resumed ends with the very
weights of the uninterrupted run."""
import os, subprocess, sys
from pathlib import Path

import pytest, torch

from artgan_nb.parallel import launch_args

WORKER = Path(__file__).parent/'parallel_worker.py'

def run_worker(cmd, out):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(WORKER.parents[1]), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, cwd=out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "Weights after every batch: 2 processes x batch 8 (2 epochs; 1 epoch then resumed to 2), and 1 process x batch 16 (2 epochs)."
    out = tmp_path_factory.mktemp('parallel')
    run_worker(launch_args([out, 8], 2, WORKER), out)
    run_worker([sys.executable, str(WORKER), str(out), '16'], out)
    return lambda name: torch.load(out/f"weights_{name}.pt", weights_only=True)

def test_ranks_identical(runs):
    a,b = runs('2_0_full'),runs('2_1_full')
    assert a.shape[0] == 4 and torch.equal(a, b) # 2 epochs of 2 batches
    assert torch.equal(runs('2_0_resumed'), runs('2_1_resumed'))

def test_matches_one_process_double_batch(runs):
    two,one = runs('2_0_full'),runs('1_0_full')
    assert two.shape == one.shape
    assert not torch.equal(two[0], two[-1]) # the weights moved
    torch.testing.assert_close(two, one, rtol=0, atol=1e-5)

def test_resume_exact(runs):
    full,first,rest = runs('2_0_full'),runs('2_0_part'),runs('2_0_resumed')
    assert torch.equal(first, full[:2]) and torch.equal(rest, full[2:])
