# Swin-L (ImageNet-22K, window 7) as mmdet's SwinTransformer: ./swin-b.py with Swin-L's width and heads. A snippet
# read as `_base_.swin_l` and then deleted (`del _base_.swin_l`), as ./swin-b.py describes.
_base_ = './swin-b.py'

swin_l = dict(_base_.swin_b, embed_dims=192, num_heads=[6, 12, 24, 48])
del _base_.swin_b
