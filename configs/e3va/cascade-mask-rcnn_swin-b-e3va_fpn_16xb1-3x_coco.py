# E3VA on Swin-B, Cascade Mask R-CNN + FPN, COCO 3x.
# The reference repository has no config for it (E3VA has no public code): it follows the recipe that
# repository trains every method with (V-PETL Bench does the same), read from
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_full.py
# Every training setting is in the base below.
# Paper-reported (V-PETL Bench, not reproduced here): 1.20 M / 50.5 / 43.8 (params / box AP / mask AP).
_base_ = '../_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='E3VA')))
