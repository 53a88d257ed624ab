# The toy-COCO transfer task of mask-rcnn_swin-mini_fpn_toy-coco.py with the shipped small plain ViT
# (checkpoints/vit-mini-p8_scenes-128px.pth, mmpretrain keys; configs/_base_/models/vit-mini.py) and HST: its side
# network gives the four maps FPN needs (strides 4/8/16/32, 32/48/64/72 channels), as in
# configs/_base_/cascade-mask-rcnn_vit-b-hst_fpn_3x_coco.py.
# A plain ViT without HST has one map: the other methods need a multi-scale neck, which this task does not add.
_base_ = ['./mask-rcnn_swin-mini_fpn_toy-coco.py', '../_base_/models/vit-mini.py']

pretrained = 'checkpoints/vit-mini-p8_scenes-128px.pth'
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='HST'), backbone=dict(
        _base_.vit_mini, init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))),
    neck=dict(in_channels=[32, 48, 64, 72]))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_mini  # the snippet's helper, not a config key
