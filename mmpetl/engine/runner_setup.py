"""What ``tools/train.py``, ``tools/test.py`` and the model converters share: registering the config's library, and
distributed runs on machines without CUDA."""
import copy
import datetime
import difflib
import importlib
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.config.config import DELETE_KEY
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


def new_key_warnings(cfg: Config, cfg_options: dict, expected_new: Sequence[str] = ()) -> List[str]:
    """A warning for each ``--cfg-options`` key that creates a key the config did not have.

    mmengine's ``merge_from_dict`` adds a missing key silently, so a typo (``train_cfg.max_iter=2`` for
    ``max_iters``) changes nothing and the run goes on with the config's value. The dotted key is walked through the
    config: list indices are followed; the first part that is missing from a dict that exists is the suspicious one
    (what lies below it is a new dict created as a whole, nothing to check). The warning names the closest existing
    keys at that place (difflib), or lists them. Keys in ``expected_new`` are meant to be new (the tools add
    ``launcher``).

    Raises:
        KeyError: a list index past the end of the list (mmengine would raise a bare one).
        TypeError: a dotted key that goes through a value that is neither a dict nor a list (mmengine would raise a
            message about child and base configs).
    """
    # ``a.b._delete_=True`` replaces a.b as a whole: the keys given below it are new by design.
    replaced = {tuple(key.split('.')[:-1]) for key in cfg_options if key.split('.')[-1] == DELETE_KEY}
    warnings = []
    for full_key, value in cfg_options.items():
        parts = full_key.split('.')
        if full_key in expected_new or any(tuple(parts[:n]) in replaced for n in range(len(parts))):
            continue
        node = cfg._cfg_dict
        for depth, part in enumerate(parts):
            where = '.'.join(parts[:depth]) or 'the top level'
            if isinstance(node, list) and part.isdigit():
                if int(part) >= len(node):
                    raise KeyError(f'--cfg-options {full_key}={value!r}: index {part} is past the end of {where}, '
                                   f'a list of {len(node)} entries (valid indices 0..{len(node) - 1})')
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    existing = [str(k) for k in node]
                    close = difflib.get_close_matches(part, existing, n=3, cutoff=0.75)
                    prefix = '.'.join(parts[:depth + 1])
                    hint = (f'did you mean {" or ".join(".".join([*parts[:depth], c]) for c in close)}?' if close
                            else f'keys at {where}: {", ".join(existing[:20])}{", ..." if len(existing) > 20 else ""}')
                    warnings.append(f'--cfg-options {full_key}={value!r} creates a key the config did not have: '
                                    f'{prefix} ({hint})')
                    break
                node = node[part]
            elif isinstance(node, list):
                raise TypeError(f'--cfg-options {full_key}={value!r}: {where} is a list in the config; index it with '
                                f'a number ({where}.0.{".".join(parts[depth:])}), not {part!r}')
            else:
                raise TypeError(f'--cfg-options {full_key}={value!r}: {where} is {node!r} in the config, not a dict '
                                f'or a list, so it has no key {part!r}; set {where} as a whole instead (e.g. '
                                f'--cfg-options {where}="dict(...)")')
    return warnings


def load_config(path: str, cfg_options: Optional[dict] = None, expected_new: Sequence[str] = ()) -> Config:
    """The config at ``path`` with the ``--cfg-options`` pairs merged into it.

    A key that the config did not have is merged all the same (a new option may be meant), with a warning that names
    it and the closest existing keys (:func:`new_key_warnings`); ``expected_new`` lists keys meant to be new.
    """
    cfg = Config.fromfile(path)
    if cfg_options:
        for warning in new_key_warnings(cfg, cfg_options, expected_new):
            print_log(warning, logger='current', level=logging.WARNING)
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
    # --cfg-options may set the launcher; the config need not have one
    cfg = load_config(path, {'launcher': launcher, **(cfg_options or {})}, expected_new=('launcher', ))
    scope = register_scope_modules(cfg)
    setup_cpu_distributed(cfg, launcher)
    amp_without_cuda(cfg)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg, scope


def amp_without_cuda(cfg: Config) -> bool:
    """Train in float32 where the config asks for mixed precision and there is no CUDA device, in place; return
    whether it changed the config.

    The reference recipes trained with apex O1 (or timm's ``--amp``), which the configs reproduce with mmengine's
    ``AmpOptimWrapper`` (float16 autocast, dynamic loss scaling). mmengine 0.10.7 refuses that wrapper without a GPU
    (an assertion), so a CPU run (tests, a check on a laptop) would stop there: it runs with a plain ``OptimWrapper``
    and says so. On a GPU nothing changes.
    """
    wrapper = cfg.get('optim_wrapper')
    if torch.cuda.is_available() or not isinstance(wrapper, dict) or wrapper.get('type') != 'AmpOptimWrapper':
        return False
    wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper.pop(key, None)
    print_log('No CUDA: the config trains with AmpOptimWrapper (mixed precision, as its reference); here it trains '
              'in float32 with OptimWrapper', logger='current', level=logging.WARNING)
    return True


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
