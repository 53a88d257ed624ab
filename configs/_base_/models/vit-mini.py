# mmpetl's small plain ViT ("vit-mini": width 96, 8 blocks, 3 heads, patch 8, cls token, 64 px) as mmpretrain's
# VisionTransformer: the upstream backbone of configs/pretrain/vit-mini-p8_shapes48-64px.py, shipped as
# checkpoints/vit-mini-p8_shapes48-64px.pth (ImageClassifier keys: load it with prefix='backbone.'), and the backbone
# of the transfer study's ViT configs. At 128 px it sees 16x16 patches; mmpretrain resizes its position embedding.
# A snippet read as `_base_.vit_mini` and then deleted (`del _base_.vit_mini`), as ./swin-b.py describes.
vit_mini = dict(
    type='mmpretrain.VisionTransformer',
    arch=dict(embed_dims=96, num_layers=8, num_heads=3, feedforward_channels=384),
    img_size=64,  # the pretraining grid (8x8); resized to each input's grid at run time
    patch_size=8,
    drop_path_rate=0.1)
