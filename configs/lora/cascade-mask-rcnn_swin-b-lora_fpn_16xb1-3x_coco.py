# LoRA on Swin-B, Cascade Mask R-CNN + FPN, COCO 3x.
# Follows
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_lora.py
# That file names the backbone `SwinTransformer_lora_64`, which the repository does not register (its
# LoRA Swin is `SwinTransformer_lora`, rank 64 on q and v): rank 64, as the name and the paper say.
# Every training setting is in the base below.
# Paper-reported (V-PETL Bench, not reproduced here): 3.03 M / 51.2 / 44.3 (params / box AP / mask AP).
_base_ = '../_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='LoRA', rank=64, alpha=1.0)))
