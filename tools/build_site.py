"""Build the documentation site offline with Jupyter Book 1.x (Sphinx), from the notebooks and the outputs
stored in them. Quarto, which `nbdev-docs` uses, need not be installed.

    python tools/build_site.py [--out _site]
    python tools/build_site.py --sidebar     # rewrite nbs/sidebar.yml (nbdev-docs' sidebar) from the notebooks

writes the site to OUT/_build/html (open OUT/_build/html/index.html). The table of contents is the notebooks on
disk: index.ipynb, then every numbered notebook (`NN_name.ipynb`) in order; scratch notebooks (`_*`) are left
out. Notebooks are not executed: run `nbdev-test --save` or execute them in Jupyter first if their outputs are
stale. Maths is typeset in the browser by MathJax 2, copied into the site from the `jupyter-server-mathjax`
package (a `dev` extra), so pages need no network.
"""
import argparse, importlib.util, json, shutil, subprocess, sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
HIDDEN = ('hide', 'default_exp')  # directives whose cells the site leaves out
MATHJAX_PKG = 'jupyter_server_mathjax'  # PyPI: jupyter-server-mathjax; MathJax 2.7 under its `static/`
MATHJAX_STATIC = '_mathjax'  # in the book's source folder; holds mathjax/, which becomes _static/mathjax in the site

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

# The "Recipes" part of the site, in this order (the papers as in `artgan_nb.recipes.RECIPES`, then the comparison);
# any other notebook in nbs/recipes follows, sorted.
RECIPE_PAGES = ('wikiart-dcgan64', 'classical128', 'portraits64', '19c-dcgan128', 'abstract128', 'abstract128-shapes',
                'fastgan64', 'artgan', 'compare')

def notebooks(nbs=NBS):
    "index.ipynb, then the numbered notebooks (`NN_name.ipynb`) in order; scratch notebooks (`_*`) are skipped."
    return [nbs/'index.ipynb'] + sorted(p for p in nbs.glob('[0-9]*.ipynb'))

def recipe_notebooks(nbs=NBS):
    "The notebooks of nbs/recipes, in `RECIPE_PAGES` order, then any others sorted; scratch notebooks (`_*`) skipped."
    found = [p for p in (nbs/'recipes').glob('*.ipynb') if not p.name.startswith('_')]
    rank = {n: i for i,n in enumerate(RECIPE_PAGES)}
    return sorted(found, key=lambda p: (rank.get(p.stem, len(rank)), p.name))

def sidebar_yml(nbs=NBS):
    "The text of nbs/sidebar.yml for the notebooks on disk (tests/test_pages.py checks the committed file)."
    recipes = recipe_notebooks(nbs)
    part = '      - section: Recipes\n        contents:\n' + ''.join(f'          - recipes/{p.name}\n' for p in recipes) if recipes else ''
    return 'website:\n  sidebar:\n    contents:\n' + ''.join(f'      - {p.name}\n' for p in notebooks(nbs)) + part

def mathjax_dir():
    "The MathJax 2 folder (MathJax.js, config/, jax/, fonts/) of the installed `jupyter-server-mathjax`."
    spec = importlib.util.find_spec(MATHJAX_PKG)  # finds the package without importing it (it imports jupyter_server)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{MATHJAX_PKG} not found: pip install -e '.[dev]' (it ships the MathJax the site uses offline)")
    static = Path(next(iter(spec.submodule_search_locations)))/'static'
    if not (static/'MathJax.js').is_file(): sys.exit(f"no MathJax.js in {static}")
    return static

# MathJax 2: typeset only what Sphinx marks as maths (`\(..\)`, `\[..\]` inside class `math`): every other element
# is ignored (ignoreClass `.*` matches any class, even none; processClass re-enables an element and its content),
# so a literal `\(` in prose stays text. The package ships the STIX web fonts only: use them and no image fonts
# (as Jupyter's classic notebook does).
MATHJAX2_CONFIG = {
    'tex2jax': {'inlineMath': [['\\(', '\\)']], 'displayMath': [['\\[', '\\]']], 'processEscapes': True,
                'processEnvironments': True,
                'processClass': 'tex2jax_process|mathjax_process|math', 'ignoreClass': '.*'},
    'HTML-CSS': {'availableFonts': [], 'preferredFont': None, 'webFont': 'STIX-Web', 'imageFont': None},
    'showMathMenu': False, 'messageStyle': 'none',
}

def config():
    "The Jupyter Book `_config.yml` (JSON is YAML)."
    return json.dumps({
        'title': 'artgan_nb', 'author': 'artgan_nb developers', 'only_build_toc_files': True,
        'execute': {'execute_notebooks': 'off'},
        'html': {'use_repository_button': False, 'home_page_in_navbar': True},
        'sphinx': {'config': {
            'html_show_copyright': False, 'nb_merge_streams': True,
            'mathjax_path': 'mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full',  # relative: under _static
            'mathjax2_config': MATHJAX2_CONFIG,
            'mathjax3_config': None,
            'html_static_path': [MATHJAX_STATIC],  # copied into _static/; not `_static`, whose .js Jupyter Book would all load
            'myst_update_mathjax': False,  # else myst-parser writes a MathJax 3 config
        }},
    }, indent=2) + '\n'

def toc():
    "The Jupyter Book `_toc.yml`: the library's notebooks, then the part \"Recipes\"."
    parts = [('Library', [p.stem for p in notebooks()[1:]]), ('Recipes', [f'recipes/{p.stem}' for p in recipe_notebooks()])]
    return 'format: jb-book\nroot: index\nparts:\n' + ''.join(f'- caption: {cap}\n  chapters:\n' + ''.join(f'  - file: {n}\n' for n in names)
                                                              for cap,names in parts if names)

def build(out:Path):
    "Write processed notebooks, their images, `_config.yml`, `_toc.yml` and MathJax to OUT/src, then build OUT/_build/html."
    src = out/'src'
    src.mkdir(parents=True, exist_ok=True)
    (src/'recipes').mkdir(exist_ok=True)
    for p in notebooks() + recipe_notebooks(): nbformat.write(for_site(nbformat.read(p, as_version=4)), src/p.relative_to(NBS))
    (src/'_config.yml').write_text(config())
    (src/'_toc.yml').write_text(toc())
    shutil.copytree(mathjax_dir(), src/MATHJAX_STATIC/'mathjax', dirs_exist_ok=True)
    shutil.copytree(NBS/'images', src/'images', dirs_exist_ok=True) # the pictures the markdown shows
    subprocess.run([sys.executable, '-c', 'from jupyter_book.cli.main import main; main()', 'build', '--all', '-q', str(src), '--path-output', str(out)], check=True)
    return out/'_build'/'html'

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'_site'), help='output folder (default: _site)')
    ap.add_argument('--sidebar', action='store_true', help='write nbs/sidebar.yml from the notebooks on disk and stop')
    args = ap.parse_args()
    if args.sidebar: (NBS/'sidebar.yml').write_text(sidebar_yml()); print(f"wrote {NBS/'sidebar.yml'}")
    else: print(f"site: {build(Path(args.out).resolve())/'index.html'}")
