# The toy-ADE20K transfer task of upernet_swin-mini_toy-ade20k.py with the shipped small plain ViT
# (checkpoints/vit-mini-p8_scenes-128px.pth, mmpretrain keys; configs/_base_/models/vit-mini.py) and HST, whose side
# network gives UperNet its four maps (as in configs/_base_/upernet_vit-b-hst_8xb2-160k_ade20k-512x512.py).
_base_ = ['./upernet_swin-mini_toy-ade20k.py', '../_base_/models/vit-mini.py']

pretrained = 'checkpoints/vit-mini-p8_scenes-128px.pth'
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='HST'), backbone=dict(
        _base_.vit_mini, init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.'))),
    decode_head=dict(in_channels=[32, 48, 64, 72], in_index=[0, 1, 2, 3]),
    auxiliary_head=dict(in_channels=64, in_index=2))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_mini  # the snippet's helper, not a config key
