"The documentation site builds offline and renders in a real browser."
import re, shutil, subprocess, sys

import pytest

from conftest import ROOT

def chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None: pytest.skip("Chromium not found (Debian: apt-get install chromium)")
    return exe

def render(exe, page, tmp_path):
    "The DOM of `page` after Chromium has loaded it, headless and offline."
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             f'--user-data-dir={tmp_path/"profile"}', '--virtual-time-budget=5000', '--dump-dom']
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
    for page in ('00_core.html', '04_train.html', '06_cli.html'): assert f'href="{page}"' in dom  # the navigation
    assert 'Quickstart' in dom
    assert re.search(r'<img[^>]+src="_images/[^"]+\.png"', dom)  # the dataset's sample grid

def test_notebook_page(site, tmp_path):
    dom = render(chromium(), site/'05_callbacks.html', tmp_path)
    assert re.search(r'<title>\s*Callbacks', dom)
    assert 'href="04_train.html"' in dom and 'href="index.html"' in dom
    assert 'SampleLogger' in dom and 'MetricsLog' in dom
    assert re.search(r'<img[^>]+src="_images/[^"]+\.png"', dom)  # the run's sample grid
