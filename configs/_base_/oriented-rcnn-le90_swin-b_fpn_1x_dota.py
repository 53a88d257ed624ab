# Oriented R-CNN (le90), Swin-B (ImageNet-22K) + FPN on DOTA-v1.0 (1024 single-scale split), 12 epochs with steps at
# 8 and 11, AdamW 1e-4 wd 0.05: mmrotate's own Oriented R-CNN config. The reference (STAR-MMRotate) fed FPN from
# out_indices (1, 2, 3); mmrotate's RPN anchors and RoI extractor assume a stride-4 first level, so all four stages
# feed FPN here.
_base_ = [
    'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py',
    './petl_runtime.py',
    './models/swin-b.py',
    './schedules/petl_optim_wrapper.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.swin_b, drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True)  # AdamW 1e-4, wd 0.05 (the snippet)
del _base_.swin_b, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys
