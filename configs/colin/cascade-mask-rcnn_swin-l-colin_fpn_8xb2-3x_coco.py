# CoLin on Swin-L, Cascade Mask R-CNN + FPN, COCO 3x, 8 GPUs x 2 images.
# The reference repository has no Swin-L COCO config: the Swin-B recipe of
#   DongshuoYin/CoLin:MMDetection/peft_config/config/cascade_mask_rcnn_colin_train_only-b-p4-w7_official_3x_coco.py
# (./cascade-mask-rcnn_swin-b-colin_fpn_8xb2-3x_coco.py says what it changes in the base: 2 images per GPU on an
# assumed 8 GPUs, validation every 3 epochs; and its ambiguity, the unregistered backbone name `SwinCoLin`) on the
# Swin-L base below (Swin-L's sizes and FPN inputs, drop path 0.3).
# No published figure for this setting.
_base_ = '../_base_/cascade-mask-rcnn_swin-l_fpn_4conv1fc-giou_ms-crop-3x_coco.py'

model = dict(backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3,
                                       loss_weight=0.5, orth_loss='reference')))

# 8 GPUs x 2 images (the GPU count assumed): the base's total batch of 16 and auto_scale_lr base 16.
train_dataloader = dict(batch_size=2)
train_cfg = dict(val_interval=3)
