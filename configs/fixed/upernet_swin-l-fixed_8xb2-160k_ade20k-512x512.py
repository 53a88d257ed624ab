# The fixed (frozen) backbone on Swin-L, UperNet, ADE20K 512x512, 160k iterations (the reference recipe: the base below).
# Paper-reported (V-PETL Bench, not reproduced here): 46.84 mIoU.
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(method=dict(type='Fixed')))
# PETL methods train with lr 3e-4 on ADE20K (the Mona reference; full fine-tuning keeps 6e-5).
optim_wrapper = dict(optimizer=dict(lr=3e-4))
