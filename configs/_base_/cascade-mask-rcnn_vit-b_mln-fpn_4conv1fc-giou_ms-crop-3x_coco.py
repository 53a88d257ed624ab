# Cascade Mask R-CNN on COCO, 3x, with a plain ViT-B/16 (Google's ImageNet-21K weights): the COCO recipe of the Swin-B
# base below (4conv1fc GIoU heads, FPN, multi-scale AutoAugment with short sides 480-800, AdamW 1e-4 wd 0.05,
# 36 epochs with steps at 27/33, 500-iteration warm-up, batch 16) with the backbone swapped and a neck in front of FPN.
# A PETL config inherits this file and sets `model.backbone.method`.
# The neck: a plain ViT has one stride-16 map, the recipe's FPN wants four (strides 4-32). mmseg's MultiLevelNeck, as in
# the ADE20K base (./upernet_vit-b_mln_8xb2-160k_ade20k-512x512.py, mmseg's own ViT UperNet), reads blocks 3, 6, 9 and
# 12, projects each to 256 channels (1x1 conv), resizes them x4 / x2 / x1 / x0.5 (bilinear) and smooths them (3x3 conv);
# the recipe's FPN follows unchanged (top-down path, P6 by max-pool for the RPN's stride-64 anchors). Why not ViTDet's
# simple feature pyramid: mmdet 3.3 does not ship it (`SimpleFPN` is in projects/ViTDet of mmdet's source tree, not in
# the installed package), while MultiLevelNeck is in mmseg, already installed; it is the same design (parallel 1x1 +
# 3x3 convs per scale from a plain ViT, resizing instead of deconvolutions / pooling), and it reads the ViT the same
# way in both tasks. 256 channels, not mmseg's 768: the stride-4 map at 1333x800 stays at FPN's width.
# The ViT is mmpretrain's (./models/vit-b16.py): it has the fused qkv Linear LoRA needs, and keeps the 14x14 position
# embedding of the checkpoint, resized (bicubic) to every input's grid at run time (img_size=224; ViTDet's ViT does the
# same), which the recipe's multi-scale inputs need. Attention stays global (mmpretrain's ViT has no window attention).
_base_ = ['./cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py', './models/vit-b16.py']

pretrained = 'pretrain/vit-base-p16_in21k_mmpretrain.pth'  # converted as ./models/vit-b16.py says
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]),  # the ViT's [-1, 1] inputs
    # drop path 0.1: ViTDet's ViT-B value
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.vit_b16, out_type='featmap', out_indices=(2, 5, 8, 11), drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=[dict(type='mmseg.MultiLevelNeck', in_channels=[768] * 4, out_channels=256, scales=[4, 2, 1, 0.5]),
          dict(_base_.model.neck, in_channels=[256] * 4)])

# The recipe's "no weight decay on position tables and norms", in the ViT's names (mmseg's ViT config does the same):
# pos_embed, cls_token, and the LayerNorms mmpretrain calls ln1 / ln2 (`ln1` is also the final norm).
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'pos_embed': dict(decay_mult=0.), 'cls_token': dict(decay_mult=0.),
    '.ln1.': dict(decay_mult=0.), '.ln2.': dict(decay_mult=0.)}))
del _base_.vit_b16  # the snippet's helper, not a config key
