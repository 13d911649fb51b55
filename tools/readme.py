"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs): its markdown cells,
and its visible code cells as Python blocks. Figures stay on the docs site.

    python tools/readme.py [--check]

With --check, write nothing and exit 1 if README.md is out of date.
"""
import argparse, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

def shown(cell):
    "Is the cell's source part of the page? (not `#| hide`, not `#| echo: false`)"
    heads = {l.strip() for l in cell.source.splitlines() if l.startswith('#|')}
    return not ({'#| hide', '#| echo: false'} & heads)

def readme(nb):
    "The README text for the notebook `nb`."
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(c.source)
        elif c.cell_type == 'code' and shown(c): parts.append(f"```python\n{c.source}\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='exit 1 if README.md is out of date, write nothing')
    text,path = readme(nbformat.read(ROOT/'nbs'/'index.ipynb', as_version=4)),ROOT/'README.md'
    if ap.parse_args().check:
        if not path.exists() or path.read_text() != text: sys.exit('README.md is out of date: run python tools/readme.py')
    else: path.write_text(text)
