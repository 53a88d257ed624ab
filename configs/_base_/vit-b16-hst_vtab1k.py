# HST on VTAB-1k with a ViT-B/16 (ImageNet-21K), mmpretrain's ImageClassifier: the recipe shared by the 19 task configs
# in configs/hst/, each of which follows its AFeng-x/HST:train_scripts/vit/vtab/<task>/train_s4.sh and sets the task's
# data, classes, lr, weight decay, drop path and lr schedule. The settings those scripts do not pass are the defaults of
# AFeng-x/HST:train.py (timm 0.6.5, commit ee89571); the pipeline is AFeng-x/HST:data/transforms_factory.py's, the
# weight-decay rule AFeng-x/HST:optim_factory.py's.
# - 224x224 by direct resize (--no-aug --direct-resize: `transforms_direct_resize` for both splits, bicubic from the
#   model's default cfg, PIL), no augmentation: no flip, crop, mixup, cutmix (--mixup 0 --cutmix 0), label smoothing
#   (--smoothing 0: a plain cross-entropy) or EMA (train.py's default: off); inputs normalised to [-1, 1] (the model's
#   default cfg: IMAGENET_INCEPTION_MEAN / STD, 0.5 each);
# - batch 64: `torch.distributed.launch --nproc_per_node=2` with --batch-size 32 per process; timm's training loader
#   drops the last incomplete batch (15 iterations an epoch), its validation batch is --batch-size too;
# - AdamW (--opt adamw; torch's betas 0.9 / 0.999 and eps 1e-8, as no --opt-betas / --opt-eps), no gradient clipping
#   (--clip-grad defaults to None), no weight decay on parameters of at most one dimension or named *.bias (norms,
#   biases; optim_factory's `param_groups_weight_decay`): flat_decay_mult=0 (every bias here is 1-D);
# - lr per epoch (timm's CosineLRScheduler, t_in_epochs): linear warm-up from --warmup-lr 1e-7 over --warmup-epochs 10,
#   cosine to --min-lr 1e-8 over --epochs 100 counted from epoch 0, then train.py runs timm's default --cooldown-epochs
#   10 at the minimum lr (create_scheduler returns epochs + cooldown): 110 epochs in all. The task files chain
#   mmengine's LinearLR (it reaches its end factor at `end - 1`: end=11) with a CosineAnnealingLR from epoch 0
#   (T_max=100, end=101 so that it stops at eta_min for the cool-down): exact from epoch 10 on; during the warm-up the
#   lr is the reference's times the cosine's factor (at most 2 % lower). The warm-up's start factor, 1e-7 / lr, depends
#   on the task's lr, hence the scheduler in the task files;
# - mixed precision: --amp, which timm's train.py resolves to native torch AMP (autocast, float16, and NativeScaler: a
#   dynamic loss scale) -> AmpOptimWrapper with loss_scale='dynamic' (needs a CUDA GPU; CPU runs fall back to a plain
#   OptimWrapper). The reference also validates under autocast; here validation runs in float32;
# - evaluation on the test split after every epoch, top-1 (--eval-metric top1), the best epoch kept; BatchNorm running
#   statistics averaged over the GPUs after each training epoch (--dist-bn reduce) -> mmengine's SyncBuffersHook;
# - seed 42, offset by the rank (timm's random_seed(seed, rank)); cudnn benchmark on (train.py sets it);
# - drop path on the ViT blocks and on the side blocks, each linearly from 0 (the reference passes one --drop-path to
#   both);
# - HST with the pooled output (mean of the last side stage, BatchNorm1d without affine) into a LinearClsHead(72).
# The reference is broken in one place: data/dataset_factory.py has the VTAB branch commented out, so `--dataset dtd`
# etc. would read the task directory as a class-per-folder tree (and flowers102 with its FGVC reader,
# data/flowers102.py); its data/vtab.py, the VTAB-1k reader written for these scripts and the paper's protocol, is
# followed here.
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

# The test split evaluated after every epoch; as the reference (--checkpoint-hist 1, --eval-metric top1), the best epoch
# is kept. Selecting on the test split flatters the result; the last epoch's accuracy is the unbiased one.
default_hooks = dict(
    logger=dict(interval=5),  # 15 iterations per epoch
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='accuracy/top1', rule='greater'))
# paramwise_cfg also makes mmengine's optimizer constructor skip the frozen (requires_grad=False) parameters.
optim_wrapper = dict(
    type='AmpOptimWrapper',  # the reference's --amp; needs a CUDA GPU (CPU runs fall back to a plain OptimWrapper)
    loss_scale='dynamic',  # timm's NativeScaler: torch's GradScaler with its dynamic defaults
    constructor='mmpetl.PETLOptimWrapperConstructor',  # frozen parameters left out, in one log line
    optimizer=dict(type='AdamW', betas=(0.9, 0.999), eps=1e-8),  # lr, weight_decay: the task file
    paramwise_cfg=dict(flat_decay_mult=0.0),
    clip_grad=None)  # --clip-grad: None
# 100 epochs of cosine and timm's 10 cool-down epochs (./schedules/cls_100e.py has 100).
max_epochs = 110
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
# timm's --dist-bn reduce: the BatchNorm statistics (the pooled output's BatchNorm1d) averaged over the GPUs after
# every training epoch, before the validation (a no-op in a single process).
custom_hooks = _base_.custom_hooks + [dict(type='SyncBuffersHook')]
env_cfg = dict(cudnn_benchmark=True)  # train.py: torch.backends.cudnn.benchmark = True
auto_scale_lr = dict(base_batch_size=64)
randomness = dict(seed=42, diff_rank_seed=True)  # the reference's seed, offset by the rank as timm does
del _base_.vit_b16  # the snippet's helper, not a config key
