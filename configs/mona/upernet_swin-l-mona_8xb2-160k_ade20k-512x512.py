# Mona on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# Follows the reference config
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_mona.py
# It changes three things in the full-fine-tuning recipe of the base: lr 3e-4 (written there as 0.00006 * 5.0; no
# other method's ADE20K file raises it), drop path 0.2 instead of 0.3, and a 'backbone' custom key. The heads keep
# SyncBN.
# Paper-reported (V-PETL Bench, not reproduced here): 51.36 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Mona', bottleneck=64, dropout=0.1), backbone=dict(drop_path_rate=0.2)))
# The reference's 'backbone' key (lr_mult 1.0) changes no lr, but a parameter takes the first custom key it matches,
# longest key first: every backbone parameter that is not a position table matches 'backbone' before 'norm', so the
# backbone's LayerNorms (Mona's own included) get the full weight decay, as in the reference (mmcv 1.x's constructor
# matches the same way). 'norm' is then left to match nothing: the heads' norms are named 'bn'.
optim_wrapper = dict(optimizer=dict(lr=3e-4), paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
