# Swin-L classification on Oxford-IIIT Pets (mmpretrain's OxfordIIITPet: data/Oxford-IIIT_Pets with images/ and
# annotations/{trainval,test}.txt).
_base_ = './swin-l_cls_100e.py'

model = dict(head=dict(num_classes=37))
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='trainval'))
val_dataloader = test_dataloader = dict(
    dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='test'))
