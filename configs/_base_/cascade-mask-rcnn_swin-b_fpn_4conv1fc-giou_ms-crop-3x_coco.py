# Cascade Mask R-CNN, Swin-B (ImageNet-22K) + FPN on COCO, 3x: the recipe of
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_<method>.py
# (one file per method, identical but for the backbone type) with its _base_ files models/cascade_mask_rcnn_swin_fpn.py,
# datasets/coco_instance_sample_1.py, schedules/schedule_1x.py and default_runtime.py, in mmengine's schema:
# - model: 4conv1fc GIoU box heads with SyncBN, drop path 0.3, the four Swin stages out (FPN on 128..1024);
# - data: 1 image per GPU on 16 GPUs ("sample_1_bs_16"), multi-scale AutoAugment (short side 480-800, or 400-600 then a
#   384-600 crop then 480-800), flip 0.5, test at 1333x800;
# - AdamW lr 1e-4, betas 0.9/0.999, wd 0.05, no decay on position tables and norms, no gradient clipping;
# - 36 epochs, steps at 27/33 (x0.1), schedule_1x's 500-iteration linear warm-up from 0.001;
# - apex O1 mixed precision (DistOptimizerHook use_fp16=True): AmpOptimWrapper, dynamic loss scale (needs a CUDA GPU);
# - COCO bbox + segm evaluation after every epoch, a checkpoint every epoch.
# mmdet's own config of this recipe (the ConvNeXt one) supplies heads, pipelines and evaluation; the backbone, the
# optimizer, the batch and the warm-up (1000 iterations there) are the reference's.
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

# 16 GPUs x 1 image: `tools/dist_train.sh CONFIG 16`. The reference's lr is for this total batch of 16.
train_dataloader = dict(batch_size=1, num_workers=2)

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
# AdamW 1e-4, wd 0.05 (the snippet); the reference trains under apex O1, whose loss scale is dynamic. AMP needs a
# CUDA GPU: CPU runs fall back to a plain OptimWrapper.
optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True, type='AmpOptimWrapper', loss_scale='dynamic',
                     clip_grad=None)
auto_scale_lr = dict(enable=False, base_batch_size=16)
del _base_.swin_b, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys
