# Pretraining of mmpetl's small plain ViT ("vit-mini", patch 8, cls token: configs/_base_/models/vit-mini.py) on the
# generated upstream task (see swin-mini_shapes48-64px.py, whose data, schedule and optimizer it shares). At 128 px
# downstream it sees 16x16 patches; mmpretrain and mmseg resize its position embedding when they load it.
_base_ = ['./swin-mini_shapes48-64px.py', '../_base_/models/vit-mini.py']

backbone_arch = _base_.vit_mini.arch
model = dict(
    backbone=dict(_base_.vit_mini, _delete_=True, type='VisionTransformer', out_type='cls_token', with_cls_token=True),
    neck=None,
    head=dict(in_channels=96))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.pos_embed': dict(decay_mult=0.0),
                                                     '.cls_token': dict(decay_mult=0.0)}))
del _base_.vit_mini  # the snippet's helper, not a config key
