"""Build the documentation site offline with Jupyter Book 1.x (Sphinx), from the notebooks and the outputs
stored in them. Quarto, which `nbdev-docs` uses, need not be installed.

    python tools/build_site.py [--out _site]

writes the site to OUT/_build/html (open OUT/_build/html/index.html). Notebooks are not executed: run `nbdev-test --save`
or execute them in Jupyter first if their outputs are stale.
"""
import argparse, subprocess, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
HIDDEN = ('hide', 'default_exp')  # directives whose cells the site leaves out

def directives(cell):
    "The nbdev directives (`#| name ...`) at the top of a code cell, by name."
    lines = cell.source.splitlines()
    return {l[3:].split()[0] for l in lines if l.startswith('#| ') and len(l) > 3}

def for_site(nb):
    "The notebook as a reader should see it: hidden cells dropped, directive lines removed."
    cells = []
    for c in nb.cells:
        if c.cell_type == 'code':
            if directives(c) & set(HIDDEN): continue
            c.source = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|'))
        cells.append(c)
    nb.cells = cells
    nb.metadata.setdefault('language_info', {'name': 'python'})  # nbdev-clean strips it; Sphinx needs it for highlighting
    return nb

def notebooks():
    "index.ipynb, then the numbered notebooks in order; scratch notebooks (`_*`) are skipped."
    return [NBS/'index.ipynb'] + sorted(p for p in NBS.glob('[0-9]*.ipynb'))

CONFIG = """title: artgan_nb
author: artgan_nb developers
only_build_toc_files: true
execute:
  execute_notebooks: "off"
html:
  use_repository_button: false
  home_page_in_navbar: true
sphinx:
  config:
    html_show_copyright: false
    nb_merge_streams: true
"""

def build(out:Path):
    "Write processed notebooks, `_config.yml` and `_toc.yml` to OUT/src, then build OUT/html."
    src = out/'src'
    src.mkdir(parents=True, exist_ok=True)
    names = []
    for p in notebooks():
        nbformat.write(for_site(nbformat.read(p, as_version=4)), src/p.name)
        names.append(p.stem)
    (src/'_config.yml').write_text(CONFIG)
    (src/'_toc.yml').write_text('format: jb-book\nroot: index\nchapters:\n' + ''.join(f'- file: {n}\n' for n in names[1:]))
    subprocess.run([sys.executable, '-c', 'from jupyter_book.cli.main import main; main()', 'build', '--all', '-q', str(src), '--path-output', str(out)], check=True)
    return out/'_build'/'html'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'_site'), help='output folder (default: _site)')
    print(f"site: {build(Path(ap.parse_args().out).resolve())/'index.html'}")
