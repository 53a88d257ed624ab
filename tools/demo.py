"""The demo: Mona fine-tunes mmpetl's small pretrained Swin (Cascade Mask R-CNN) on toy COCO data on the CPU.

The backbone is the shipped checkpoints/swin-mini_scenes-128px.pth (pretrained on a generated upstream task by
tools/misc/pretrain_backbone.py) and stays frozen; Mona's adapters, the neck and the heads train. The demo generates
the toy dataset if it is missing, trains with mmengine's Runner for the config's iterations, prints the
trainable/total parameter summary and the final COCO bbox/segm mAP (mmdet's CocoMetric), and saves a picture of the
model's predictions on a few val images, drawn by mmdet's DetLocalVisualizer (<work-dir>/predictions.png: ground
truth on the left of each pair, predictions on the right). About 4 minutes on 2 cores.

Example:
    python tools/demo.py                      # what `make demo` runs
    python tools/demo.py --max-iters 10       # quicker
"""
import argparse
import os.path as osp
import sys

import numpy as np
import torch

from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CONFIG = osp.join(ROOT, 'configs/demo/cascade-mask-rcnn_swin-mini-mona_fpn_toy-coco.py')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG, help='demo config (default: the toy-COCO Mona demo)')
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs/demo'), help='logs and checkpoints')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/toy_coco'), help='toy COCO data (made if absent)')
    parser.add_argument('--max-iters', type=int, help='override the number of training iterations')
    parser.add_argument('--num-vis', type=int, default=4, help='val images in the prediction picture (default 4)')
    parser.add_argument('--score-thr', type=float, default=0.1,
                        help='drawn predictions score at least this (default 0.1: after a few minutes of training the '
                        'classifier is not yet confident)')
    return parser.parse_args()


def save_predictions(runner, out_file: str, num_images: int, score_thr: float) -> str:
    """Draw ground truth and predictions of the first ``num_images`` val images with mmdet's DetLocalVisualizer
    (each image as a pair: ground truth left, prediction right), stack the pairs in one picture, and write it."""
    import mmcv
    from mmdet.visualization import DetLocalVisualizer
    visualizer = DetLocalVisualizer.get_instance('mmpetl_demo_predictions')
    visualizer.dataset_meta = runner.val_dataloader.dataset.metainfo
    runner.model.eval()
    pairs = []
    for batch in runner.val_dataloader:
        with torch.no_grad():
            samples = runner.model.test_step(batch)
        for sample in samples:
            image = mmcv.imread(sample.img_path, channel_order='rgb')
            visualizer.add_datasample(osp.basename(sample.img_path), image, sample, draw_gt=True, draw_pred=True,
                                      pred_score_thr=score_thr)
            pairs.append(visualizer.get_image())
        if len(pairs) >= num_images:
            break
    pairs = pairs[:num_images]
    width = max(pair.shape[1] for pair in pairs)
    rows = [np.pad(pair, ((0, 4), (0, width - pair.shape[1]), (0, 0)), constant_values=255) for pair in pairs]
    mmcv.imwrite(np.concatenate(rows)[..., ::-1], out_file)  # RGB -> BGR for OpenCV
    return out_file


def main():
    args = parse_args()
    from mmpetl.datasets import make_toy_coco
    from mmpetl.engine.hooks import LastMetricsHook
    from mmpetl.utils import format_parameter_summary, parameter_summary

    if not osp.exists(osp.join(args.data_root, 'annotations/instances_val.json')):
        print(f'[demo] writing the toy COCO dataset to {args.data_root}')
        make_toy_coco(args.data_root)

    cfg = Config.fromfile(args.config)
    checkpoint = (cfg.model.backbone.backbone.get('init_cfg') or {}).get('checkpoint')
    if checkpoint and '://' not in checkpoint:
        if not osp.isfile(osp.join(ROOT, checkpoint)):
            sys.exit(f'[demo] the pretrained backbone {checkpoint} is missing: it ships with mmpetl (git checkout '
                     f'{checkpoint}), or make it again with `python tools/misc/pretrain_backbone.py swin-mini`')
        cfg.model.backbone.backbone.init_cfg.checkpoint = osp.join(ROOT, checkpoint)  # from any working directory
    cfg.work_dir = args.work_dir
    data_root = args.data_root.rstrip('/') + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = data_root
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = data_root + 'annotations/instances_val.json'
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        cfg.default_hooks.checkpoint.interval = args.max_iters
        cfg.train_cfg.val_interval = args.max_iters

    runner = Runner.from_cfg(cfg)
    final_metrics = LastMetricsHook()
    runner.register_hook(final_metrics)
    runner.train()  # the loop validates at its last iteration
    metrics = final_metrics.metrics
    print('\n[demo] parameters (the pretrained backbone is frozen, Mona trains in it; neck and heads train):')
    print(format_parameter_summary(parameter_summary(runner.model)))
    num_val = len(runner.val_dataloader.dataset)
    print(f'\n[demo] after {cfg.train_cfg.max_iters} iterations, on {num_val} toy val images:')
    for key in ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP', 'coco/segm_mAP_50'):
        print(f'  {key:18s} {metrics.get(key, float("nan")):.3f}')
    picture = save_predictions(runner, osp.join(args.work_dir, 'predictions.png'), args.num_vis, args.score_thr)
    print(f'[demo] predictions (score >= {args.score_thr}) on {args.num_vis} val images, ground truth left, '
          f'prediction right: {picture}')
    print(f'[demo] logs and checkpoint: {args.work_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
