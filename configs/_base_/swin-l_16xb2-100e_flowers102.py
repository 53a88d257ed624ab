# Swin-L classification on Oxford Flowers-102 (mmpretrain's Flowers102: data/flowers102 with jpg/, imagelabels.mat and
# setid.mat); trained on train+val, evaluated on test.
_base_ = './swin-l_cls_100e.py'

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='trainval'))
val_dataloader = test_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='test'))
