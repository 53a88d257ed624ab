# LN-tune on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# Follows the reference config
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_LN.py
# That file is the full-fine-tuning recipe of the base (AdamW lr 6e-5 wd 0.01, drop path 0.3, poly with a 1500-iteration
# warm-up) with one change: plain BN instead of SyncBN in the decode and auxiliary heads.
# Paper-reported (V-PETL Bench, not reproduced here): 47.98 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

norm_cfg = dict(type='BN', requires_grad=True)  # the reference's heads: BN, not the base's SyncBN
model = dict(
    backbone=dict(method=dict(type='LNTune')),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
