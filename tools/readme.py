"""Write README.md from nbs/index.ipynb without Quarto (which `nbdev-readme` needs): its markdown cells,
and its visible code cells as Python blocks. Figures stay on the docs site.

    python tools/readme.py [--check]

README.md sits at the repository root and the notebooks in nbs/, so relative links are rewritten to resolve
on the forge: `NN_name.ipynb` (or any file in nbs/) -> `nbs/NN_name.ipynb`; a site page `NN_name.html` (or
nbdev's `name.html`) -> the notebook it is built from, `nbs/NN_name.ipynb`; any other `*.html` -> the docs site
(`site-url` in nbs/nbdev.yml). With --check, write nothing and exit 1 if README.md is out of date.
"""
import argparse, re, sys
from pathlib import Path

import nbformat, yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

def shown(cell):
    "Is the cell's source part of the page? (not `#| hide`, not `#| echo: false`)"
    heads = {l.strip() for l in cell.source.splitlines() if l.startswith('#|')}
    return not ({'#| hide', '#| echo: false'} & heads)

def site_url(nbs=NBS):
    "The docs site's address, from nbdev.yml (`website: site-url`), without a trailing slash."
    return yaml.safe_load((nbs/'nbdev.yml').read_text())['website']['site-url'].rstrip('/')

def fix_link(target, nbs=NBS, site=None):
    "The README (repository-root) form of the link `target` written in nbs/index.ipynb."
    if re.match(r'^([a-z][a-z0-9+.-]*:|#|/)', target, re.I): return target  # absolute, anchor or root-relative
    path, sep, frag = target.partition('#')
    if path.endswith('.html'):
        stem = path[:-5]
        cands = [nbs/f'{stem}.ipynb', *sorted(nbs.glob(f'[0-9][0-9]_{stem}.ipynb'))]  # `core.html`: nbdev's name for 00_core
        nb = next((p for p in cands if p.is_file() and not p.name.startswith('_')), None)
        if nb is not None: return f'nbs/{nb.name}'  # the forge shows the notebook; a page anchor means nothing there
        return f'{site or site_url(nbs)}/{target}'
    if path.endswith('.ipynb') or (path and (nbs/path).exists()): return f'nbs/{path}{sep}{frag}'
    return target

LINK = re.compile(r'(\]\(\s*<?)([^)\s>]+)|(\b(?:href|src)\s*=\s*["\'])([^"\']+)')

def fix_links(md, nbs=NBS, site=None):
    "Markdown `md` with its inline links `[..](target)` and `href=`/`src=` attributes made repository-root relative."
    site = site or site_url(nbs)
    def sub(m):
        if m.group(1): return m.group(1) + fix_link(m.group(2), nbs, site)
        return m.group(3) + fix_link(m.group(4), nbs, site)
    return LINK.sub(sub, md)

def readme(nb, nbs=NBS):
    "The README text for the notebook `nb` (kept in `nbs`)."
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(fix_links(c.source, nbs))
        elif c.cell_type == 'code' and shown(c): parts.append(f"```python\n{c.source}\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--check', action='store_true', help='exit 1 if README.md is out of date, write nothing')
    text,path = readme(nbformat.read(NBS/'index.ipynb', as_version=4)),ROOT/'README.md'
    if ap.parse_args().check:
        if not path.exists() or path.read_text() != text: sys.exit('README.md is out of date: run python tools/readme.py')
    else: path.write_text(text)
