"""The roads through the package: which of its functions and modules a user's journey passes.

Run: OMP_NUM_THREADS=1 python tools/roads.py [--repo DIR]

Two journeys, each a command called in this process on a tiny folder of images (16 pictures, 32 px):
'folder -> grid' is `artgan-train --data DIR` for one epoch (it writes the epoch's sample grid), 'run -> sample grid'
is `artgan-sample RUN` on that run. For each it prints, from Python's profiler, the package's functions entered (its
distinct functions, by module) and the longest chain of the package's own frames on the stack when the grid is written
(`core.save_grid`), which is what a reader follows from the command to the picture. `--repo` measures another checkout
(for example `git worktree add /tmp/old COMMIT`), so two versions are measured the same way. Nothing is asserted.
"""
import argparse, importlib, sys, tempfile
from contextlib import redirect_stdout, redirect_stderr
from io import StringIO
from pathlib import Path

from PIL import Image


class Road:
    "The package's functions entered while profiling, and the package frames on the stack at each `save_grid`."
    def __init__(self, root): self.root,self.entered,self.chains = str(root),set(),[]

    def ours(self, frame): return frame.f_code.co_filename.startswith(self.root)

    def __call__(self, frame, event, arg):
        if event != 'call' or not self.ours(frame): return
        name = (Path(frame.f_code.co_filename).relative_to(self.root).with_suffix('').as_posix(), frame.f_code.co_name)
        self.entered.add(name)
        if name[1] == 'save_grid':
            chain,f = [],frame
            while f is not None:
                if self.ours(f): chain.append(f.f_code.co_name)
                f = f.f_back
            self.chains.append(chain[::-1])

    def report(self, title):
        modules = sorted({m for m,_ in self.entered})
        chain = max(self.chains, key=len) if self.chains else []
        print(f"{title}: {len(self.entered)} functions entered in {len(modules)} modules; "
              f"{len(chain)} package frames from the command to the grid")
        print('  modules: ' + ', '.join(modules))
        print('  to the grid: ' + ' -> '.join(chain))


def journey(cli, road, fn, argv):
    "Run the command `fn` of `cli` with `argv`, its output hidden, profiled into `road`."
    sys.setprofile(road)
    try:
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()): getattr(cli, fn)(argv)
    finally: sys.setprofile(None)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repo', type=Path, default=Path(__file__).resolve().parents[1], help='the checkout to measure')
    a = p.parse_args()
    sys.path.insert(0, str(a.repo.resolve()))
    cli = importlib.import_module('artgan_nb.cli')
    pkg = Path(cli.__file__).parent
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i in range(16):
            (tmp/'art'/f"c{i % 2}").mkdir(parents=True, exist_ok=True)
            Image.new('RGB', (40, 36), (16 * i, 255 - 16 * i, 128)).save(tmp/'art'/f"c{i % 2}"/f"{i}.png")
        train = Road(pkg)
        journey(cli, train, 'artgan_train', ['--data', str(tmp/'art'), '--size', '32', '--epochs', '1', '--bs', '8',
                                             '--workers', '0', '--cache', str(tmp/'cache'), '--out', str(tmp),
                                             '--name', 'run'])
        train.report('folder -> grid')
        sample = Road(pkg)
        journey(cli, sample, 'artgan_sample', [str(tmp/'run'), '-n', '16', '--out', str(tmp/'grid.png')])
        sample.report('run -> sample grid')


if __name__ == '__main__': main()
