"""mmpetl's loader for local checkpoints under torch >= 2.6 (weights_only=True; see also test_safe_loading.py)."""
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint, load_from_local

from mmpetl.utils.checkpoint import SAFE_SCHEME, load_from_mmpetl_safe, safe_load_checkpoint, safe_uri


def test_mmengine_loads_safe_names_with_mmpetls_loader_and_other_names_with_its_own():
    assert safe_uri('x.pth') == SAFE_SCHEME + 'x.pth' and safe_uri(safe_uri('x.pth')) == safe_uri('x.pth')
    assert safe_uri(None) is None
    assert CheckpointLoader._get_checkpoint_loader(safe_uri('x.pth')) is load_from_mmpetl_safe
    assert CheckpointLoader._get_checkpoint_loader('x.pth') is load_from_local


def test_plain_weights_load_with_the_safe_unpickler(tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}}, path)
    assert torch.equal(safe_load_checkpoint(path)['state_dict']['w'], torch.ones(2))
    assert torch.equal(_load_checkpoint(safe_uri(path))['state_dict']['w'], torch.ones(2))  # as the Runner loads


def test_training_state_loads_with_the_safe_unpickler_and_its_allowlist(tmp_path):
    path = str(tmp_path / 'iter_1.pth')
    torch.save({'message_hub': {'log_scalars': {'loss': HistoryBuffer([1.0], [1])}}}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's default
    loaded = _load_checkpoint(safe_uri(path))  # weights_only=True, with exactly HistoryBuffer's types allowed
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.0


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_load_checkpoint(str(tmp_path / 'nope.pth'))
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(safe_uri(str(tmp_path / 'nope.pth')))
