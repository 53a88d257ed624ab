# UperNet, Swin-L (ImageNet-22K, window 7), ADE20K 512x512, 160k iterations, batch 16 (8x2): mmseg's own config of
# that recipe (AdamW wd 0.01, poly with power 1, 1500-iteration warm-up; lr 6e-5 for full fine-tuning — PETL configs
# raise it to 3e-4 as the Mona reference does). Only the backbone is wrapped; a PETL config sets the method.
_base_ = [
    'mmseg::swin/swin-large-patch4-window7-in22k-pre_upernet_8xb2-160k_ade20k-512x512.py',
    './petl_runtime.py',
]

# mmseg's converted ImageNet-22K Swin-L (the keys mmseg's SwinTransformer expects)
pretrained = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_large_patch4_window7_224_22k_20220412-aeecf2aa.pth'  # noqa
# the upstream config's own Swin-L (window 7, drop path 0.3), scoped to mmseg and wrapped
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.model.backbone, type='mmseg.SwinTransformer', init_cfg=dict(type='Pretrained', checkpoint=pretrained))))
# mmseg's optimizer settings, with mmpetl's constructor: frozen parameters left out, in one log line
optim_wrapper = dict(constructor='mmpetl.PETLOptimWrapperConstructor')
