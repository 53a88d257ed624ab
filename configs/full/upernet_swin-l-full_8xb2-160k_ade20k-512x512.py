# Full fine-tuning on Swin-L, UperNet, ADE20K 512x512, 160k iterations (the reference recipe: the base below).
# Paper-reported (V-PETL Bench, not reproduced here): 52.10 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Full')))
