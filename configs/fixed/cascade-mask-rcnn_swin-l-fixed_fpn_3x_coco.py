# The fixed (frozen) backbone on Swin-L, Cascade Mask R-CNN + FPN, COCO 3x (the reference recipe: the base below).
_base_ = '../_base_/cascade-mask-rcnn_swin-l_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='Fixed')))
