# Pretraining of mmpetl's small plain ViT ("vit-mini", patch 8, cls token) on the generated upstream task (see
# swin-mini_shapes48-64px.py, whose data, schedule and optimizer it shares). At 128 px downstream it sees 16x16
# patches; mmpretrain and mmseg resize its position embedding when they load it.
_base_ = ['./swin-mini_shapes48-64px.py']

backbone_arch = dict(embed_dims=96, num_layers=8, num_heads=3, feedforward_channels=384)
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        arch=backbone_arch,
        img_size=64,
        patch_size=8,
        drop_path_rate=0.1,
        out_type='cls_token',
        with_cls_token=True),
    neck=None,
    head=dict(in_channels=96))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.pos_embed': dict(decay_mult=0.0),
                                                     '.cls_token': dict(decay_mult=0.0)}))
