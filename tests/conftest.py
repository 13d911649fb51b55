import shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIKIART = ROOT.parent/'shared'/'data'/'wikiart128'

def cli(name, *args, cwd=None, timeout=600, env=None):
    "Run the installed command `name` (next to this Python) in environment `env` (None: this one's); the process."
    exe = Path(sys.executable).parent/name
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env)

@pytest.fixture
def wikiart():
    "The shared WikiArt folder, or a skip with the reason."
    if not WIKIART.is_dir(): pytest.skip(f"shared WikiArt data not found at {WIKIART}")
    return WIKIART
