# HST on VTAB-1k with a ViT-B/16 (ImageNet-21K), mmpretrain's ImageClassifier: the reference recipe of github
# AFeng-x/HST (train_scripts/vit/vtab/<task>/train_s4.sh and train.py, timm 0.6.5, commit 661c02b), shared by the 19
# task configs in configs/hst/, which set the task's data, classes, learning rate, weight decay and drop path:
# - 224x224 by direct resize (bicubic, PIL), no augmentation: no flip, crop, mixup, cutmix or label smoothing;
#   inputs normalised to [-1, 1] as the ViT's pretraining (timm's mean = std = 0.5);
# - batch 64 (2 GPUs x 32; the last incomplete batch of an epoch dropped, as timm's loader does), 100 epochs;
# - AdamW (betas 0.9 / 0.999), no weight decay on 1-D parameters (norms, biases; timm's optimizer factory rule);
# - lr per epoch: linear warm-up from 1e-7 to the task's lr at epoch 10 (mmengine's LinearLR reaches its end factor at
#   `end - 1`: end=11), chained with a cosine to 1e-8 over all 100 epochs, as timm's; both in the task file (the
#   warm-up's start factor, 1e-7 / lr, depends on the task's lr);
# - drop path on the ViT blocks and on the side blocks (the reference passes one --drop-path to both);
# - HST with the pooled output (mean of the last side stage, BatchNorm1d without affine) into a LinearClsHead(72).
# Differences from the reference, all minor: timm's cosine counts epochs from 0, under the warm-up (it starts at
# 97.6 % of the lr after it); the task files chain mmengine's warm-up and cosine to follow it exactly after epoch 10,
# which lowers the warm-up lr by at most 2 %. timm adds 10 cool-down epochs at the minimum lr (1e-8: the weights barely
# move) that are not run here. The reference trains with AMP: add --amp to mmpretrain's tools/train.py.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './petl_runtime.py',
    './schedules/cls_100e.py',
    './models/vit-b16.py',
]

# Google's ImageNet-21K ViT-B/16, the file the reference's timm model `vit_base_patch16_224_in21k` loads, converted to
# mmpretrain's keys as ./models/vit-b16.py says.
pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='mmpetl.PETLBackbone', method=dict(type='HST', out_type='pooled'), backbone=dict(
        _base_.vit_b16, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),  # drop path: the task file
    neck=None,  # the side network pools
    head=dict(
        type='LinearClsHead',
        in_channels=72,  # num_classes: the task file
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, ),
        init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.)))  # timm's init of the reference's head
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5], to_rgb=True)

# VTAB-1k in the common extracted layout (VPT / NOAH / SSF, read the same way by the reference's data/vtab.py):
#   data/vtab-1k/<task>/train800val200.txt, data/vtab-1k/<task>/test.txt    lines "<image path> <label>"
#   data/vtab-1k/<task>/images/...                                           the paths are relative to <task>/
# mmpretrain's CustomDataset reads it: ann_file and data_root (set to the task directory by the task file), and
# data_prefix '' so that the listed paths resolve from it. Trained on the 1000 train800val200 images, evaluated on the
# whole test split.
pipeline = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),  # the reference decodes with PIL
    dict(type='Resize', scale=(224, 224), keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    dataset=dict(type='CustomDataset', data_root='', data_prefix='', ann_file='train800val200.txt',
                 pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    dataset=dict(type='CustomDataset', data_root='', data_prefix='', ann_file='test.txt', pipeline=pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# 100 epochs, the test split evaluated after every epoch (./schedules/cls_100e.py). As the reference, the best epoch is
# kept (it reports the best top-1). Selecting on the test split flatters the result; the last epoch's accuracy is the
# unbiased one.
default_hooks = dict(
    logger=dict(interval=5),  # 15 iterations per epoch
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater'))
# paramwise_cfg also makes mmengine's optimizer constructor skip the frozen (requires_grad=False) parameters.
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmpetl.PETLOptimWrapperConstructor',  # frozen parameters left out, in one log line
    optimizer=dict(type='AdamW', betas=(0.9, 0.999), eps=1e-8),  # lr, weight_decay: the task file
    paramwise_cfg=dict(flat_decay_mult=0.0))
auto_scale_lr = dict(base_batch_size=64)
randomness = dict(seed=42, diff_rank_seed=True)  # the reference's seed, offset by the rank as timm does
del _base_.vit_b16  # the snippet's helper, not a config key
