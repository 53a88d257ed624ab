# Swin-B (ImageNet-22K, patch 4, window 7) as mmdet's SwinTransformer with its four stages out: the backbone of the
# detection bases (COCO, DOTA; Swin-L in ./swin-l.py), written once. A snippet, not a config to run: a base lists it in
# _base_, builds its backbone from it and deletes the helper key, so that `swin_b` stays out of the resolved config
# (mmdet's own configs do the same, e.g. `del _base_.model` in qdtrack):
#     backbone=dict(_base_.swin_b, drop_path_rate=..., init_cfg=dict(type='Pretrained', checkpoint=pretrained))
#     del _base_.swin_b
# convert_weights: the official checkpoints have the original Swin keys, which mmdet converts (swin_converter).
swin_b = dict(
    type='mmdet.SwinTransformer', embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=7,
    mlp_ratio=4, qkv_bias=True, qk_scale=None, drop_rate=0., attn_drop_rate=0., patch_norm=True,
    out_indices=(0, 1, 2, 3), with_cp=False, convert_weights=True)
