# E3VA on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# E3VA has no public code, so no reference config; V-PETL Bench reports it on ADE20K next to the baselines it ran in
# the Mona code base and publishes no dense-prediction config. This config takes the recipe that reference's PETL
# baselines share, e.g. the Adapter's:
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py
# i.e. the base's lr 6e-5 and drop path 0.3, with plain BN in the heads. The lr 3e-4 is Mona's alone.
# Paper-reported (V-PETL Bench, not reproduced here): 49.64 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

norm_cfg = dict(type='BN', requires_grad=True)  # the PETL baselines' heads: BN, not the base's SyncBN
model = dict(
    backbone=dict(method=dict(type='E3VA')),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
