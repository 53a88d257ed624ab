"""mmpetl's loader for local checkpoints under torch >= 2.6 (weights_only=True; see also test_safe_loading.py)."""
import pickle

import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

import mmpetl  # noqa: F401  (registers the loader)
from mmpetl.utils.checkpoint import load_local_checkpoint


def test_mmengine_uses_mmpetl_loader_for_local_files():
    assert CheckpointLoader._schemes[''] is load_local_checkpoint


def test_plain_weights_load_with_the_safe_unpickler(tmp_path):
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': {'w': torch.ones(2)}}, path)
    assert torch.equal(_load_checkpoint(path)['state_dict']['w'], torch.ones(2))


def test_training_state_loads_with_the_safe_unpickler_and_its_allowlist(tmp_path):
    path = str(tmp_path / 'iter_1.pth')
    torch.save({'message_hub': {'log_scalars': {'loss': HistoryBuffer([1.0], [1])}}}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's default
    loaded = _load_checkpoint(path)  # weights_only=True, with exactly HistoryBuffer's types allowed
    assert loaded['message_hub']['log_scalars']['loss'].current() == 1.0


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))
