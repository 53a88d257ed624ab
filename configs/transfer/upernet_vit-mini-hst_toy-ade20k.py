# The toy-ADE20K transfer task of upernet_swin-mini_toy-ade20k.py with the shipped small plain ViT
# (checkpoints/vit-mini-p8_shapes48-64px.pth, mmpretrain keys) and HST, whose side network gives UperNet its four maps
# (as in configs/_base_/upernet_vit-b-hst_8xb2-160k_ade20k-512x512.py).
_base_ = './upernet_swin-mini_toy-ade20k.py'

pretrained = 'checkpoints/vit-mini-p8_shapes48-64px.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpetl.PETLBackbone',
        backbone=dict(
            type='mmpretrain.VisionTransformer',
            arch=dict(embed_dims=96, num_layers=8, num_heads=3, feedforward_channels=384),
            img_size=64,
            patch_size=8,
            drop_path_rate=0.1,
            init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
        method=dict(type='HST')),
    decode_head=dict(in_channels=[32, 48, 64, 72], in_index=[0, 1, 2, 3]),
    auxiliary_head=dict(in_channels=64, in_index=2))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
