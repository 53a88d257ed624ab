# The fixed (frozen) backbone on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# Follows the reference config
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_fixed.py
# which is the full-fine-tuning recipe of the base unchanged (lr 6e-5, drop path 0.3, SyncBN heads), only the backbone
# frozen.
# Paper-reported (V-PETL Bench, not reproduced here): 46.84 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Fixed')))
