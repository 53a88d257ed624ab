"""tools/analysis_tools/init_perturbation.py: how far a method's fresh modules move the pretrained swin-mini's
features, on real images through the real config and checkpoint."""
import importlib.util
import json
import os.path as osp

import pytest

from conftest import ROOT


def _tool():
    spec = importlib.util.spec_from_file_location('init_perturbation',
                                                  osp.join(ROOT, 'tools/analysis_tools/init_perturbation.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    from mmpetl.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('coco')
    make_toy_coco(str(root), num_train=2, num_val=1, size=64)
    return str(root / 'train')


def test_identity_methods_move_nothing_and_reference_lorand_moves_most(images, tmp_path, capsys):
    out = tmp_path / 'p.json'
    assert _tool().main(['--images', images, '--methods', 'LoRA', 'LoRand', 'LoRand:bias_init=zeros',
                         '--out', str(out)]) == 0
    change = json.loads(out.read_text())['change']
    assert len(change['LoRA']) == 4 and max(change['LoRA']) == 0.0  # zero-initialised up factor: the identity
    assert all(z > 0 for z in change['LoRand (bias_init zeros)'])
    assert all(u > 3 * z for u, z in zip(change['LoRand'], change['LoRand (bias_init zeros)']))
    assert '| LoRand (bias_init zeros) |' in capsys.readouterr().out


@pytest.mark.parametrize('argv,message', [
    (['--methods', 'Nope'], "Nope"),
    (['--methods', 'LoRand:bias_init'], 'give its options as METHOD:OPTION=VALUE'),
    (['--methods', 'HST'], 'HST:'),
])
def test_bad_methods_are_named(images, argv, message, capsys):
    assert _tool().main(['--images', images] + argv) == 2
    assert message in capsys.readouterr().err


def test_no_images_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _tool().parse_args(['--images', str(tmp_path)])
    assert 'no .png or .jpg images' in capsys.readouterr().err
