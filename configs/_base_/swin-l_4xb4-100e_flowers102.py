# Swin-L classification on Oxford Flowers-102: Leiyi-Hu/mona
# Swin-Transformer-Classification/mona_configs/swin-l_oxford-flower/swin-large_4xb8_oxford_flower.py and its
# _base_/datasets/oxford_flower_mona.py (the shared recipe: ./swin-l_cls_100e.py).
# The reference reads its own image lists (train2mmcls.txt / test2mmcls.txt, not published, lines "<path> <label>",
# 102 classes) through a plain list dataset; its data root lacks the trailing slash its paths need
# ('data/oxford_flower' + 'train2mmcls.txt'). Here mmpretrain's Flowers102 reads the official files (data/flowers102
# with jpg/, imagelabels.mat and setid.mat). Whether the reference's training list holds the official train split
# alone or train + val is not stated: trained here on train + val (2,040 images), evaluated on test (6,149).
_base_ = './swin-l_cls_100e.py'

model = dict(head=dict(num_classes=102))
data_preprocessor = dict(num_classes=102)
train_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='trainval'))
val_dataloader = test_dataloader = dict(dataset=dict(type='Flowers102', data_root='data/flowers102', split='test'))
