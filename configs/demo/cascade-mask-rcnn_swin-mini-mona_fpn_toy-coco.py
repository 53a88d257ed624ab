# The demo: Mona fine-tunes the shipped small pretrained Swin (checkpoints/swin-mini_scenes-128px.pth, made by
# tools/misc/pretrain_backbone.py: semantic segmentation of generated scenes of 8 other shapes) for instance
# segmentation on toy COCO (rectangles, ellipses, triangles; `python tools/misc/make_toy_data.py coco data/toy_coco`):
# Cascade Mask R-CNN with narrow 4conv1fc GIoU heads, trained on the CPU, evaluated with mmdet's CocoMetric (bbox,
# segm). It is the transfer study's toy-COCO task (configs/transfer/) with Mona and the demo's data. Run it with
# `make demo`.
_base_ = '../transfer/cascade-mask-rcnn_swin-mini_fpn_toy-coco.py'

data_root = 'data/toy_coco/'
model = dict(backbone=dict(method=dict(type='Mona')))
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# 80 iterations keep `make demo` within 5 minutes on 2 CPU cores (about 2.4 s per Cascade Mask R-CNN step)
max_iters = 80
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# the base's warm-up and cosine, shortened (warm-up over 10 iterations)
param_scheduler = [dict(_base_.param_scheduler[0], end=10), dict(_base_.param_scheduler[1], begin=10, end=max_iters)]
default_hooks = dict(checkpoint=dict(interval=max_iters))
