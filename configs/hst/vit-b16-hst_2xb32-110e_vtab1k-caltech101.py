# HST on ViT-B/16 (ImageNet-21K), VTAB-1k Caltech101 (102 classes).
# Follows AFeng-x/HST:train_scripts/vit/vtab/caltech101/train_s4.sh (commit ee89571),
# through the recipe of the base below (batch 64 as 2 GPUs x 32; 100 epochs of cosine and timm's 10 cool-down
# epochs: 110), with this task's flags:
#   --num-classes 102 --lr 1e-3 --weight-decay 5e-4 --drop-path 0.1    (data: vtab-1k/caltech101)
_base_ = '../_base_/vit-b16-hst_vtab1k.py'

lr, drop_path = 1e-3, 0.1
model = dict(backbone=dict(backbone=dict(drop_path_rate=drop_path), method=dict(drop_path_rate=drop_path)),
             head=dict(num_classes=102))
data_root = 'data/vtab-1k/caltech101/'
train_dataloader = val_dataloader = test_dataloader = dict(dataset=dict(data_root=data_root))
optim_wrapper = dict(optimizer=dict(lr=lr, weight_decay=5e-4))
# timm's warm-up from --warmup-lr 1e-7 and its cosine to --min-lr 1e-8, held there for the cool-down: see the base.
param_scheduler = [dict(type='LinearLR', start_factor=1e-7 / lr, by_epoch=True, begin=0, end=11),
                   dict(type='CosineAnnealingLR', T_max=100, eta_min=1e-8, by_epoch=True, begin=0, end=101)]
