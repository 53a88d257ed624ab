"""The generated upstream tasks of the small backbones' pretraining (mmpetl/datasets/upstream_data.py): the dense one
(scenes) in mmseg's on-disk format, read by the pretraining config's own dataset through mmseg's registry."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT
from mmpetl.datasets import (TOY_CLASSES, UPSTREAM_CLASSES, UPSTREAM_SCENE_CLASSES, make_upstream_image,
                             make_upstream_scene, make_upstream_scenes)

#: the pixel sum of make_upstream_image(default_rng(0), 7), as the code that made the shapes48 checkpoints drew it
EXPECTED_SUM = 2303549


def test_scene_is_deterministic_and_labels_what_is_drawn():
    image, labels = make_upstream_scene(np.random.default_rng(3))
    again, labels_again = make_upstream_scene(np.random.default_rng(3))
    assert np.array_equal(image, again) and np.array_equal(labels, labels_again)
    assert image.shape == (128, 128, 3) and image.dtype == np.uint8 and labels.shape == (128, 128)
    seen = set(np.unique(labels).tolist())
    assert 0 in seen and seen - {0} and seen <= set(range(len(UPSTREAM_SCENE_CLASSES)))


def test_scenes_cover_every_shape_and_every_brightness():
    rng = np.random.default_rng(0)
    scenes = [make_upstream_scene(rng) for _ in range(60)]
    counts = np.bincount(np.concatenate([labels.ravel() for _, labels in scenes]), minlength=9)
    assert (counts > 0).all()  # the background and the 8 shapes
    assert 0.5 < counts[0] / counts.sum() < 0.95  # mostly background, not only
    brightness = [image[labels == 0].mean() for image, labels in scenes]
    assert min(brightness) < 70 and max(brightness) > 180  # dark and light backgrounds


def test_upstream_classes_are_not_the_downstream_ones():
    shapes = set(UPSTREAM_SCENE_CLASSES[1:])
    assert not shapes & set(TOY_CLASSES) and {name.split('_')[0] for name in UPSTREAM_CLASSES} == shapes


def test_classification_images_are_unchanged_by_the_shared_helpers():
    """The 48-class task's images (the shapes48 checkpoints were made from them) depend only on the seed."""
    image = make_upstream_image(np.random.default_rng(0), 7)
    assert image.shape == (64, 64, 3)
    assert int(image.astype(np.int64).sum()) == EXPECTED_SUM


@pytest.mark.parametrize('split', ['train', 'val'])
def test_written_scenes_load_through_the_pretraining_config(split, tmp_path):
    assert make_upstream_scenes(str(tmp_path), num_train=3, num_val=2) == {'train': 3, 'val': 2}
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/swin-mini_scenes-128px.py'))
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    loader.dataset.data_root = str(tmp_path)
    init_default_scope('mmseg')
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(loader.dataset)
    assert len(dataset) == (3 if split == 'train' else 2)
    assert dataset.metainfo['classes'] == UPSTREAM_SCENE_CLASSES
    sample = dataset[0]['data_samples']
    stored = sample.gt_sem_seg.data.numpy()[0]
    assert stored.max() < len(UPSTREAM_SCENE_CLASSES) and (stored > 0).any()
