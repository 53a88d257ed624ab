"""What a row needs before it is launched: its config, its datasets and its pretrained weights, named when missing
(relative paths are read from the directory the jobs run in, as the Runner reads them)."""
import os.path as osp
from typing import Dict, Iterator, List, Optional

from ..engine.runner_setup import load_config
from .tables import ROOT, Row

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')


def _datasets(dataset) -> Iterator[dict]:
    """The leaf datasets of a dataset config (through RepeatDataset/ClassBalancedDataset and ConcatDataset)."""
    if not isinstance(dataset, dict):
        return
    if 'datasets' in dataset:
        for child in dataset['datasets']:
            yield from _datasets(child)
    elif isinstance(dataset.get('dataset'), dict):
        yield from _datasets(dataset['dataset'])
    else:
        yield dataset


def _under(root: Optional[str], path: str) -> str:
    return path if not root or osp.isabs(path) or '://' in path else osp.join(root, path)


def _checkpoints(node, where: str = 'model') -> Iterator[tuple]:
    """(where, path) of every ``checkpoint`` of an ``init_cfg`` below ``node``."""
    if isinstance(node, dict):
        init_cfg = node.get('init_cfg')
        for init in (init_cfg if isinstance(init_cfg, list) else [init_cfg]):
            if isinstance(init, dict) and init.get('checkpoint'):
                yield f'{where}.init_cfg.checkpoint', init['checkpoint']
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _checkpoints(value, f'{where}.{key}')
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _checkpoints(value, f'{where}.{index}')


def required_files(cfg) -> Dict[str, str]:
    """What the config reads from disk: ``{what: path}`` (datasets' roots, annotation files and image folders,
    evaluators' annotation files, pretrained checkpoints, ``load_from``). URLs are left out: mmengine downloads them."""
    needed = {}
    for loader in LOADERS:
        if not isinstance(cfg.get(loader), dict):
            continue
        for index, dataset in enumerate(_datasets(cfg[loader].get('dataset'))):
            name = f'{loader}.dataset' + (f'[{index}]' if index else '')
            root = dataset.get('data_root')
            if root:
                needed[f'{name}.data_root'] = root
            if dataset.get('ann_file'):
                needed[f'{name}.ann_file'] = _under(root, dataset['ann_file'])
            prefix = dataset.get('data_prefix')
            prefix = prefix if isinstance(prefix, dict) else {'': prefix}  # mmpretrain: a folder name
            for key, value in prefix.items():
                if isinstance(value, str) and value:
                    needed[f'{name}.data_prefix' + (f'.{key}' if key else '')] = _under(root, value)
    for evaluator in EVALUATORS:
        value = cfg.get(evaluator)
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(item, dict) and item.get('ann_file'):
                needed[f'{evaluator}' + (f'[{index}]' if index else '') + '.ann_file'] = item['ann_file']
    for where, path in _checkpoints(cfg.get('model')):
        needed[where] = path
    if cfg.get('load_from'):
        needed['load_from'] = cfg.load_from
    return {what: path for what, path in needed.items() if '://' not in str(path)}


def missing_files(row: Row, cfg_options: Optional[dict] = None) -> List[str]:
    """A line per file or folder ``row`` needs and does not find: ``what: path``."""
    config = osp.join(ROOT, row.config)
    if not osp.isfile(config):
        return [f'config: {row.config} (no such file)']
    cfg = load_config(config, {**row.cfg_options, **(cfg_options or {})})
    return [f'{what}: {path}' for what, path in required_files(cfg).items() if not osp.exists(path)]
