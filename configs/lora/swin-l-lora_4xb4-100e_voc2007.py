# LoRA on Swin-L, classification, VOC2007 (single-label), 4 GPUs x 4 images, 100 epochs: the reference
# Leiyi-Hu/mona:Swin-Transformer-Classification/mona_configs/swin-l_voc/swin-large_4xb8_voc_lora.py
# (its settings: the base below).
# That file names a backbone `SwinTransformer_lora_64` that the reference never registers (it
# cannot build); its registered `SwinTransformer_lora`, which the Flowers and Pets files use, is
# LoRA of rank 64 on q and v, as here.
_base_ = '../_base_/swin-l_4xb4-100e_voc2007.py'

model = dict(backbone=dict(method=dict(type='LoRA', rank=64, alpha=1.0)))
