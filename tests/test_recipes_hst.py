"""HST on VTAB-1k (configs/hst/vit-b16-hst_2xb32-110e_vtab1k-*.py) against the reference recipe of AFeng-x/HST.

Per task: the flags of train_scripts/vit/vtab/<task>/train_s4.sh. For all tasks: the flags the scripts share, and the
defaults of train.py (timm 0.6.5) and of the data / optimizer code for what the scripts do not pass.
"""
import pytest

from recipes import Pin, check_pin, load

# (task config, its reference script, classes, lr, weight decay, drop path, data directory, warm-up start factor: the
# reference's --warmup-lr 1e-7 over the task's lr)
TASKS = [
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-caltech101.py', 'AFeng-x/HST:train_scripts/vit/vtab/caltech101/train_s4.sh',
     102, 1e-3, 5e-4, 0.1, 'data/vtab-1k/caltech101/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-cifar100.py', 'AFeng-x/HST:train_scripts/vit/vtab/cifar_100/train_s4.sh',
     100, 1e-2, 5e-4, 0.0, 'data/vtab-1k/cifar/', 1e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-clevr-count.py', 'AFeng-x/HST:train_scripts/vit/vtab/clevr_count/train_s4.sh',
     8, 1e-3, 5e-4, 0.1, 'data/vtab-1k/clevr_count/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-clevr-dist.py', 'AFeng-x/HST:train_scripts/vit/vtab/clevr_dist/train_s4.sh',
     6, 5e-3, 5e-4, 0.1, 'data/vtab-1k/clevr_dist/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-diabetic-retinopathy.py',
     'AFeng-x/HST:train_scripts/vit/vtab/diabetic_retinopathy/train_s4.sh',
     5, 1e-3, 5e-5, 0.1, 'data/vtab-1k/diabetic_retinopathy/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-dmlab.py', 'AFeng-x/HST:train_scripts/vit/vtab/dmlab/train_s4.sh',
     6, 5e-3, 5e-4, 0.1, 'data/vtab-1k/dmlab/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-dsprites-loc.py', 'AFeng-x/HST:train_scripts/vit/vtab/dsprites_loc/train_s4.sh',
     16, 5e-3, 5e-4, 0.1, 'data/vtab-1k/dsprites_loc/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-dsprites-ori.py', 'AFeng-x/HST:train_scripts/vit/vtab/dsprites_ori/train_s4.sh',
     16, 1e-3, 5e-4, 0.1, 'data/vtab-1k/dsprites_ori/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-dtd.py', 'AFeng-x/HST:train_scripts/vit/vtab/dtd/train_s4.sh',
     47, 1e-2, 5e-4, 0.0, 'data/vtab-1k/dtd/', 1e-5),
    # the script's trailing comment says wd 5e-2; its command line passes --weight-decay 5e-4
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-eurosat.py', 'AFeng-x/HST:train_scripts/vit/vtab/eurosat/train_s4.sh',
     10, 1e-3, 5e-4, 0.1, 'data/vtab-1k/eurosat/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-flowers102.py', 'AFeng-x/HST:train_scripts/vit/vtab/flowers102/train_s4.sh',
     102, 1e-3, 5e-5, 0.0, 'data/vtab-1k/oxford_flowers102/', 1e-4),
    # the script's trailing comment says lr 1e-3; its command line passes --lr 5e-3
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-kitti.py', 'AFeng-x/HST:train_scripts/vit/vtab/kitti/train_s4.sh',
     4, 5e-3, 5e-2, 0.1, 'data/vtab-1k/kitti/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-patch-camelyon.py',
     'AFeng-x/HST:train_scripts/vit/vtab/patch_camelyon/train_s4.sh',
     2, 5e-3, 5e-4, 0.1, 'data/vtab-1k/patch_camelyon/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-pets.py', 'AFeng-x/HST:train_scripts/vit/vtab/pets/train_s4.sh',
     37, 1e-2, 5e-4, 0.0, 'data/vtab-1k/oxford_iiit_pet/', 1e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-resisc45.py', 'AFeng-x/HST:train_scripts/vit/vtab/resisc45/train_s4.sh',
     45, 5e-3, 5e-4, 0.0, 'data/vtab-1k/resisc45/', 2e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-smallnorb-azi.py',
     'AFeng-x/HST:train_scripts/vit/vtab/smallnorb_azi/train_s4.sh',
     18, 1e-3, 5e-4, 0.1, 'data/vtab-1k/smallnorb_azi/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-smallnorb-ele.py',
     'AFeng-x/HST:train_scripts/vit/vtab/smallnorb_ele/train_s4.sh',
     9, 1e-3, 5e-2, 0.2, 'data/vtab-1k/smallnorb_ele/', 1e-4),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-sun397.py', 'AFeng-x/HST:train_scripts/vit/vtab/sun397/train_s4.sh',
     397, 1e-2, 5e-5, 0.0, 'data/vtab-1k/sun397/', 1e-5),
    ('hst/vit-b16-hst_2xb32-110e_vtab1k-svhn.py', 'AFeng-x/HST:train_scripts/vit/vtab/svhn/train_s4.sh',
     10, 1e-2, 5e-5, 0.1, 'data/vtab-1k/svhn/', 1e-5),
]

# --no-aug --direct-resize: transforms_direct_resize for both splits, Resize((224, 224)) (--img-size 224) with the
# model's default interpolation (bicubic) on PIL images, nothing else
PIPELINE = [
    dict(type='LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False, interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs'),
]
PIPELINE_REF = 'AFeng-x/HST:data/transforms_factory.py (transforms_direct_resize), models/vit_hsn.py (_cfg)'

# settings every task shares: (key, value, reference)
COMMON = [
    # optimizer
    ('optim_wrapper.optimizer.type', 'AdamW', 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--opt adamw)'),
    ('optim_wrapper.optimizer.betas', (0.9, 0.999), 'AFeng-x/HST:train.py (--opt-betas None: torch AdamW default)'),
    ('optim_wrapper.optimizer.eps', 1e-8, 'AFeng-x/HST:train.py (--opt-eps None: torch AdamW default)'),
    ('optim_wrapper.paramwise_cfg', dict(flat_decay_mult=0.0),
     'AFeng-x/HST:optim_factory.py (param_groups_weight_decay: ndim <= 1 or *.bias get no decay)'),
    ('optim_wrapper.clip_grad', None, 'AFeng-x/HST:train.py (--clip-grad default None)'),
    # mixed precision
    ('optim_wrapper.type', 'AmpOptimWrapper', 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--amp)'),
    ('optim_wrapper.loss_scale', 'dynamic', 'AFeng-x/HST:train.py (--amp: native AMP with NativeScaler)'),
    # batch and GPUs
    ('train_dataloader.batch_size', 32, 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--batch-size 32)'),
    ('auto_scale_lr.base_batch_size', 64,
     'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--nproc_per_node=2 x --batch-size 32)'),
    ('train_dataloader.drop_last', True, 'AFeng-x/HST:data/loader.py (create_loader: drop_last=is_training)'),
    ('train_dataloader.sampler.shuffle', True, 'AFeng-x/HST:data/loader.py (create_loader)'),
    ('val_dataloader.batch_size', 32, 'AFeng-x/HST:train.py (--validation-batch-size None: --batch-size)'),
    # data
    ('train_dataloader.dataset.ann_file', 'train800val200.txt', 'AFeng-x/HST:data/vtab.py'),
    ('val_dataloader.dataset.ann_file', 'test.txt', 'AFeng-x/HST:data/vtab.py'),
    ('train_dataloader.dataset.pipeline', PIPELINE, PIPELINE_REF),
    ('val_dataloader.dataset.pipeline', PIPELINE, PIPELINE_REF),
    ('data_preprocessor.mean', [127.5, 127.5, 127.5],
     'AFeng-x/HST:models/vit_hsn.py (_cfg: IMAGENET_INCEPTION_MEAN 0.5)'),
    ('data_preprocessor.std', [127.5, 127.5, 127.5],
     'AFeng-x/HST:models/vit_hsn.py (_cfg: IMAGENET_INCEPTION_STD 0.5)'),
    ('model.backbone.backbone.img_size', 224, 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--img-size 224)'),
    # loss: --mixup 0 --cutmix 0 --smoothing 0 -> nn.CrossEntropyLoss
    ('model.head.loss', dict(type='CrossEntropyLoss', loss_weight=1.0),
     'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--mixup 0 --cutmix 0 --smoothing 0), train.py'),
    # pretrained: vit_base_patch16_224_in21k's augreg B_16-i21k file, converted
    ('model.backbone.backbone.init_cfg.checkpoint', 'pretrain/vit-base-p16_in21k_mmpretrain.pth',
     'AFeng-x/HST:models/vit_hsn.py (default_cfgs vit_base_patch16_224_in21k)'),
    # schedule: --epochs 100 + the default --cooldown-epochs 10, --warmup-epochs 10, --min-lr 1e-8
    ('train_cfg.max_epochs', 110,
     'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--epochs 100), train.py (--cooldown-epochs 10)'),
    ('train_cfg.val_interval', 1, 'AFeng-x/HST:train.py (validate after every epoch)'),
    ('param_scheduler[LinearLR].begin', 0, 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--warmup-epochs 10)'),
    ('param_scheduler[LinearLR].end', 11, 'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--warmup-epochs 10)'),
    ('param_scheduler[LinearLR].by_epoch', True, 'AFeng-x/HST:train.py (timm scheduler, t_in_epochs)'),
    ('param_scheduler[CosineAnnealingLR].T_max', 100,
     'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--epochs 100)'),
    ('param_scheduler[CosineAnnealingLR].eta_min', 1e-8,
     'AFeng-x/HST:train_scripts/vit/vtab/*/train_s4.sh (--min-lr 1e-8)'),
    ('param_scheduler[CosineAnnealingLR].begin', 0, 'AFeng-x/HST:train.py (timm cosine counts from epoch 0)'),
    ('param_scheduler[CosineAnnealingLR].end', 101, 'AFeng-x/HST:train.py (--min-lr held for --cooldown-epochs)'),
    ('param_scheduler[CosineAnnealingLR].by_epoch', True, 'AFeng-x/HST:train.py (timm scheduler, t_in_epochs)'),
    # evaluation
    ('val_evaluator', dict(type='Accuracy', topk=(1, )), 'AFeng-x/HST:train.py (--eval-metric top1)'),
    ('default_hooks.checkpoint.save_best', 'accuracy/top1', 'AFeng-x/HST:train.py (CheckpointSaver on top1)'),
    ('custom_hooks[SyncBuffersHook].type', 'SyncBuffersHook', 'AFeng-x/HST:train.py (--dist-bn reduce)'),
    # runtime
    ('randomness.seed', 42, 'AFeng-x/HST:train.py (--seed 42)'),
    ('randomness.diff_rank_seed', True, 'AFeng-x/HST:train.py (random_seed(args.seed, args.rank))'),
    ('env_cfg.cudnn_benchmark', True, 'AFeng-x/HST:train.py (torch.backends.cudnn.benchmark = True)'),
]

PINS = []
for config, script, classes, lr, wd, dp, root, warmup_start in TASKS:
    PINS += [
        Pin(config, 'model.head.num_classes', classes, script),
        Pin(config, 'optim_wrapper.optimizer.lr', lr, script),
        Pin(config, 'optim_wrapper.optimizer.weight_decay', wd, script),
        Pin(config, 'model.backbone.backbone.drop_path_rate', dp, script),
        Pin(config, 'model.backbone.method.drop_path_rate', dp, script),
        Pin(config, 'train_dataloader.dataset.data_root', root, script),
        Pin(config, 'val_dataloader.dataset.data_root', root, script),
        Pin(config, 'test_dataloader.dataset.data_root', root, script),
        Pin(config, 'param_scheduler[LinearLR].start_factor', warmup_start, script),
    ]
    PINS += [Pin(config, key, value, reference) for key, value, reference in COMMON]


@pytest.mark.parametrize('pin', PINS, ids=Pin.id)
def test_follows_the_reference(pin):
    check_pin(pin)


@pytest.mark.parametrize('config', [task[0] for task in TASKS])
def test_no_augmentation_ema_or_smoothing(config):
    """--no-aug --mixup 0 --cutmix 0 --smoothing 0 and no --model-ema (AFeng-x/HST:train.py): nothing is added."""
    cfg = load(config)
    assert not cfg.model.get('train_cfg'), 'batch augments (mixup / cutmix): the reference has none'
    assert 'label_smooth_val' not in cfg.model.head.loss
    assert not any('EMA' in str(hook.get('type', '')) for hook in cfg.get('custom_hooks', []))
