# Cascade Mask R-CNN, Swin-B (ImageNet-22K) + FPN, the reference COCO recipe of Swin / Mona / V-PETL Bench:
# 4conv1fc GIoU heads, multi-scale AutoAugment (short side 480-800, crop 384-600), AdamW 1e-4 wd 0.05 (no decay on
# position tables and norms), 36 epochs with steps at 27/33, 500-iteration linear warm-up, total batch 16 (8x2).
# Heads and pipeline come from mmdet's own config of that recipe (the ConvNeXt one); only the backbone differs.
# A PETL config inherits this file and sets `model.backbone.method`. The Swin-B backbone and the optimizer are written
# once, in ./models/swin-b.py and ./schedules/petl_optim_wrapper.py.
_base_ = [
    'mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-giou_amp-ms-crop-3x_coco.py',
    './petl_runtime.py',
    './models/swin-b.py',
    './schedules/petl_optim_wrapper.py',
]

custom_imports = dict(imports=[], allow_failed_imports=False)  # the ConvNeXt parent imports mmpretrain: not needed

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.swin_b, drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[128, 256, 512, 1024]))

max_epochs = 36
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True)  # AdamW 1e-4, wd 0.05 (the snippet)
auto_scale_lr = dict(enable=False, base_batch_size=16)
del _base_.swin_b, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys
