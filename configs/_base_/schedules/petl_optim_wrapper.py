# The optimizer of the Swin detection recipes (Cascade Mask R-CNN on COCO, Oriented R-CNN on DOTA, RetinaNet on VOC):
# AdamW lr 1e-4, betas 0.9 / 0.999, weight decay 0.05, none on the position tables and the norms, with mmpetl's
# constructor, which leaves the frozen (requires_grad=False) parameters out and says so in one log line.
# A snippet, not a config to run: a base replaces the upstream optimizer with it and deletes the helper key
#     optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True)
#     del _base_.petl_optim_wrapper
petl_optim_wrapper = dict(
    type='OptimWrapper',
    constructor='mmpetl.PETLOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.),
    }))
