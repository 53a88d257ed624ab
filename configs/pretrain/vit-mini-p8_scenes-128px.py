# Dense pretraining of mmpetl's small plain ViT ("vit-mini", patch 8, cls token: configs/_base_/models/vit-mini.py) on
# the generated upstream scenes (see swin-mini_scenes-128px.py, whose data, schedule and optimizer it shares). The
# ViT gives one 16x16 map at 128 px; the decode head reads it after blocks 2, 4, 6 and 8. Its step costs 1.6x the
# Swin's, so it trains for 2,000 iterations (warm-up 133, the same share) to stay within 20 minutes on 2 cores.
_base_ = ['./swin-mini_scenes-128px.py', '../_base_/models/vit-mini.py']

backbone_arch = _base_.vit_mini.arch
model = dict(
    backbone=dict(_base_.vit_mini, _delete_=True, img_size=128, out_type='featmap', with_cls_token=True,
                  out_indices=(1, 3, 5, 7),
                  init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02, bias=0.),
                            dict(type='Constant', layer='LayerNorm', val=1., bias=0.)]),
    decode_head=dict(in_channels=[96, 96, 96, 96]))
max_iters = 2000
warmup_iters = 133
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=warmup_iters, end=max_iters),
]
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.pos_embed': dict(decay_mult=0.0),
                                                     '.cls_token': dict(decay_mult=0.0)}))
del _base_.vit_mini  # the snippet's helper, not a config key
