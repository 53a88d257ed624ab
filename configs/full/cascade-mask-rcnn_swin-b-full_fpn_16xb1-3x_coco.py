# Full fine-tuning on Swin-B, Cascade Mask R-CNN + FPN, COCO 3x.
# Follows
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_full.py
# Every training setting is in the base below.
# Paper-reported (V-PETL Bench, not reproduced here): 86.75 M / 51.9 / 45.0 (params / box AP / mask AP).
_base_ = '../_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='Full')))
