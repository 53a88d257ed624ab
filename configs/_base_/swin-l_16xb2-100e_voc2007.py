# Swin-L multi-label classification on Pascal VOC2007 (mmpretrain's VOC: data/VOC2007), evaluated with mAP as
# mmpretrain's VOC config does.
_base_ = './swin-l_cls_100e.py'

model = dict(head=dict(_delete_=True, type='MultiLabelLinearClsHead', num_classes=20, in_channels=1536))
data_preprocessor = dict(num_classes=20, to_onehot=True)
train_dataloader = dict(dataset=dict(type='VOC', data_root='data/VOC2007', split='trainval'))
val_dataloader = test_dataloader = dict(dataset=dict(type='VOC', data_root='data/VOC2007', split='test'))
val_evaluator = [
    dict(type='VOCMultiLabelMetric'),
    dict(type='VOCMultiLabelMetric', average='micro'),
    dict(type='VOCAveragePrecision'),
]
test_evaluator = val_evaluator
