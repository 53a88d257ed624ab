import os.path as osp

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CONFIG = osp.join(ROOT, 'configs/demo/cascade-mask-rcnn_swin-mini-mona_fpn_toy-coco.py')

# Small Swin variants keep the suite fast; the architecture (and so every code path) is the real one.
TINY_SWIN = dict(embed_dims=32, depths=(2, 2), num_heads=(1, 2), window_size=7, out_indices=(0, 1))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def toy_coco(tmp_path_factory):
    """A toy COCO dataset on disk (images + instances json); returns its root with a trailing slash."""
    from mmpetl.datasets import make_toy_coco
    root = tmp_path_factory.mktemp('toy_coco')
    make_toy_coco(str(root), num_train=4, num_val=2, size=128)
    return str(root) + '/'


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """The toy datasets of ``mmpetl.datasets.TOY_DATASETS``, written on first use with 4 training and 2 evaluation
    images: ``toy('voc')`` returns the dataset root; keyword arguments go to the writer (``toy('coco', size=64)``)."""
    import inspect

    from mmpetl.datasets import TOY_DATASETS
    roots = {}

    def get(fmt, **overrides):
        key = (fmt, tuple(sorted(overrides.items())))
        if key not in roots:
            make = TOY_DATASETS[fmt]
            counts = [name for name in inspect.signature(make).parameters if name.startswith('num_')]
            kwargs = {name: 4 if name in ('num_train', 'num_trainval') else 2 for name in counts}
            root = str(tmp_path_factory.mktemp(f'toy_{fmt}'))
            make(root, **{**kwargs, **overrides})
            roots[key] = root + '/'
        return roots[key]
    return get


def demo_cfg(data_root: str, work_dir: str):
    """The demo config pointed at ``data_root``."""
    from mmengine.config import Config
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.work_dir = work_dir
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    return cfg
