"Each option is written once: every command shows it with the default Python uses, and config.json round-trips."
import json, os, re, subprocess, sys
from pathlib import Path

import pytest

from artgan_nb.core import option_fields, to_dict
from artgan_nb.models import ModelSpec
from artgan_nb.data.abstract import render_abstract
from artgan_nb.data.loaders import gan_dls
from artgan_nb.train import TrainOptions, gan_learner
from artgan_nb.checkpoint import read_checkpoint
from artgan_nb.run import Config, train, read_config, config_of
from artgan_nb.cli import INFO_FIELDS, PREPARE_FIELDS, EVAL_FIELDS

COMMANDS = {'artgan-train': option_fields(Config), 'artgan-info': INFO_FIELDS, 'artgan-prepare': PREPARE_FIELDS, 'artgan-eval': EVAL_FIELDS}

def help_text(name):
    "The command's --help, unwrapped (one option a line)."
    exe = Path(sys.executable).parent/name
    r = subprocess.run([str(exe), '--help'], capture_output=True, text=True, env=dict(os.environ, COLUMNS='10000'), timeout=120)
    assert r.returncode == 0 and r.stderr == '', r.stderr # no warning printed either
    return r.stdout

@pytest.mark.parametrize('name', COMMANDS)
def test_help_shows_every_option_with_its_python_default(name):
    lines = '\n'.join(l for l in help_text(name).splitlines() if l.startswith(('  -', '   '))) # no group title or blurb
    blocks = [' '.join(b.split()) for b in re.split(r'\n(?=  -)', lines)] # one option's lines, joined
    for f in COMMANDS[name]:
        flag = '--' + f.name.replace('_', '-')
        m = next((re.search(r"\(default: ([^()]*)\)$", b) for b in blocks if re.match(rf"{re.escape(flag)}[ ,]", b)), None)
        assert m, f"{name} --help lacks {flag}"
        assert m.group(1) == ('auto' if f.default is None else str(f.default)), (flag, m.group(1), f.default)

def test_every_option_is_offered_by_train():
    "Every option a user may set is a flag of artgan-train; the others are filled in from the data, or by 'auto' precision."
    names = {f.name for f in option_fields(Config)}
    assert {f.name for f in option_fields(Config, cli_only=False)} - names == {'nc', 'n_classes', 'mean', 'std', 'precision_auto'}
    assert len(names) == len(option_fields(Config)) # one name, one option

def test_python_defaults_are_the_commands():
    "`gan_learner` with no options builds the default spec with the default training options."
    dls = gan_dls(render_abstract(32, size=32), bs=16)
    learn = gan_learner(dls, size=32)
    spec = learn.model.spec
    assert {f.name: getattr(spec, f.name) for f in option_fields(ModelSpec)} == {**{f.name: f.default for f in option_fields(ModelSpec)}, 'size': 32}
    assert learn.opts == TrainOptions().resolved()

def test_config_json_round_trips(tmp_path):
    learn,run = train(n_images=48, size=32, bs=16, epochs=1, nz=16, width=8, out=str(tmp_path), name='rt')
    text = (run/'config.json').read_text()
    assert 'null' not in text
    saved = json.loads(text)
    env = saved.pop('env')
    assert set(env) == {'artgan_nb', 'torch', 'python', 'device', 'processes'} and env['processes'] == 1
    cfg = read_config(run/'config.json')
    assert json.loads(json.dumps(to_dict(cfg))) == saved and cfg == config_of(read_checkpoint(run)) # config.json is the checkpoint's config, exactly
    assert (cfg.model.nc, cfg.model.mean, cfg.train.label_smoothing) == (3, (0.5,) * 3, 0.1) # values used, not 'auto'
