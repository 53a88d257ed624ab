# Swin-L classification on Oxford-IIIT Pets: Leiyi-Hu/mona
# Swin-Transformer-Classification/mona_configs/swin-l_oxford-pet/swin-large_4xb8_oxford_pet.py and its
# _base_/datasets/oxford_pet_mona.py (the shared recipe: ./swin-l_cls_100e.py).
# The reference reads its own image lists (train2mmcls.txt / test2mmcls.txt, not published, lines "<path> <label>",
# 37 classes); here mmpretrain's OxfordIIITPet reads the official split files (data/Oxford-IIIT_Pets with images/ and
# annotations/{trainval,test}.txt): trained on trainval (3,680 images), evaluated on test (3,669).
_base_ = './swin-l_cls_100e.py'

model = dict(head=dict(num_classes=37))
data_preprocessor = dict(num_classes=37)
train_dataloader = dict(dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='trainval'))
val_dataloader = test_dataloader = dict(
    dataset=dict(type='OxfordIIITPet', data_root='data/Oxford-IIIT_Pets', split='test'))
