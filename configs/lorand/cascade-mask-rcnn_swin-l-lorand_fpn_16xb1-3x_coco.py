# LoRand on Swin-L, Cascade Mask R-CNN + FPN, COCO 3x.
# The reference repository has no config for it (LoRand is not among its methods): it follows the recipe that
# repository trains every method with (V-PETL Bench does the same), read from
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_full.py
# Every training setting is in the base below.
_base_ = '../_base_/cascade-mask-rcnn_swin-l_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='LoRand', subspaces=4, rank=8)))
