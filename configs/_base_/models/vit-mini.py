# mmpetl's small plain ViT ("vit-mini": width 96, 8 blocks, 3 heads, patch 8, cls token, 64 px) as mmpretrain's
# VisionTransformer: the upstream backbone of configs/pretrain/vit-mini-p8_*.py, shipped as
# checkpoints/vit-mini-p8_scenes-128px.pth (mmpretrain keys: load it with prefix='backbone.'), and the backbone
# of the transfer study's ViT configs. At 128 px it sees 16x16 patches; mmpretrain resizes its position embedding.
# A snippet read as `_base_.vit_mini` and then deleted (`del _base_.vit_mini`), as ./swin-b.py describes.
vit_mini = dict(
    type='mmpretrain.VisionTransformer',
    arch=dict(embed_dims=96, num_layers=8, num_heads=3, feedforward_channels=384),
    img_size=64,  # an 8x8 grid; a checkpoint's grid (16x16 for the scenes release) is resized to it on load, and
    # the model's to each input's grid at run time
    patch_size=8,
    drop_path_rate=0.1)
