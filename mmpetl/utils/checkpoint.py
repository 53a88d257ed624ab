"""Loading mmengine's own checkpoints under torch >= 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 loads local checkpoints without saying
``weights_only``, and its training checkpoints hold Python objects besides tensors: the message hub's
``HistoryBuffer`` pickles its statistics functions through ``getattr``, which the safe unpickler refuses (allowing
``getattr`` would make it unsafe), so resuming fails with ``Weights only load failed`` (mmengine#1655).

mmpetl replaces mmengine's loader for local files: every file is first loaded with ``weights_only=True`` (pretrained
weights, delta checkpoints: plain tensors); a file the safe unpickler refuses is loaded with ``weights_only=False``, as
mmengine did before torch 2.6, with a warning naming it — only load checkpoints you trust. Set
``MMPETL_WEIGHTS_ONLY=1`` to refuse such files instead.
"""
import os
import os.path as osp
import pickle

import torch
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local-file loader with the fallback described above."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if os.environ.get('MMPETL_WEIGHTS_ONLY') == '1':
            raise
        reason = str(err).split('WeightsUnpickler error: ')[-1].split('.')[0]
        print_log(f'{filename} holds Python objects besides tensors ({reason}): loading it with weights_only=False, '
                  'as mmengine did before torch 2.6. Only load checkpoints you trust; MMPETL_WEIGHTS_ONLY=1 refuses '
                  'such files.', logger='current', level=30)
        return torch.load(filename, map_location=map_location, weights_only=False)


def register_checkpoint_loader() -> None:
    """Make :func:`load_local_checkpoint` mmengine's loader for local paths (idempotent)."""
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
