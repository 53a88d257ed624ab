# RetinaNet, Swin-L (ImageNet-22K) + FPN on Pascal VOC0712, the Mona reference recipe: out_indices (1, 2, 3), FPN on
# [384, 768, 1536] with extra convs on the input, 1000x600, AdamW 1e-4 wd 0.05, 4 epochs over RepeatDataset x3 (step
# at 3), total batch 2. mmdet's VOC RetinaNet config provides the head, data and schedule.
_base_ = [
    'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    './petl_runtime.py',
    './models/swin-l.py',
    './schedules/petl_optim_wrapper.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.swin_l, drop_path_rate=0.2, out_indices=(1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[384, 768, 1536], start_level=0, add_extra_convs='on_input', num_outs=5))

train_dataloader = dict(batch_size=2)
optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True)  # AdamW 1e-4, wd 0.05 (the snippet)
auto_scale_lr = dict(enable=False, base_batch_size=2)
del _base_.swin_l, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys
