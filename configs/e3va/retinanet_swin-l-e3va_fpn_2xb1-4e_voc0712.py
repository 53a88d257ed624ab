# E3VA on Swin-L, RetinaNet + FPN, Pascal VOC0712.
# The reference repository has no config for it (E3VA has no public code): it follows the recipe that
# repository trains every method with (V-PETL Bench does the same), read from
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-l_voc/voc_retinanet_swin_large_1x_full.py
# Every training setting is in the base below.
# Paper-reported (V-PETL Bench, not reproduced here): 86.5 box AP.
_base_ = '../_base_/retinanet_swin-l_fpn_4e_voc0712.py'

model = dict(backbone=dict(method=dict(type='E3VA')))
