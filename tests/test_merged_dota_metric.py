"""``mmpetl.MergedDOTAMetric``: the whole-image mAP of patch detections, as STAR-MMRotate evaluates its test set.

The metric is built from the STAR config's ``test_evaluator`` through mmengine's registry. The toy STAR test split
(``mmpetl.datasets.make_toy_star``: 128 px images with their DOTA-format annotations) plays the whole test images; the
predictions are their ground truth, cut into two overlapping patches named as mmrotate's split tool names them
(``T0000__96__0___0``, ``T0000__96__32___0``), in patch coordinates, so that the objects in the overlap are detected
twice and the merge must remove the copies. The expected mAPs are worked out from the VOC07 11-point AP.
"""
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from conftest import ROOT
from mmpetl.datasets import STAR_CLASSES, TOY_STAR_CLASSES
from mmpetl.engine import register_scope_modules

BASE = osp.join(ROOT, 'configs', '_base_', 'oriented-rcnn-le90_swin-b_fpn_1x_star.py')
PATCH, ORIGINS = 96, (0, 32)  # two patches of each 128 px toy image, overlapping by 64 px
MERGED = 'mmpetl.MergedDOTAMetric'


@pytest.fixture(scope='module')
def toy_star(toy):
    return toy('star')


@pytest.fixture(scope='module')
def star_cfg():
    cfg = Config.fromfile(BASE)
    register_scope_modules(cfg)
    init_default_scope(cfg.default_scope)
    return cfg


def merged_entry(cfg):
    entries = [e for e in cfg.test_evaluator if e['type'] == MERGED]
    assert len(entries) == 1
    return entries[0]


def build_metric(cfg, whole_ann_dir, **overrides):
    """The config's merged metric, built as the Runner builds it (mmengine's METRICS, mmrotate's default scope)."""
    from mmengine.registry import METRICS
    metric = METRICS.build(dict(merged_entry(cfg), whole_ann_dir=whole_ann_dir, nproc=1, **overrides))
    metric.dataset_meta = dict(classes=STAR_CLASSES)  # as the Evaluator sets it from the test dataset
    return metric


def read_objects(ann_dir):
    """{image id: [(STAR label, rotated box x y w h a)]} of the DOTA txt files, read here with OpenCV."""
    objects = {}
    for name in sorted(os.listdir(ann_dir)):
        with open(osp.join(ann_dir, name)) as f:
            rows = [line.split() for line in f if line.strip()]
        boxes = []
        for row in rows:
            (x, y), (w, h), angle = cv2.minAreaRect(np.array(row[:8], dtype=np.float32).reshape(4, 2))
            boxes.append((STAR_CLASSES.index(row[8]), [x, y, w, h, np.deg2rad(angle)]))
        objects[name[:-4]] = boxes
    return objects


def in_overlap(box):
    return ORIGINS[1] <= box[0] < ORIGINS[0] + PATCH


def overlap_first(boxes, index):
    """Scores that rank the objects detected twice first, so that a copy left unmerged is a false positive ranked
    above a true detection of its class."""
    return (0.9 if in_overlap(boxes[index][1]) else 0.5) - 0.01 * index


def patch_samples(objects, score=overlap_first, relabel=None):
    """The objects as the detections of two overlapping patches per image: an object is detected in each patch that
    holds its centre (both, in the overlap), in patch coordinates, scored ``score(boxes, index)``; the copy in the
    second patch is 0.5 px off in x and y and scores 0.005 less. ``relabel``: {(image id, index): label} predicted
    instead of the true class."""
    samples = []
    for img_id, boxes in objects.items():
        for p, x0 in enumerate(ORIGINS):
            inside = [(i, label, box) for i, (label, box) in enumerate(boxes) if x0 <= box[0] < x0 + PATCH]
            bboxes = [[box[0] - x0 + 0.5 * p, box[1] + 0.5 * p, *box[2:]] for _, _, box in inside]
            labels = [(relabel or {}).get((img_id, i), label) for i, label, _ in inside]
            samples.append(dict(img_id=f'{img_id}__{PATCH}__{x0}___0', pred_instances=dict(
                bboxes=torch.tensor(bboxes, dtype=torch.float32).reshape(-1, 5),
                scores=torch.tensor([score(boxes, i) - 0.005 * p for i, _, _ in inside], dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.int64))))
    return samples


def evaluate(metric, samples):
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def ap11(found, total):
    """VOC07 11-point AP of a class whose ``found`` of ``total`` objects are detected, with no false positive
    (mmdet's average_precision, mode '11points')."""
    return sum(1 for t in np.arange(0, 1 + 1e-3, 0.1) if found and found / total >= t) / 11


def expected_map(objects, kept):
    """mAP (over the classes with ground truth) when the objects in ``kept`` (image id, index) are detected."""
    totals, found = {}, {}
    for img_id, boxes in objects.items():
        for i, (label, _) in enumerate(boxes):
            totals[label] = totals.get(label, 0) + 1
            found[label] = found.get(label, 0) + ((img_id, i) in kept)
    return float(np.mean([ap11(found[c], totals[c]) for c in totals]))


@pytest.fixture(scope='module')
def objects(toy_star):
    """The toy test split's objects, checked to make the test meaningful: a class has an object in the overlap of
    the two patches and another object, and no two of a class overlap enough (IoU 0.4) for the merge to remove one."""
    from mmcv.ops import box_iou_rotated
    objects = read_objects(osp.join(toy_star, 'test', 'annfiles'))
    assert len(objects) == 2
    labels = [label for boxes in objects.values() for label, _ in boxes]
    assert any(in_overlap(box) and labels.count(label) > 1 for boxes in objects.values() for label, box in boxes)
    for boxes in objects.values():
        for label in {label for label, _ in boxes}:
            same = torch.tensor([box for lab, box in boxes if lab == label], dtype=torch.float32)
            ious = box_iou_rotated(same, same) - torch.eye(len(same))
            assert float(ious.max()) < 0.4
    assert {STAR_CLASSES[label] for boxes in objects.values() for label, _ in boxes} <= set(TOY_STAR_CLASSES)
    return objects


def test_star_config_tests_whole_images_with_the_merged_metric(star_cfg):
    from mmengine.evaluator import Evaluator
    patches, merged = star_cfg.test_evaluator
    assert patches == dict(type='DOTAMetric', metric='mAP')  # the patch mAP stays
    assert merged == dict(type=MERGED, whole_ann_dir='data/STAR/test/annfiles/', merge_iou_thr=0.4, iou_thrs=0.5,
                          prefix='star_merged')
    evaluator = Evaluator(star_cfg.test_evaluator)
    assert [type(m).__name__ for m in evaluator.metrics] == ['DOTAMetric', 'MergedDOTAMetric']
    metric = evaluator.metrics[1]
    # the merge NMS threshold (DOTAMetric's iou_thr) and the mAP threshold are separate; VOC07 11-point AP
    assert (metric.merge_iou_thr, metric.iou_thr, metric.iou_thrs) == (0.4, 0.4, [0.5])
    assert metric.use_07_metric and metric.diff_thr == 100 and metric.outfile_prefix is None


def test_ground_truth_split_over_overlapping_patches_scores_one(star_cfg, toy_star, objects):
    samples = patch_samples(objects)
    metric = build_metric(star_cfg, osp.join(toy_star, 'test', 'annfiles'))
    num_predicted = sum(len(s['pred_instances']['labels']) for s in samples)
    num_objects = sum(len(boxes) for boxes in objects.values())
    assert num_predicted > num_objects  # copies to remove
    merged = metric.merge_patch_results([dict(img_id=s['img_id'], **s['pred_instances']) for s in samples])
    assert sorted(merged) == sorted(objects)
    for img_id, boxes in objects.items():
        per_class = merged[img_id]
        assert sum(len(d) for d in per_class) == len(boxes)
        for label, box in boxes:  # back in whole-image coordinates
            assert np.abs(per_class[label][:, :5] - np.array(box)).max(axis=1).min() < 1e-3
    results = evaluate(metric, samples)
    assert set(results) == {'star_merged/mAP', 'star_merged/AP50'}
    assert results['star_merged/mAP'] == pytest.approx(1.0)
    # the copies left unmerged (IoU about 0.95 with the first) are false positives ranked above a true detection
    unmerged = build_metric(star_cfg, osp.join(toy_star, 'test', 'annfiles'), merge_iou_thr=0.99)
    kept = unmerged.merge_patch_results([dict(img_id=s['img_id'], **s['pred_instances']) for s in samples])
    assert sum(len(d) for per_class in kept.values() for d in per_class) == num_predicted
    assert evaluate(unmerged, samples)['star_merged/mAP'] < 1


def test_missed_objects_lower_the_map(star_cfg, toy_star, objects):
    everything = [(img_id, i) for img_id, boxes in objects.items() for i in range(len(boxes))]
    kept = set(everything[::2])
    fewer = {img_id: [obj for i, obj in enumerate(boxes) if (img_id, i) in kept] for img_id, boxes in objects.items()}
    results = evaluate(build_metric(star_cfg, osp.join(toy_star, 'test', 'annfiles')), patch_samples(fewer))
    assert results['star_merged/mAP'] == pytest.approx(expected_map(objects, kept))
    assert results['star_merged/mAP'] < 1


def test_a_wrong_class_lowers_the_map(star_cfg, toy_star, objects):
    ann_dir = osp.join(toy_star, 'test', 'annfiles')
    img_id = next(iter(objects))
    # an object predicted as a STAR class that no object has: one object of its class missed
    absent = next(i for i, name in enumerate(STAR_CLASSES) if name not in TOY_STAR_CLASSES)
    results = evaluate(build_metric(star_cfg, ann_dir), patch_samples(objects, relabel={(img_id, 0): absent}))
    everything = {(i, k) for i, boxes in objects.items() for k in range(len(boxes))}
    assert results['star_merged/mAP'] == pytest.approx(expected_map(objects, everything - {(img_id, 0)}))
    assert results['star_merged/mAP'] < 1
    # predicted as another toy class: also a false positive in that class
    true_label = objects[img_id][0][0]
    other = next(STAR_CLASSES.index(n) for n in TOY_STAR_CLASSES if STAR_CLASSES.index(n) != true_label)
    results = evaluate(build_metric(star_cfg, ann_dir), patch_samples(objects, relabel={(img_id, 0): other}))
    assert results['star_merged/mAP'] < 1


def test_difficult_degenerate_and_empty_annotations_as_the_reference(star_cfg, tmp_path):
    """STARDataset (difficulty=100): difficult objects (1) are ground truth; an object whose box has a side under
    2 px is skipped; an image whose annotation file is empty is not scored."""
    ann_dir = tmp_path / 'annfiles'
    ann_dir.mkdir()
    (ann_dir / 'A.txt').write_text('10 10 50 10 50 30 10 30 ship 0\n'
                                   '70 70 110 70 110 90 70 90 ship 1\n'  # difficult: ground truth
                                   '5 100 40 100 40 101 5 101 ship 0\n')  # 1 px high: skipped
    (ann_dir / 'B.txt').write_text('')  # empty: not scored
    classes = {name: i for i, name in enumerate(STAR_CLASSES)}
    objects = read_objects(str(ann_dir))
    easy, difficult = objects['A'][:2]
    false_positive = (classes['ship'], [60.0, 40.0, 20.0, 10.0, 0.0])

    def run(a_objects):
        samples = patch_samples({'A': a_objects, 'B': [false_positive]}, score=lambda boxes, i: 0.9 - 0.1 * i)
        return evaluate(build_metric(star_cfg, str(ann_dir)), samples)['star_merged/mAP']

    assert run([easy, difficult]) == pytest.approx(1.0)  # B's detection does not count
    assert run([easy]) == pytest.approx(ap11(1, 2))  # the difficult object is missed


def test_submission_files_as_dota_metric_writes_them(star_cfg, toy_star, objects, tmp_path):
    prefix = str(tmp_path / 'Task1')
    metric = build_metric(star_cfg, osp.join(toy_star, 'test', 'annfiles'), outfile_prefix=prefix)
    assert evaluate(metric, patch_samples(objects))['star_merged/mAP'] == pytest.approx(1.0)
    lines = []
    for name in STAR_CLASSES:
        with open(osp.join(prefix, f'Task1_{name}.txt')) as f:
            lines += [line.split()[0] for line in f if line.strip()]
    assert sorted(lines) == sorted(img_id for img_id, boxes in objects.items() for _ in boxes)
    assert osp.isfile(osp.join(prefix, 'Task1.zip'))


def test_star_test_run_scores_whole_images(star_cfg, toy_star, tmp_path):
    """``Runner.test`` with Mona's STAR config (backbone, neck and heads shrunk, not trained): the test patches are the
    toy test images, each one patch at (0, 0) of its whole image; both test metrics come back."""
    from mmengine.runner import Runner

    from mmpetl.engine import amp_without_cuda
    from test_star import shrunk_star_config
    from test_tasks import set_image_size
    split = tmp_path / 'split'
    for sub, ext in (('images', 'png'), ('annfiles', 'txt')):
        os.makedirs(split / 'test' / sub)
        for name in sorted(os.listdir(osp.join(toy_star, 'test', sub))):
            shutil.copy(osp.join(toy_star, 'test', sub, name), split / 'test' / sub / f'{name[:-4]}__128__0___0.{ext}')
    cfg = shrunk_star_config('mona')
    cfg.test_dataloader.dataset.data_root = str(split) + '/'
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    set_image_size(cfg.test_dataloader.dataset.pipeline, (128, 128))
    cfg.test_evaluator[1].update(whole_ann_dir=osp.join(toy_star, 'test', 'annfiles'), nproc=1)
    cfg.work_dir = str(tmp_path / 'work')
    amp_without_cuda(cfg)
    metrics = Runner.from_cfg(cfg).test()
    for key in ('dota/mAP', 'star_merged/mAP', 'star_merged/AP50'):
        assert 0 <= float(metrics[key]) <= 1, (key, metrics)
