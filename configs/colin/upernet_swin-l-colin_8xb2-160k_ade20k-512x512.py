# CoLin on Swin-L, UperNet, ADE20K 512x512, 160k iterations, batch 16 (8x2).
# CoLin has no reference ADE20K config: DongshuoYin/CoLin's README lists semantic segmentation as "TBD" and publishes
# MMDetection configs only. This config takes the recipe the Mona reference's PETL baselines share, e.g. the Adapter's
# (as LoRand and E3VA do; CoLin is an adapter of the same bottleneck kind):
# Leiyi-Hu/mona:Swin-Transformer-Semantic-Segmentation/mona_configs/swin-l_ade20k/ade20k_upernet_swin_large_160k_adapter.py
# i.e. the base's lr 6e-5 and drop path 0.3, with plain BN in the heads. The lr 3e-4 is Mona's alone.
# Paper-reported (arXiv 2602.10513, as listed by the wizwand.com summary of the paper; third-party), not reproduced
# here: 51.28 mIoU (whether with this recipe is not on record).
_base_ = '../_base_/upernet_swin-l_8xb2-160k_ade20k-512x512.py'

norm_cfg = dict(type='BN', requires_grad=True)  # the PETL baselines' heads: BN, not the base's SyncBN
model = dict(
    backbone=dict(method=dict(type='CoLin', inner_dim=100, rank=28, branches=4, kernel_size=3, loss_weight=0.5,
                              orth_loss='reference')),
    decode_head=dict(norm_cfg=norm_cfg),
    auxiliary_head=dict(norm_cfg=norm_cfg))
