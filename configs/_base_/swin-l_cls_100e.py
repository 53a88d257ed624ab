# Image classification with a Swin-L (ImageNet-22K) in mmpretrain: the recipe shared by Leiyi-Hu/mona's
# Swin-Transformer-Classification/mona_configs/swin-l_{oxford-flower,oxford-pet,voc}/swin-large_4xb8_*.py, with their
# bases _base_/models/swin_transformer/large_224_det.py, _base_/datasets/{oxford_flower,oxford_pet,voc}_mona.py,
# _base_/schedules/imagenet_bs1024_adamw_swin.py and _base_/default_runtime.py (mmcls 0.25), in mmengine's terms.
# The dataset files beside this one (swin-l_4xb4-100e_<dataset>.py) set the data, the classes and the head's size.
# - batch 4 per GPU on 4 GPUs (16 in all); the reference files are named `4xb8` but set bs_per_gpu = 4, gpu_num = 4;
# - AdamW lr 5e-4 * 16 / 512 = 1.5625e-5 (the Mona files on Flowers and Pets double it), betas 0.9 / 0.999, eps 1e-8,
#   wd 0.05, none on norms, biases and the position tables; gradient clipping at L2 norm 5; fp16 with dynamic scaling;
# - lr: a cosine per iteration over all 100 epochs down to 0.01 x lr, multiplied during the first 20 epochs by a
#   linear warm-up from 1e-3;
# - 224 training crops (RandomResizedCrop, horizontal flip, no other augmentation), tests on the 224 centre of a
#   256 short-side resize, both with cv2 bilinear resizing; top-1 / top-5 accuracy after every epoch;
# - drop path 0.3, plain cross-entropy (no label smoothing, mixup or cutmix).
_base_ = [
    'mmpretrain::_base_/models/swin_transformer/large_224.py',
    'mmpretrain::_base_/default_runtime.py',
    './petl_runtime.py',
    './schedules/cls_100e.py',
]

# The reference's `load_from` is Microsoft's swin_large_patch4_window7_224_22k.pth; here the same checkpoint converted
# to mmpretrain's keys by
# `python tools/model_converters/official_to_mmpetl.py swin <.pth> pretrain/swin-large-22k_mmpretrain.pth --target mmpretrain`
pretrained = 'pretrain/swin-large-22k_mmpretrain.pth'
# the upstream config's own Swin-L (arch 'large', 224, window 7), scoped to mmpretrain and wrapped; its pooling neck and
# LinearClsHead with plain cross-entropy are the reference's
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.model.backbone, type='mmpretrain.SwinTransformer', drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))))

data_preprocessor = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
# mmcls 0.25's RandomResizedCrop(size=224) and Resize(size=(256, -1)) defaults: area 0.08-1, aspect 3/4-4/3, cv2
# bilinear, which are mmpretrain's defaults too
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0), aspect_ratio_range=(3. / 4., 4. / 3.),
         backend='cv2', interpolation='bilinear'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='cv2', interpolation='bilinear'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
# 4 images and 2 workers per GPU; mmcls 0.25 validates with the training batch size
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    dataset=dict(pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
# mmcls 0.25's `evaluation = dict(interval=1, metric='accuracy')` reports top-1 and top-5
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
# the reference saves only the last checkpoint (interval 101 > 100 epochs; mmcv's save_last)
default_hooks = dict(checkpoint=dict(interval=101, save_last=True))

# fp16 = dict(loss_scale='dynamic') in the reference: mixed precision with a dynamic loss scale (needs a CUDA GPU)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='mmpetl.PETLOptimWrapperConstructor',  # frozen parameters left out, in one log line
    optimizer=dict(type='AdamW', lr=5e-4 * 4 * 4 / 512, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    clip_grad=dict(max_norm=5.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0),
        }))
# mmcv's CosineAnnealing(by_epoch=False, min_lr_ratio=1e-2) with a linear warm-up (ratio 1e-3, 20 epochs): the warm-up
# scales the cosine's lr, which runs from the first iteration. The two schedulers below overlap over epochs 0-20 and
# chain (mmengine applies each to the lr the other left): the lr stays within 0.15 % of mmcv's at every iteration for
# these datasets' epoch lengths. eta_min_ratio makes the floor 0.01 x the lr of whichever method file sets it.
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min_ratio=1e-2, by_epoch=True, begin=0, end=_base_.max_epochs,
         convert_to_iter_based=True),
]
# the lr above is for 16 images per step (4 GPUs x 4); `--auto-scale-lr` rescales it for another total batch
auto_scale_lr = dict(base_batch_size=16)
