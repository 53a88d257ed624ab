# Oriented R-CNN (le90), Swin-B (ImageNet-22K) + FPN on DOTA-v1.0 (1024 single-scale split), 12 epochs.
# References (github VisionXLab/STAR-MMRotate, commit 465c63f4c4ab3660968c938ede46990645560933, mmrotate 0.3.x):
# - VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py (and its
#   siblings per method): the Swin-B Oriented R-CNN PEFT recipe: model, optimizer, drop path;
# - VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin_tiny_fpn_1x_dota_le90.py (mmrotate's Swin
#   Oriented R-CNN on DOTA, over configs/oriented_rcnn/oriented_rcnn_r50_fpn_1x_dota_le90.py): the same optimizer,
#   drop path and FPN inputs on DOTA, the original Swin release converted on loading (convert_weights=True, as here);
# - VisionXLab/STAR-MMRotate:configs/h2rbox_v2p/peft/h2rbox_v2p_swin-b_mona_fpn_1x_dota_le90.py (and its siblings):
#   the PEFT settings on DOTA: trainval for training, the test images for the submission, evaluation every 6 epochs,
#   one checkpoint kept;
# - their bases VisionXLab/STAR-MMRotate:configs/_base_/datasets/dotav1.py, configs/_base_/schedules/schedule_1x.py and
#   configs/_base_/default_runtime.py.
# The reference has no Oriented R-CNN Swin-B PEFT config for DOTA (its DOTA PEFT configs are H2RBox-v2): this base is
# the Oriented R-CNN PEFT recipe of its STAR configs (the same as its Swin-T DOTA config) on the DOTA data and
# evaluation of its DOTA PEFT configs.
# - Model: mmrotate 1.x's Oriented R-CNN le90 (same heads, assigners and test settings as the reference's: RPN NMS 0.8
#   and 2000 proposals, rotated NMS 0.1, score 0.05, 2000 boxes). All four Swin stages feed FPN, as in the
#   reference's Oriented R-CNN configs: its DOTA H2RBox-v2 configs take out_indices (1, 2, 3) because that head starts
#   at stride 8, while Oriented R-CNN's anchors and RoI extractor start at stride 4. Drop path 0.2 (the _init configs).
# - Optimizer: AdamW lr 1e-4, betas 0.9/0.999, wd 0.05, no decay on the position tables and the norms (the Oriented
#   R-CNN PEFT configs). The DOTA H2RBox-v2 configs use lr 5e-5 without paramwise settings, but that is H2RBox-v2's
#   own DOTA recipe (its ResNet-50 config, configs/h2rbox_v2p/h2rbox_v2p_r50_fpn_1x_dota_le90.py, has the same), not a
#   PEFT or DOTA choice: its STAR PEFT configs use 1e-4. Gradient clipping at norm 35 (L2): schedule_1x's
#   optimizer_config, which every PEFT config keeps under its AdamW. No mixed precision (no fp16 in the reference).
# - Schedule (schedule_1x): 12 epochs, 500-iteration linear warm-up from 1/3, steps at 8 and 11 (mmrotate 1.x's
#   schedule_1x, inherited). 2 images per GPU (samples_per_gpu); the reference states no GPU count and scales no lr.
# - Data (dotav1.py): resize to 1024 keeping the ratio, horizontal/vertical/diagonal flips 0.25 each (mmrotate 1.x's
#   RandomFlip prob 0.75 over the three directions), trainval for training, validation on trainval (mmrotate's dota.py
#   as the reference's dotav1.py). The reference's data_root data/split_1024_dota1_0/ is the same 1024/gap-200 split
#   that mmrotate 1.x writes to data/split_ss_dota/ (kept).
# - Test: the reference tests on the test images, which have no annotations (its data.test): the detections of the
#   patches are merged per image (rotated NMS 0.1, DOTADataset.merge_det) into DOTA's Task1 submission files. Here the
#   same with mmrotate 1.x's DOTAMetric(format_only=True, merge_patches=True): `tools/test.py CONFIG CKPT` writes
#   Task1_<class>.txt and a zip under test_evaluator.outfile_prefix, which must not exist yet (DOTAMetric refuses an
#   existing one: pass --cfg-options test_evaluator.outfile_prefix=... per run). The server scores them; a local mAP
#   (on the annotated trainval patches) comes from the validation loop.
# The PEFT configs' checkpoint is OpenMMLab's conversion of the same Swin-B 22K weights, loaded here from the original
# release (convert_weights=True, as the Swin-T DOTA config does).
_base_ = [
    'mmrotate::oriented_rcnn/oriented-rcnn-le90_r50_fpn_1x_dota.py',
    './petl_runtime.py',
    './models/swin-b.py',
    './schedules/petl_optim_wrapper.py',
]

pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_base_patch4_window7_224_22k.pth'  # noqa
model = dict(
    backbone=dict(_delete_=True, type='mmpetl.PETLBackbone', method=dict(type='Fixed'), backbone=dict(
        _base_.swin_b, drop_path_rate=0.2, init_cfg=dict(type='Pretrained', checkpoint=pretrained))),
    neck=dict(in_channels=[128, 256, 512, 1024]))

# AdamW 1e-4, wd 0.05, paramwise (the shared snippet), plus schedule_1x's gradient clipping
optim_wrapper = dict(_base_.petl_optim_wrapper, _delete_=True, clip_grad=dict(max_norm=35, norm_type=2))
del _base_.swin_b, _base_.petl_optim_wrapper  # helpers of the snippets, not config keys

train_dataloader = dict(batch_size=2)
train_cfg = dict(max_epochs=12, val_interval=6)  # evaluation = dict(interval=6)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1))  # checkpoint_config

# The test split: DOTA's test images (split like trainval, no annotations) -> Task1 submission files.
test_dataloader = dict(dataset=dict(
    _delete_=True, type='DOTADataset', data_root=_base_.data_root, ann_file='',
    data_prefix=dict(img_path='test/images/'), test_mode=True, pipeline=_base_.test_pipeline))
test_evaluator = dict(
    _delete_=True, type='DOTAMetric', format_only=True, merge_patches=True, iou_thr=0.1,
    outfile_prefix='work_dirs/dota_test/Task1')
