# Swin-L single-label classification on Pascal VOC2007: Leiyi-Hu/mona
# Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc.py and its _base_/datasets/voc_mona.py
# (the shared recipe: ./swin-l_cls_100e.py).
# The reference does not train VOC as the usual multi-label task: its dataset (VOCMona, a plain image list) reads
# lines "<path> <label>[,<label>...]" and keeps only the FIRST label of each image, so the model is a 20-way softmax
# classifier with cross-entropy, scored by top-1 / top-5 accuracy (not mAP). Its lists (train2mmcls.txt /
# test2mmcls.txt) are not published, nor is the order of the labels on a line, so which class an image with several
# counts as is unknown. mmpretrain's VOC dataset is multi-label and cannot do this; here mmpretrain's CustomDataset
# reads lists already reduced to one label per image, "<path under JPEGImages/> <label 0-19>", with the labels in the
# order of VOC2007's class list below: meta/trainval.txt (5,011 images) for training, meta/test.txt (4,952) for
# evaluation, under data/VOC2007 (the standard VOCdevkit/VOC2007 folder).
_base_ = './swin-l_cls_100e.py'

voc_classes = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable',
               'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
model = dict(head=dict(num_classes=20))
data_preprocessor = dict(num_classes=20)
train_dataloader = dict(dataset=dict(
    type='CustomDataset', data_root='data/VOC2007', data_prefix='JPEGImages', ann_file='meta/trainval.txt',
    with_label=True, metainfo=dict(classes=voc_classes)))
val_dataloader = test_dataloader = dict(dataset=dict(
    type='CustomDataset', data_root='data/VOC2007', data_prefix='JPEGImages', ann_file='meta/test.txt',
    with_label=True, metainfo=dict(classes=voc_classes)))
