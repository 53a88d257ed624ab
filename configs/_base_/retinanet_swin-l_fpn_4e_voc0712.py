# RetinaNet, Swin-L (ImageNet-22K) + FPN on Pascal VOC0712: the recipe of
#   Leiyi-Hu/mona:Swin-Transformer-Object-Detection/mona_configs/swin-l_voc/voc_retinanet_swin_large_1x_<method>.py
# (one file per method, identical but for the backbone type) with its _base_ files datasets/voc0712.py and
# default_runtime.py, in mmengine's schema:
# - model: drop path 0.2, stages 1-3 out (out_indices (1, 2, 3)), FPN on [384, 768, 1536] from level 0 with extra
#   convs on the input, 5 levels; the RetinaNet head and its train/test settings as mmdet's VOC RetinaNet;
# - data: 1 image per GPU on 2 GPUs (samples_per_gpu=1; gpu_ids range(0, 2) in the reference's training logs,
#   log/voc/*.txt, whose 24,827 iterations per epoch are 3 x 16,551 VOC07+12 trainval images / 2), VOC07+12 trainval
#   repeated 3 times, 1000x600, flip 0.5; test on VOC2007 test at 1000x600;
# - AdamW lr 1e-4, betas 0.9/0.999, wd 0.05, no decay on position tables and norms, no gradient clipping;
# - 4 epochs of the 3x-repeated set, step at 3 (x0.1), no warm-up (the reference's lr_config sets none and uses no
#   schedule base; its logs show lr 1e-4 from the first iterations);
# - apex O1 mixed precision (DistOptimizerHook use_fp16=True): AmpOptimWrapper, dynamic loss scale (needs a CUDA GPU);
# - VOC mAP (IoU 0.5, the VOC2007 11-point AP of mmdet 2.x) after every epoch, a checkpoint every epoch.
# - `frozen_stages=1`: in the Swin repository's backbone that freezes the patch embedding only (mmdet's SwinTransformer
#   would read 1 as "patch embedding and stage 0"), which matters for Full, LN-tune and BitFit (the other methods
#   freeze the patch embedding anyway): `frozen_modules=['patch_embed']` of mmpetl.PETLBackbone, set once when the model
#   is built (the upstream `frozen_stages` would re-freeze in train(), after DDP has wrapped the model).
# mmdet's VOC RetinaNet config supplies head, data, schedule and evaluation.
_base_ = [
    'mmdet::pascal_voc/retinanet_r50_fpn_1x_voc0712.py',
    './petl_runtime.py',
    './models/swin-l.py',
    './schedules/petl_optim_wrapper.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_large_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'),
                  frozen_modules=['patch_embed'], backbone=dict(
                      _base_.swin_l, drop_path_rate=0.2, out_indices=(1, 2, 3),
                      init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[384, 768, 1536], out_channels=256, start_level=0, add_extra_convs='on_input', num_outs=5))

# 2 GPUs x 1 image: `tools/dist_train.sh CONFIG 2`. The reference's lr is for this total batch of 2.
train_dataloader = dict(batch_size=1, num_workers=2)

# 4 epochs of the 3x-repeated set (12 passes over VOC07+12), x0.1 after 3, no warm-up: written here although mmdet's VOC
# RetinaNet has the same, so that the schedule is the reference's whatever that file becomes.
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[3], gamma=0.1)]

# AdamW 1e-4, wd 0.05 (the snippet); the reference trains under apex O1, whose loss scale is dynamic. AMP needs a
# CUDA GPU: CPU runs fall back to a plain OptimWrapper.
optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True, type='AmpOptimWrapper', loss_scale='dynamic',
                     clip_grad=None)
auto_scale_lr = dict(enable=False, base_batch_size=2)
del _base_.swin_l, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys
