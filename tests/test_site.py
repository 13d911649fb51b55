"The documentation site builds offline and renders in a real browser, maths included, with no network."
import re, shutil, subprocess, sys

import pytest

from conftest import ROOT

def chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None: pytest.skip("Chromium not found (Debian: apt-get install chromium)")
    return exe

def render(exe, page, tmp_path):
    "The DOM of `page` after Chromium has loaded it, headless and offline (every host unresolvable, a dead proxy)."
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=127.0.0.1:9', '--proxy-bypass-list=<-loopback>',
             f'--user-data-dir={tmp_path/"profile"}', '--virtual-time-budget=10000', '--dump-dom']
    r = subprocess.run([exe, *flags, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('site')
    r = subprocess.run([sys.executable, ROOT/'tools'/'build_site.py', '--out', out], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return out/'_build'/'html'

def test_home_page(site, tmp_path):
    dom = render(chromium(), site/'index.html', tmp_path)
    assert re.search(r'<title>\s*artgan_nb', dom)
    for page in ('00_core.html', '06_train.html', '12_cli.html'): assert f'href="{page}"' in dom  # the navigation
    assert 'Quickstart' in dom
    assert re.search(r'<img[^>]+src="_images/[^"]+\.png"', dom)  # the dataset's sample grid

def test_notebook_page(site, tmp_path):
    dom = render(chromium(), site/'07_callbacks_record.html', tmp_path)
    assert re.search(r'<title>\s*\w', dom) and '<h1>' in dom
    assert 'href="06_train.html"' in dom and 'href="08_callbacks_guards.html"' in dom and 'href="index.html"' in dom  # prev, next, home
    assert 'SampleLogger' in dom and 'MetricsLog' in dom
    assert re.search(r'<img[^>]+src="_images/[^"]+\.png"', dom)  # the run's sample grid

def test_no_remote_assets(site):
    "No page loads a script, stylesheet, image or font from the network (MathJax included: it is in _static)."
    remote = re.compile(r'<(?:script|img|iframe)\b[^>]*\bsrc\s*=\s*["\']?(?:https?:)?//|<link\b[^>]*\bhref\s*=\s*["\']?(?:https?:)?//', re.I)
    pages = sorted(site.glob('*.html'))
    assert len(pages) > 5
    for p in pages:
        m = remote.search(p.read_text())
        assert m is None, f"{p.name} loads a remote asset: {m.group(0)}"
    assert (site/'_static'/'mathjax'/'MathJax.js').is_file()
    for css in site.glob('_static/**/*.css'): assert not re.search(r'url\(\s*["\']?(?:https?:)?//', css.read_text()), css

def test_maths_rendered_offline(site, tmp_path):
    "Every page with maths has it, and nothing else, typeset by the local MathJax in a browser with no network."
    exe, pages = chromium(), [p for p in sorted(site.glob('*.html')) if 'class="math notranslate' in p.read_text()]
    assert site/'04_models.html' in pages  # $\mathcal{N}(0, 0.02)$ for the weights' initialisation
    for p in pages:
        n_math = len(re.findall(r'class="math notranslate nohighlight"', p.read_text()))
        dom = render(exe, p, tmp_path)
        frames = re.findall(r'<span class="MathJax" id="MathJax-Element-\d+-Frame"', dom)
        left = re.findall(r'class="math notranslate nohighlight">\s*\\[(\[]', dom)  # TeX still showing as source
        assert len(frames) == n_math and not left, f"{p.name}: {n_math} maths, {len(frames)} typeset, {len(left)} left as TeX"
        assert 'Math Processing Error' not in dom, p.name

def images_loaded(site, name, tmp_path):
    "The DOM of the page `name` and its count of images: (loaded, total)."
    probe = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-images', "
             "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length + '/' + document.images.length));</script>")
    page = site/f'{name}_probe.html'  # beside the page, so that its relative image links resolve
    page.write_text((site/f'{name}.html').read_text().replace('</body>', probe + '</body>'))
    try: dom = render(chromium(), page, tmp_path)
    finally: page.unlink()
    return dom, tuple(map(int, re.search(r'data-images="(\d+)/(\d+)"', dom).groups()))

@pytest.mark.parametrize('name,shows,least', [('13_explore', 'Neighbours', 4), ('13b_widgets', 'ExplorerUI', 1)])
def test_explorer_pages_render_their_images(site, tmp_path, name, shows, least):
    "The explorer's pages show their pictures (samples, walk, directions, nearest paintings; the still of the widgets), every one loaded."
    dom, (loaded, total) = images_loaded(site, name, tmp_path)
    assert shows in dom and 'href="12_cli.html"' in dom
    assert loaded == total >= least, f"{name}: {loaded} of {total} images loaded"
