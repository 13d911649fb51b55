"""The pages as stored: clean outputs, sane sizes, one module per notebook, a complete sidebar, README links that
resolve. Fast: reads the notebooks' JSON, executes nothing."""
import json, re, sys

import pytest

from conftest import ROOT

NBS = ROOT/'nbs'
sys.path.insert(0, str(ROOT/'tools'))
import build_site, readme  # noqa: E402

MAX_BYTES = 1_500_000
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))
RECIPE_NBS = build_site.recipe_notebooks() # nbs/recipes: tutorials, exporting nothing
NUMBERED = sorted(p for p in NOTEBOOKS if re.match(r'\d\d[a-z]?_', p.name)) # 09a_recipes sorts between 09_ and 10_

# What a reader must never see in a stored output, with the reason a failure gives.
BAD = [(re.compile(r'/work/|/tmp/|/home/|/root/|/usr/|site-packages'), 'an absolute machine path'),
       (re.compile(r'Warning'), "the word 'Warning'"),
       (re.compile(r'Traceback'), "a 'Traceback'"),
       (re.compile(r'████|\d+\.\d\d% \[|\|#|<progress\b'), 'progress-bar text')]

def text(x):
    "Notebook JSON text (a string or a list of lines) as one string."
    return ''.join(x) if isinstance(x, list) else (x or '')

def output_texts(out):
    "The text a reader sees in one output: stream text, every text/* representation, an error's name, value and traceback."
    if out.get('output_type') == 'stream': return [text(out.get('text'))]
    if out.get('output_type') == 'error': return [out.get('ename', ''), out.get('evalue', ''), '\n'.join(out.get('traceback', []))]
    return [text(v) for k,v in out.get('data', {}).items() if k.startswith('text/')]

def problems(nb:dict, name:str):
    "Every problem in the stored outputs of notebook JSON `nb`, as 'NAME cell I (first line): what'."
    found = []
    for i,c in enumerate(nb.get('cells', [])):
        where = f"{name} cell {i} ({text(c.get('source')).strip().splitlines()[0][:60] if text(c.get('source')).strip() else 'empty'!r})"
        for out in c.get('outputs', []):
            if out.get('output_type') == 'error': found.append(f"{where}: an error output ({out.get('ename')})")
            for t in output_texts(out):
                for pat,what in BAD:
                    if m := pat.search(t): found.append(f"{where}: {what}: ...{t[max(0, m.start()-40):m.end()+40]!r}...")
    return found

def default_exps(nb:dict):
    "The module names of the notebook's `#| default_exp` directives."
    return [m.group(1) for c in nb.get('cells', []) if c.get('cell_type') == 'code'
            for m in re.finditer(r'^#\|\s*default_exp\s+(\S+)', text(c.get('source')), re.M)]

def module_of(stem:str):
    "The module a numbered notebook exports: `02_data_collection` -> `data.collection`, `04_models` -> `models`."
    return re.sub(r'^\d+[a-z]?_', '', stem).replace('_', '.')

# --- the checks themselves, on a synthetic notebook ---

def _nb(*outputs, source='x'):
    return {'cells': [{'cell_type': 'markdown', 'source': '# T'},
                      {'cell_type': 'code', 'source': ['#| default_exp data.collection\n', source], 'outputs': list(outputs)}]}

def test_problems_on_a_synthetic_notebook():
    clean = _nb({'output_type': 'stream', 'name': 'stdout', 'text': ['loss 0.69\n', 'saved runs/demo/samples.png\n']},
                {'output_type': 'execute_result', 'data': {'text/plain': ['(64, 3, 32, 32)'], 'image/png': 'iVBOR/tmp/'}},
                {'output_type': 'display_data', 'data': {'text/html': '<b>ok</b>'}})
    assert problems(clean, 'nb') == []  # an image's bytes are not text a reader sees
    bad = {'/work/main/nbs/x.png': 'an absolute machine path', '.venv/lib/python3.11/site-packages/fastai': 'an absolute machine path',
           'UserWarning: careful': "the word 'Warning'", 'Traceback (most recent call last)': "a 'Traceback'",
           '████████': 'progress-bar text', '100.00% [4/4 00:01<00:00]': 'progress-bar text', '|####  |': 'progress-bar text',
           '<progress value="3" max="4"></progress>': 'progress-bar text'}
    for t,what in bad.items():
        for out in ({'output_type': 'stream', 'name': 'stderr', 'text': t}, {'output_type': 'execute_result', 'data': {'text/plain': t}},
                    {'output_type': 'display_data', 'data': {'text/html': [t]}}):
            ps = problems(_nb(out, source='print(1)'), '02_x.ipynb')
            assert len(ps) == 1 and ps[0].startswith("02_x.ipynb cell 1 ('#| default_exp data.collection')") and what in ps[0], (t, ps)
    err = {'output_type': 'error', 'ename': 'ValueError', 'evalue': 'bad', 'traceback': ['ValueError: bad']}
    assert problems(_nb(err), 'nb') == ["nb cell 1 ('#| default_exp data.collection'): an error output (ValueError)"]
    assert default_exps(clean) == ['data.collection'] and module_of('02_data_collection') == 'data.collection'
    assert module_of('04_models') == 'models' and module_of('09_callbacks_checkpoint') == 'callbacks.checkpoint'
    assert module_of('09a_recipes') == 'recipes'

def test_readme_link_rewriting(tmp_path):
    (tmp_path/'nbdev.yml').write_text('website:\n  site-url: "https://example.org/docs/"\n')
    for n in ('index', '00_core', '06_train', '_scratch'): (tmp_path/f'{n}.ipynb').write_text('{}')
    (tmp_path/'images').mkdir(); (tmp_path/'images'/'grid.png').write_bytes(b'')
    md = ('[core](00_core.ipynb) [train](06_train.ipynb#the-loop) [page](06_train.html) [nbdev page](core.html#seeding) '
          '[other](genindex.html) [web](https://fast.ai) [here](#quickstart) ![grid](images/grid.png) '
          '<img src="images/grid.png"> [license](../LICENSE)')
    assert readme.fix_links(md, tmp_path) == (
        '[core](nbs/00_core.ipynb) [train](nbs/06_train.ipynb#the-loop) [page](nbs/06_train.ipynb) [nbdev page](nbs/00_core.ipynb) '
        '[other](https://example.org/docs/genindex.html) [web](https://fast.ai) [here](#quickstart) ![grid](nbs/images/grid.png) '
        '<img src="nbs/images/grid.png"> [license](../LICENSE)')

# --- the project's notebooks ---

@pytest.mark.parametrize('path', NOTEBOOKS + RECIPE_NBS, ids=lambda p: p.name)
def test_outputs_clean(path):
    ps = problems(json.loads(path.read_text()), path.name)
    assert not ps, f"{len(ps)} unclean output(s) in {path.name}:\n" + '\n'.join(ps[:20])

@pytest.mark.parametrize('path', NOTEBOOKS + RECIPE_NBS, ids=lambda p: p.name)
def test_notebook_size(path):
    n = path.stat().st_size
    assert n <= MAX_BYTES, f"{path.name} is {n/1e6:.2f} MB (at most {MAX_BYTES/1e6} MB): smaller figures (figsize, dpi), fewer images"

@pytest.mark.parametrize('path', NOTEBOOKS + RECIPE_NBS, ids=lambda p: p.name)
def test_one_module_per_notebook(path):
    mods = default_exps(json.loads(path.read_text()))
    if path.name == 'index.ipynb' or path in RECIPE_NBS: assert mods == [], f"{path.name} exports {mods}"
    else: assert mods == [module_of(path.stem)], f"{path.name}: `#| default_exp` {mods}, expected exactly [{module_of(path.stem)!r}]"

def test_sidebar_complete():
    "nbs/sidebar.yml (nbdev-docs) lists index.ipynb and every numbered notebook, in order, as the built site's TOC does."
    listed = re.findall(r'^\s*-\s*(\S+)\s*$', (NBS/'sidebar.yml').read_text(), re.M)
    expected = [p.name for p in build_site.notebooks()]
    assert expected == ['index.ipynb'] + [p.name for p in NUMBERED]
    expected += [f'recipes/{p.name}' for p in RECIPE_NBS]
    assert listed == expected, f"nbs/sidebar.yml lists {listed}, the notebooks are {expected}: run python tools/build_site.py --sidebar"

def test_recipe_pages_follow_the_recipes():
    "The site's Recipes part lists one page per recipe, in `RECIPES` order, then the comparison."
    from artgan_nb.recipes import RECIPES
    assert build_site.RECIPE_PAGES == (*RECIPES, 'compare')

def test_readme_links_resolve():
    "Every relative link in README.md points to a file in the repository."
    md = (ROOT/'README.md').read_text()
    targets = [m.group(2) or m.group(4) for m in readme.LINK.finditer(md)]
    rel = [t.partition('#')[0] for t in targets if t.partition('#')[0] and not re.match(r'^([a-z][a-z0-9+.-]*:|/)', t, re.I)]
    missing = [t for t in rel if not (ROOT/t).exists()]
    assert rel and not missing, f"README.md links to missing files: {missing}"
