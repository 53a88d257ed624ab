# The Houlsby adapter on Swin-L, Cascade Mask R-CNN + FPN, COCO 3x.
# The reference repository has no Swin-L COCO config: the Swin-B recipe of
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-b_coco/cascade_mask_swin_base_3x_coco_sample_1_bs_16_adapter.py
# with Swin-L (the base below says how).
# Every training setting is in the base below.
_base_ = '../_base_/cascade-mask-rcnn_swin-l_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='Adapter', bottleneck=64)))
