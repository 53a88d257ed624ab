# UperNet, Swin-L (ImageNet-22K, window 7), ADE20K 512x512, 160k iterations, batch 16 (8 GPUs x 2 images).
# Follows the reference config
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_full.py
# and its _base_ files there (models/upernet_swin.py, datasets/ade20k.py, schedules/schedule_160k.py,
# default_runtime.py): the recipe every method config starts from (full fine-tuning's).
# The reference is an mmseg 0.x config; it is written here in mmseg 1.x's schema on top of mmseg's own config of the
# same recipe, with every setting the reference makes stated below, so that tests/test_recipes_ade20k.py can pin it.
# A method config sets `model.backbone.method` and what its own reference file changes (Mona: lr 3e-4, drop path 0.2;
# the PETL baselines: plain BN in the heads).
_base_ = [
    'mmseg::swin/swin-large-patch4-window7-in22k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './petl_runtime.py',
]

# The reference loads swin_large_patch4_window7_224_22k.pth through load_from, converted beforehand; here the backbone
# loads mmseg's converted ImageNet-22K Swin-L itself (the keys mmseg's SwinTransformer expects).
pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth'  # noqa
# SyncBN in both heads: the reference's norm_cfg for full fine-tuning (and Fixed, Mona); the PETL baselines' files
# switch it to BN.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.model.backbone, type='mmseg.SwinTransformer',
        embed_dims=192, depths=[2, 2, 18, 2], num_heads=[6, 12, 24, 48], window_size=7,
        use_abs_pos_embed=False, patch_norm=True,  # ape=False, patch_norm=True
        drop_path_rate=0.3,
        frozen_stages=-1,  # the reference never sets it: its Swin's default, no stage frozen by the backbone itself
        with_cp=False,  # use_checkpoint=False
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    decode_head=dict(in_channels=[192, 384, 768, 1536], num_classes=150, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=768, num_classes=150, norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))

# AdamW lr 6e-5, betas (0.9, 0.999), wd 0.01; no weight decay on the position tables and the norms. The reference's
# optimizer_config is empty: no gradient clipping, fp32 (no fp16 / apex anywhere in its segmentation code).
# mmpetl's constructor keeps mmengine's paramwise semantics and leaves the frozen parameters out.
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper', constructor='mmpetl.PETLOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)}),
    clip_grad=None)

# lr_config: poly, power 1, min_lr 0 over all 160k iterations, with a linear warm-up of 1500 iterations from ratio
# 1e-6. mmcv 1.x's warm-up multiplies the poly value of the same iteration, so the poly decay runs from iteration 0,
# overlapping the warm-up (mmengine composes overlapping schedulers the same way); mmseg's 1.x translation starts the
# poly at 1500 instead (about 1 % higher lr from there on). tests/test_recipes_ade20k.py checks the curve against mmcv
# 1.x's formula (LinearLR reaches the full lr at 1499, mmcv 1.x at 1500: within 0.07 %).
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=0, end=160000),
]

# data.samples_per_gpu=2, workers_per_gpu=4, on 8 GPUs ("8xb2"): a total batch of 16. The lr is for that total;
# auto_scale_lr records it (scaling stays off, as in the reference). Validation one image at a time (mmseg 0.x's).
train_dataloader = dict(batch_size=2, num_workers=4)
val_dataloader = dict(batch_size=1, num_workers=4)
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=16)

# runner IterBasedRunner 160k; evaluation and checkpoint every 16k iterations, mIoU
train_cfg = dict(type='IterBasedTrainLoop', max_iters=160000, val_interval=16000)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=16000),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
env_cfg = dict(cudnn_benchmark=True)
