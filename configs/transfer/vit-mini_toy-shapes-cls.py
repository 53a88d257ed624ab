# The classification transfer task of swin-mini_toy-shapes-cls.py with the shipped small plain ViT
# (checkpoints/vit-mini-p8_scenes-128px.pth: patch 8, cls token; configs/_base_/models/vit-mini.py). The cls token
# feeds the linear head; HST replaces it by its pooled side-network output (the transfer study sets
# method=dict(type='HST', out_type='pooled') and the neck's and head's widths to the side network's last width, 72).
_base_ = ['./swin-mini_toy-shapes-cls.py', '../_base_/models/vit-mini.py']

pretrained = 'checkpoints/vit-mini-p8_scenes-128px.pth'
model = dict(
    backbone=dict(backbone=dict(
        _base_.vit_mini, _delete_=True, out_type='cls_token', with_cls_token=True,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))),
    neck=dict(_delete_=True, type='ClsBatchNormNeck', input_features=96),
    head=dict(in_channels=96))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.pos_embed': dict(decay_mult=0.0),
                                                     '.cls_token': dict(decay_mult=0.0)}))
del _base_.vit_mini  # the snippet's helper, not a config key
