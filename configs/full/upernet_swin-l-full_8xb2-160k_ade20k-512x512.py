# Full fine-tuning on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# Follows the reference config
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_full.py
# which is the recipe of the base as it stands (AdamW lr 6e-5 wd 0.01, drop path 0.3, SyncBN heads).
# Paper-reported (V-PETL Bench, not reproduced here): 52.10 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Full')))
