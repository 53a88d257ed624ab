# LoRA on Swin-L, RetinaNet + FPN, Pascal VOC0712.
# Follows
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-l_voc/voc_retinanet_swin_large_1x_lora.py
# Every training setting is in the base below.
# Paper-reported (V-PETL Bench, not reproduced here): 87.5 box AP.
_base_ = '../_base_/retinanet_swin-l_fpn_4e_voc0712.py'

model = dict(backbone=dict(method=dict(type='LoRA', rank=64, alpha=1.0)))
