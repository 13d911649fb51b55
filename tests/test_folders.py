"Folders as users have them: links, special files, odd names, unreadable folders, run folders and caches inside the data, labels CSVs."
import os, re, shutil
from pathlib import Path

import pytest
from PIL import Image

from artgan_nb.core import RUN_MARKER
from artgan_nb.data.collection import DataError, format_report, prepare_data
from conftest import cli

def pictures(folder, n, colour=(200, 40, 40)):
    "Write `n` small PNGs to `folder` (created)."
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n): Image.new('RGB', (24, 24), (colour[0], colour[1], 10 * i)).save(folder/f"{i}.png")

def prepare(root, tmp_path, **kw): return prepare_data(root, size=16, cache_dir=tmp_path/'cache', workers=0, **kw)

def test_linked_class_folder_is_read(tmp_path):
    root = tmp_path/'art'
    pictures(root/'calm', 1); pictures(tmp_path/'elsewhere', 2)
    os.symlink(tmp_path/'elsewhere', root/'loud')
    cache,report = prepare(root, tmp_path)
    assert report['kept'] == 3 and report['classes'] == {'calm': 1, 'loud': 2} and report['left_out'] == {}

def test_link_loop_is_left_out_with_its_reason(tmp_path):
    root = tmp_path/'art'
    pictures(root/'calm', 2)
    os.symlink('..', root/'calm'/'up')      # back to the collection: a loop
    os.symlink('.', root/'calm'/'here')     # to its own folder
    _,report = prepare(root, tmp_path)
    assert report['kept'] == 2
    assert report['left_out'] == {str(root/'calm'/'here'): 'a link to a folder already read', str(root/'calm'/'up'): 'a link to a folder already read'}
    assert 'left out: 2 a link to a folder already read' in format_report(report)

def test_dangling_link_and_fifo_are_skipped_with_reasons(tmp_path):
    root = tmp_path/'art'
    pictures(root, 2)
    os.symlink(tmp_path/'gone.png', root/'dangling.png'); os.mkfifo(root/'pipe.jpg')
    _,report = prepare(root, tmp_path)
    assert report['kept'] == 2
    assert report['skipped'] == {str(root/'dangling.png'): 'dangling link', str(root/'pipe.jpg'): 'not a regular file (FIFO)'}
    assert report['reasons'] == {'dangling link': 1, 'not a regular file (FIFO)': 1}

def test_names_that_are_not_utf8_are_kept_and_shown_escaped(tmp_path):
    root = tmp_path/'art'
    pictures(root/'ok', 1)
    odd = root/os.fsdecode(b'caf\xe9'); pictures(odd, 1)
    shutil.copy(odd/'0.png', odd/os.fsdecode(b'\xff.png')); (odd/os.fsdecode(b'\xfe.jpg')).touch()
    _,report = prepare(root, tmp_path)
    assert report['kept'] == 3 and report['classes'] == {'caf\\xe9': 2, 'ok': 1}
    assert report['escaped'] == ['caf\\xe9/0.png', 'caf\\xe9/\\xfe.jpg', 'caf\\xe9/\\xff.png']
    assert report['skipped'] == {f"{root}/caf\\xe9/\\xfe.jpg": 'empty file'}
    r = cli('artgan-prepare', root, '--size', 32, '--cache', tmp_path/'cache', '--workers', 0)
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    assert 'names that are not UTF-8, kept and shown escaped: caf\\xe9/0.png' in r.stdout and 'labels: caf\\xe9 2, ok 1' in r.stdout

@pytest.mark.skipif(os.geteuid() == 0, reason='root reads every folder and file whatever its permissions')
def test_unreadable_folder_and_file_are_counted(tmp_path):
    root = tmp_path/'art'
    pictures(root/'calm', 2); pictures(root/'locked', 3)
    (root/'calm'/'1.png').chmod(0); (root/'locked').chmod(0)
    try: _,report = prepare(root, tmp_path)
    finally: (root/'locked').chmod(0o755); (root/'calm'/'1.png').chmod(0o644)
    assert report['kept'] == 1
    assert report['left_out'] == {str(root/'locked'): 'unreadable folder: Permission denied'}
    assert report['skipped'] == {str(root/'calm'/'1.png'): 'unreadable: Permission denied'}

def test_run_folders_and_caches_inside_the_data_are_left_out(tmp_path):
    root = tmp_path/'art'
    pictures(root/'calm', 2)
    pictures(root/'runs'/'new'/'samples', 4); (root/'runs'/'new'/RUN_MARKER).touch()
    pictures(root/'old', 4); (root/'old'/'config.json').write_text('{}'); (root/'old'/'checkpoints').mkdir()
    _,first = prepare_data(root, size=16, cache_dir=root/'caches', workers=0)   # the caches go inside the data folder
    _,report = prepare_data(root, size=16, cache_dir=root/'caches', workers=0)
    assert report['kept'] == 2 and report['classes'] == {'calm': 2} and report['reused']
    assert report['left_out'] == {str(root/'caches'/Path(first['cache']).name): 'cache folder', str(root/'old'): 'run folder',
                                  str(root/'runs'/'new'): 'run folder'}
    assert 'left out: 1 cache folder, 2 run folder' in format_report(report)
    with pytest.raises(DataError, match='is a run folder of artgan_nb, not a collection of images'): prepare(root/'runs'/'new', tmp_path)

@pytest.mark.parametrize('text,expect', [
    ('file,label\ncalm/0.png,a\ncalm/1.png\n', 'line 3: fewer fields than the header'),
    ('file,label\ncalm/0.png,a,b\n', 'line 2: 3 fields, the header has 2'),
    ('file,label\ncalm/0.png,a\n,b\n', 'line 3: no file name'),
    ('file,label\ncalm/0.png,\n', 'line 2: no label for calm/0.png'),
    ('file,label\ncalm/0.png,a\ncalm/1.png,b\ncalm/0.png,b\n', 'line 4: calm/0.png is listed again (first on line 2)'),
    ('name,style\ncalm/0.png,a\n', 'needs the columns file,label; it has name,style'),
    (b'file,label\ncalm/\xff.png,a\n', 'is not UTF-8 text'),
    (None, 'no such labels CSV')])
def test_labels_csv_problems_name_the_row(tmp_path, text, expect):
    root,csv = tmp_path/'art',tmp_path/'labels.csv'
    pictures(root/'calm', 2)
    if text is not None: csv.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DataError, match=re.escape(expect)): prepare(root, tmp_path, labels_csv=csv)
    assert not (tmp_path/'cache').exists() or not any((tmp_path/'cache').iterdir())

def test_labels_csv_problem_is_one_line_at_the_command_line(tmp_path):
    root,csv = tmp_path/'art',tmp_path/'labels.csv'
    pictures(root/'calm', 2); csv.write_text('file,label\ncalm/0.png,a\ncalm/1.png\n')
    r = cli('artgan-prepare', root, '--labels-csv', csv, '--size', 32, '--cache', tmp_path/'cache')
    assert r.returncode == 1 and r.stderr == f"error: {csv} line 3: fewer fields than the header's 2\n"

def test_same_size_same_time_replacement_needs_verify(tmp_path):
    root = tmp_path/'art'; root.mkdir()
    for i in range(3): Image.new('RGB', (24, 24), (200, 40, 10 * i)).save(root/f"{i}.bmp")
    before,_ = prepare(root, tmp_path)
    f = root/'1.bmp'; st = f.stat()
    Image.new('RGB', (24, 24), (10, 200, 10)).save(f)        # another picture: an uncompressed BMP of the same size
    assert f.stat().st_size == st.st_size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    stale,report = prepare(root, tmp_path)
    assert report['reused'] and (stale.images == before.images).all()   # the cheap check trusts size and time
    fresh,report = prepare(root, tmp_path, verify=True)
    assert not report['reused'] and report['verified']
    assert report['notes'] == [f"rebuilt the cache {Path(report['cache']).name}: the bytes of 1 of its files changed since it was built: 1.bmp"]
    assert fresh.images[1, 1].float().mean() > 150 and (fresh.images[[0, 2]] == before.images[[0, 2]]).all()
    again,report = prepare(root, tmp_path, verify=True)
    assert report['reused'] and report['verified'] and report['notes'] == [] and 'reused and verified' in format_report(report)

def test_labels_csv_with_a_huge_field_names_the_line(tmp_path):
    root,csv = tmp_path/'art',tmp_path/'labels.csv'
    pictures(root/'calm', 1); csv.write_text('file,label\ncalm/0.png,' + 'x' * 200_000 + '\n')
    with pytest.raises(DataError, match='labels.csv line 2: field larger than field limit'): prepare(root, tmp_path, labels_csv=csv)
