# Mona on Swin-B, Cascade Mask R-CNN, COCO 3x (the reference recipe; see ../_base_).
# Paper-reported (V-PETL Bench): 53.4 box AP / 46.0 mask AP. Trainable backbone parameters here: 3,667,456.
_base_ = '../_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='Mona', bottleneck=64, dropout=0.1)))
