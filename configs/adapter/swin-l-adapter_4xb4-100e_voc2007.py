# The Houlsby adapter on Swin-L, classification, VOC2007 (single-label), 4 GPUs x 4 images, 100 epochs: the reference
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_adapter.py
# (its settings: the base below).
_base_ = '../_base_/swin-l_4xb4-100e_voc2007.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64)))
