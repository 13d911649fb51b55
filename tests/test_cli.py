"End to end: the installed commands, as a user runs them."
import csv, json

from PIL import Image

from conftest import cli

TINY = ['--size', 32, '--bs', 16, '--n-images', 64, '--epochs', 2, '--nz', 16, '--width', 8]

def test_train_then_sample(tmp_path):
    r = cli('artgan-train', *TINY, '--out', tmp_path/'runs', '--name', 'tiny')
    assert r.returncode == 0, r.stderr
    run = tmp_path/'runs'/'tiny'
    assert json.loads((run/'config.json').read_text())['model']['size'] == 32
    assert sorted(p.name for p in (run/'samples').iterdir()) == ['epoch_0001.png', 'epoch_0002.png', 'evolution.gif', 'evolution.png']
    assert Image.open(run/'samples'/'epoch_0002.png').size == (8*34 + 2, 8*34 + 2)  # 64 images, 8 per row
    with open(run/'log.csv') as f: rows = list(csv.DictReader(f))
    assert [r['epoch'] for r in rows] == ['1', '2'] and all(float(r['seconds']) > 0 for r in rows)
    assert (run/'log.png').stat().st_size > 0 and (run/'checkpoints'/'last.pth').is_file()

    r = cli('artgan-sample', run, '-n', 6, '--nrow', 3, '--out', tmp_path/'grid.png')
    assert r.returncode == 0, r.stderr
    assert Image.open(tmp_path/'grid.png').size == (3*34 + 2, 2*34 + 2)
    r = cli('artgan-sample', run/'checkpoints'/'last.pth', '-n', 3, '--each', tmp_path/'each')
    assert r.returncode == 0, r.stderr
    assert [Image.open(p).size for p in sorted((tmp_path/'each').iterdir())] == [(32, 32)] * 3  # a single image has no grid border
    r = cli('artgan-sample', run, '-n', 1000000, '--out', tmp_path/'huge.png')  # refused before any image is drawn
    assert r.returncode == 1 and r.stderr.startswith('error: a grid of 1000000 images') and '--each FOLDER' in r.stderr
    assert not (tmp_path/'huge.png').exists()

    r = cli('artgan-info', run)
    assert r.returncode == 0 and f"the networks of {run}:" in r.stdout and '(2, 3, 32, 32)' in r.stdout, r.stderr

def test_misspelt_option_is_the_first_line_then_the_likely_one():
    r = cli('artgan-train', '--epoch', 3)
    assert r.returncode == 2 and r.stdout == ''
    first,second = r.stderr.splitlines()[:2]
    assert (first,second) == ('artgan-train: error: unrecognized arguments: --epoch 3', 'did you mean --epochs?')

def test_second_run_gets_new_folder(tmp_path):
    for _ in range(2): assert cli('artgan-train', *TINY[:-4], '--epochs', 1, '--width', 8, '--nz', 16, '--out', tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ['abstract-dcgan-32px', 'abstract-dcgan-32px-2']

def test_train_on_folder_reports_skips(tmp_path):
    data = tmp_path/'paintings'/'style_a'
    data.mkdir(parents=True)
    for i in range(40): Image.new('RGB', (50 + i, 40), (6*i, 100, 200)).save(data/f'{i}.jpg')
    (data/'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    r = cli('artgan-train', '--data', tmp_path/'paintings', *TINY[:4], '--epochs', 1, '--nz', 16, '--width', 8,
            '--out', tmp_path/'runs', '--cache', tmp_path/'cache')
    assert r.returncode == 0, r.stderr
    assert '40 images kept, 1 skipped' in r.stdout and 'broken.jpg' in r.stdout
    assert len(list((tmp_path/'cache').iterdir())) == 1 # the decoded images went to the cache folder given
    assert (tmp_path/'runs'/'paintings-dcgan-32px'/'checkpoints'/'last.pth').is_file()

def test_missing_data_folder_is_a_clear_error(tmp_path):
    r = cli('artgan-train', '--data', tmp_path/'nope', '--out', tmp_path)
    assert r.returncode != 0 and 'there is no folder' in r.stderr and 'Traceback' not in r.stderr

def test_info_of_a_recipe(tmp_path):
    "artgan-info --recipe NAME prints the recipe's networks and, where its paper gives them, the paper's counts beside ours."
    r = cli('artgan-info', '--recipe', 'classical128')
    assert r.returncode == 0 and r.stderr == '', r.stderr
    assert r.stdout.startswith('the networks of recipe classical128:') and '(2, 3, 128, 128)' in r.stdout
    assert r.stdout.splitlines()[-1] == 'here G 13,245,312 and D 2,763,776 parameters; the paper counts G 13,245,312 and D 2,763,776'
    r = cli('artgan-info', '--recipe', 'abstract128-shapes', '--size', 32, '--width', 4) # options over the recipe; greyscale
    assert r.returncode == 0 and '(2, 1, 32, 32)' in r.stdout and 'the paper counts' not in r.stdout, r.stderr
    r = cli('artgan-info', '--recipe', 'classical')
    assert r.returncode == 1 and r.stderr.startswith("error: unknown recipe 'classical'") and r.stderr.count('\n') == 1, r.stderr
