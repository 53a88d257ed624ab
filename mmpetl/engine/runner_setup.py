"""What ``tools/train.py``, ``tools/test.py`` and the model converters share: registering the config's library, and
distributed runs on machines without CUDA."""
import copy
import datetime
import importlib
import os
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import MODELS, init_default_scope

#: ``default_scope`` -> modules whose ``register_all_modules`` the scope needs. mmrotate's registry has no
#: ``locations`` and its configs use mmdet's modules, so it needs mmdet's too (as mmrotate's own train.py does).
SUPPORTED_SCOPES = {
    'mmdet': ('mmdet.utils', ),
    'mmseg': ('mmseg.utils', ),
    'mmpretrain': ('mmpretrain.utils', ),
    'mmrotate': ('mmdet.utils', 'mmrotate.utils'),
}


def register_scope_modules(cfg: Config) -> str:
    """Register the modules of the library named by ``cfg.default_scope`` (and what it depends on); return it.

    Raises:
        ValueError: no or an unknown ``default_scope``, naming the supported ones.
    """
    scope = cfg.get('default_scope')
    if scope not in SUPPORTED_SCOPES:
        raise ValueError(f'default_scope={scope!r} in the config; mmpetl\'s tools support '
                         f'{", ".join(SUPPORTED_SCOPES)}: inherit a config of one of these libraries '
                         "(_base_ = 'mmdet::...') or set default_scope.")
    for module in SUPPORTED_SCOPES[scope]:
        importlib.import_module(module).register_all_modules(init_default_scope=False)
    return scope


#: The names under which a config lists :class:`~mmpetl.engine.DeltaCheckpointHook` in ``custom_hooks``.
DELTA_HOOK_TYPES = ('mmpetl.DeltaCheckpointHook', 'DeltaCheckpointHook')


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` with the ``--cfg-options`` pairs merged into it."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def load_runner_config(path: str, launcher: str, cfg_options: Optional[dict] = None,
                       work_dir: Optional[str] = None) -> Tuple[Config, str]:
    """What ``tools/train.py`` and ``tools/test.py`` do before building the Runner, as mmdet's tools do: load the
    config and merge ``cfg_options``, set the launcher, register the config's library (:func:`register_scope_modules`)
    and prepare CPU distributed runs (:func:`setup_cpu_distributed`); work_dir: ``work_dir`` > the config's >
    ``./work_dirs/<config name>``.

    Returns:
        tuple: the config and its ``default_scope``.
    """
    cfg = load_config(path, {'launcher': launcher, **(cfg_options or {})})  # --cfg-options may set the launcher
    scope = register_scope_modules(cfg)
    setup_cpu_distributed(cfg, launcher)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg, scope


def build_model(cfg: Config) -> torch.nn.Module:
    """Build ``cfg.model`` in its library's scope, on the CPU, without initialising its weights."""
    init_default_scope(register_scope_modules(cfg))
    return MODELS.build(copy.deepcopy(cfg.model))


def _replace_type(node, old: str, new: str) -> int:
    """Replace ``type=old`` by ``type=new`` in every dict below ``node``; return how many."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == old:
            node['type'] = new
            count += 1
        for value in node.values():
            count += _replace_type(value, old, new)
    elif isinstance(node, list):
        for value in node:
            count += _replace_type(value, old, new)
    return count


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Make a ``--launcher pytorch`` run work without CUDA (gloo on the CPU: tests, debugging), in place.

    mmengine 0.10.7 assumes GPUs for distributed runs: its ``init_dist`` calls ``torch.cuda.set_device()`` before
    creating the process group, and its DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DDP refuses for CPU
    modules; and ``SyncBN`` runs only on GPUs. Without CUDA this creates the gloo process group itself (the Runner
    then skips ``init_dist``), sets ``env_cfg.dist_cfg.backend='gloo'``, ``device_ids=None`` in the model wrapper,
    and turns SyncBN into BN (statistics per process). With CUDA, or without a launcher, it changes nothing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(f'--launcher {launcher} needs GPUs (mmengine sets a CUDA device first); on a machine without '
                         'CUDA use --launcher pytorch (tools/dist_train.sh) for a gloo run on the CPU')
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') != 'gloo':
        print_log(f'No CUDA: the distributed backend is gloo, not {dist_cfg.get("backend", "nccl")}', logger='current')
    dist_cfg['backend'] = 'gloo'
    if not torch.distributed.is_initialized():
        timeout = dist_cfg.get('timeout')
        kwargs = dict(timeout=datetime.timedelta(seconds=timeout)) if timeout is not None else {}
        torch.distributed.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                             world_size=int(os.environ['WORLD_SIZE']), **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel', broadcast_buffers=False,
                                                   find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if _replace_type(cfg.model, 'SyncBN', 'BN'):
        print_log('No CUDA: SyncBN layers run as BN (per-process statistics)', logger='current')
