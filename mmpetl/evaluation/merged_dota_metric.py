"""Whole-image mAP of patch detections: the test metric of STAR-MMRotate, for mmrotate 1.x's split test patches.

STAR-MMRotate (mmrotate 0.3.x) tests whole images: ``OrientedRCNNCrop.simple_test``
(``mmrotate/models/detectors/two_stage_crop.py``) cuts each test image into 1024 windows with gap 200, detects in each,
and merges the detections of the image per class by ``nms_rotated`` at IoU 0.4 (``merge_results_two_stage`` in
``two_stage_img_split_bridge_tools.py``); ``STARDataset.evaluate`` (``mmrotate/datasets/star.py``) then scores them
with ``eval_rbbox_map`` at IoU 0.5 (VOC07 11-point AP) against the whole-image annotations.

mmrotate 1.x splits the test images beforehand and tests the patches; its ``DOTAMetric(merge_patches=True)`` merges
them into whole images but only writes DOTA submission files. :class:`MergedDOTAMetric` merges the same way and scores
the merged detections against the whole-image annotations, as the reference does.
"""
import os.path as osp
import re
from collections import OrderedDict, defaultdict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.ops import nms_rotated
from mmengine.logging import MMLogger
from mmrotate.datasets import DOTADataset
from mmrotate.evaluation import eval_rbbox_map
from mmrotate.evaluation.metrics import DOTAMetric
from mmrotate.structures.bbox import qbox2rbox

from ..registry import METRICS

# The patch ids of mmrotate's split tool: ``<image id>__<patch size>__<x>___<y>``, (x, y) the patch origin.
PATCH_ORIGIN = re.compile(r'__(\d+)___(\d+)')


@METRICS.register_module()
class MergedDOTAMetric(DOTAMetric):
    """mAP of whole images, from the detections in their patches (``type='mmpetl.MergedDOTAMetric'``).

    As STAR-MMRotate evaluates its test set:

    - the patch detections are moved to whole-image coordinates by the patch origin in the patch id
      (``P0000__1024__824___0``) and merged per image and class by ``nms_rotated`` at ``merge_iou_thr`` (the
      reference: 0.4), as ``DOTAMetric.merge_results`` does (which writes them to files and returns none of them);
    - the whole-image annotations are read from ``whole_ann_dir/<image id>.txt`` (DOTA format, one object a line:
      ``x1 y1 ... x4 y4 class difficulty``) by mmrotate's ``DOTADataset`` with the classes of ``dataset_meta``, the
      quadrilaterals converted to rotated boxes by mmrotate's ``qbox2rbox``;
    - like the reference's ``STARDataset`` (``difficulty=100``), objects whose difficulty is at most ``diff_thr``
      are ground truth, the difficult ones (1) included, objects above it are left out, and so are objects whose
      rotated box has a side under 2 pixels (``poly2obb_np`` refuses them); an image whose annotation file is empty
      is not scored (the reference's dataset skips empty annotation files);
    - ``eval_rbbox_map`` scores the merged detections at each IoU of ``iou_thrs`` (the reference: 0.5), VOC07
      11-point AP (``eval_mode='11points'``, the reference's default), called as ``DOTAMetric`` calls it.

    Returns ``{'mAP': ..., 'AP50': ...}`` (under the prefix: ``<prefix>/mAP``), ``DOTAMetric``'s keys. The images
    scored are those the patches come from. With ``outfile_prefix`` (a path that must not exist yet) the merged
    detections are also written as DOTA submission files by ``DOTAMetric.merge_results``: ``Task1_<class>.txt`` and
    a zip.

    Args:
        whole_ann_dir (str): The folder of the whole-image annotation files, e.g. ``data/STAR/test/annfiles/``.
        merge_iou_thr (float): IoU threshold of the ``nms_rotated`` that merges the patches (``DOTAMetric``'s
            ``iou_thr``). Defaults to 0.4 (STAR-MMRotate).
        iou_thrs (float | list[float]): IoU threshold(s) of the mAP. Defaults to 0.5.
        diff_thr (int): Objects with a higher difficulty are left out. Defaults to 100 (STAR-MMRotate).
        scale_ranges, eval_mode, collect_device, prefix: as in ``DOTAMetric``.
        outfile_prefix (str, optional): Where to write the submission files; None: none are written.
        nproc (int): Processes of ``eval_rbbox_map``. Defaults to 4 (its default).
    """

    default_prefix: Optional[str] = 'dota_merged'
    MIN_GT_SIDE = 2  # poly2obb_np (mmrotate 0.3.x) returns no box for a side under 2 px: the reference skips them

    def __init__(self,
                 whole_ann_dir: str,
                 merge_iou_thr: float = 0.4,
                 iou_thrs: Union[float, List[float]] = 0.5,
                 diff_thr: int = 100,
                 scale_ranges: Optional[List[tuple]] = None,
                 eval_mode: str = '11points',
                 outfile_prefix: Optional[str] = None,
                 nproc: int = 4,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(iou_thrs=iou_thrs, scale_ranges=scale_ranges, metric='mAP', predict_box_type='rbox',
                         outfile_prefix=outfile_prefix, merge_patches=True, iou_thr=merge_iou_thr,
                         eval_mode=eval_mode, collect_device=collect_device, prefix=prefix)
        self.whole_ann_dir = whole_ann_dir
        self.diff_thr = diff_thr
        self.nproc = nproc

    @property
    def merge_iou_thr(self) -> float:
        return self.iou_thr

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        """Keeps each patch's id and predictions (the patch annotations are not needed)."""
        for data_sample in data_samples:
            pred = data_sample['pred_instances']
            self.results.append(dict(img_id=data_sample['img_id'], bboxes=pred['bboxes'].cpu().numpy(),
                                     scores=pred['scores'].cpu().numpy(), labels=pred['labels'].cpu().numpy()))

    def merge_patch_results(self, results: Sequence[dict]) -> Dict[str, List[np.ndarray]]:
        """The whole images' detections: image id -> per class an array (k, 6) of rotated boxes and scores.

        The merging of ``DOTAMetric.merge_results``, which writes the merged detections to files instead of returning
        them: the patch boxes moved by the patch origin, then ``nms_rotated`` per image and class at ``iou_thr``."""
        collector = defaultdict(list)
        for result in results:
            img_id = result['img_id']
            origin = PATCH_ORIGIN.search(img_id)
            if origin is None:
                raise ValueError(f'{img_id!r} is not a patch id of the split tool (<image id>__<size>__<x>___<y>)')
            bboxes = np.asarray(result['bboxes'], dtype=np.float32).reshape(-1, 5).copy()
            bboxes[:, :2] += np.array([int(origin.group(1)), int(origin.group(2))], dtype=np.float32)
            dets = np.concatenate([bboxes, np.asarray(result['scores'], dtype=np.float32).reshape(-1, 1)], axis=1)
            collector[img_id.split('__')[0]].append((np.asarray(result['labels']).reshape(-1), dets))
        merged = {}
        for img_id, parts in collector.items():
            labels = np.concatenate([labels for labels, _ in parts])
            dets = np.concatenate([dets for _, dets in parts])
            per_class = []
            for label in range(len(self.dataset_meta['classes'])):
                cls_dets = torch.from_numpy(dets[labels == label])
                if len(cls_dets):
                    cls_dets, _ = nms_rotated(cls_dets[:, :5], cls_dets[:, 5], self.iou_thr)
                per_class.append(cls_dets.numpy().reshape(-1, 6))
            merged[img_id] = per_class
        return merged

    def load_whole_annotations(self) -> Dict[str, dict]:
        """The annotations of ``whole_ann_dir`` in ``eval_rbbox_map``'s format, by image id; None for an image whose
        annotation file is empty."""
        classes = self.dataset_meta['classes']
        reader = DOTADataset(ann_file=self.whole_ann_dir, metainfo=dict(classes=classes), diff_thr=self.diff_thr,
                             test_mode=True, lazy_init=True)
        annotations = {}
        for info in reader.load_data_list():
            instances = [i for i in info['instances'] if not i['ignore_flag']]  # ignore_flag: difficulty > diff_thr
            if not info['instances']:
                annotations[info['img_id']] = None
                continue
            qboxes = torch.tensor([i['bbox'] for i in instances], dtype=torch.float32).reshape(-1, 8)
            rboxes = qbox2rbox(qboxes).numpy().reshape(-1, 5)
            labels = np.array([i['bbox_label'] for i in instances], dtype=np.int64)
            keep = (rboxes[:, 2] >= self.MIN_GT_SIDE) & (rboxes[:, 3] >= self.MIN_GT_SIDE)
            annotations[info['img_id']] = dict(bboxes=rboxes[keep], labels=labels[keep],
                                               bboxes_ignore=np.zeros((0, 5), dtype=np.float32),
                                               labels_ignore=np.zeros((0, ), dtype=np.int64))
        return annotations

    def compute_metrics(self, results: list) -> dict:
        logger: MMLogger = MMLogger.get_current_instance()
        merged = self.merge_patch_results(results)
        if self.outfile_prefix is not None:
            zip_path = self.merge_results(results, self.outfile_prefix)
            logger.info(f'The merged detections are written to {osp.dirname(zip_path)}')

        annotations = self.load_whole_annotations()
        missing = sorted(set(merged) - set(annotations))
        if missing:
            raise ValueError(f'{len(missing)} whole images without an annotation file in {self.whole_ann_dir}: '
                             f'{missing[:5]}')
        unseen = [i for i, ann in annotations.items() if ann is not None and i not in merged]
        if unseen:
            logger.warning(f'{len(unseen)} annotated whole images in {self.whole_ann_dir} have no tested patch and '
                           f'are not scored: {sorted(unseen)[:5]}')
        empty = [i for i in merged if annotations[i] is None]
        if empty:
            logger.info(f'{len(empty)} whole images with an empty annotation file are not scored, as in '
                        'STAR-MMRotate')
        ids = [i for i in merged if annotations[i] is not None]
        if not ids:
            raise ValueError(f'no whole image with annotations in {self.whole_ann_dir} among the tested patches')

        dets = [merged[i] for i in ids]
        gts = [annotations[i] for i in ids]
        eval_results = OrderedDict()
        mean_aps = []
        for iou_thr in self.iou_thrs:
            logger.info(f'\n{"-" * 15}whole images, iou_thr: {iou_thr}{"-" * 15}')
            mean_ap, _ = eval_rbbox_map(dets, gts, scale_ranges=self.scale_ranges, iou_thr=iou_thr,
                                        use_07_metric=self.use_07_metric, box_type=self.predict_box_type,
                                        dataset=self.dataset_meta['classes'], logger=logger, nproc=self.nproc)
            mean_aps.append(mean_ap)
            eval_results[f'AP{int(iou_thr * 100):02d}'] = round(mean_ap, 3)
        eval_results['mAP'] = sum(mean_aps) / len(mean_aps)
        eval_results.move_to_end('mAP', last=False)
        return eval_results
