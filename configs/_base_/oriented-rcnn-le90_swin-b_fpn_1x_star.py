# Oriented R-CNN (le90), Swin-B (ImageNet-22K) + FPN on STAR (48 classes), 1024 patches, 12 epochs.
# Reference: VisionXLab/STAR-MMRotate:configs/oriented_rcnn/oriented_rcnn_swin-b_mona_fpn_1x_star_le90_init.py
# (commit 465c63f4c4ab3660968c938ede46990645560933), identical but for the backbone type in
# configs/oriented_rcnn/oriented_rcnn_swin-b_{adapter,bitfit,fixed,lora,norm_tunning,partial1}_fpn_1x_star_le90_init.py,
# configs/oriented_rcnn/peft/oriented_rcnn_swin-b_{adaptformer,lorand}_fpn_1x_star_le90_init.py and (full fine-tuning,
# mmdet's SwinTransformer) configs/oriented_rcnn/oriented_rcnn_swin-b_fpn_1x_star_le90.py, with their bases
# configs/_base_/datasets/star.py, configs/_base_/schedules/schedule_1x.py and configs/_base_/default_runtime.py.
# - Which reference: the _init family. It is the only one with every method (the Mona repository's Swin variants,
#   oriented_rcnn_swin-b_{mona,full}_fpn_1x_star_le90.py without _init, exist for Mona and Full only), so a
#   comparison of the methods comes from it. Its backbones are mmdet's Swin (mmrotate/models/backbones/swin_*.py) that
#   load the ImageNet-22K weights themselves through init_cfg=Pretrained (hence "_init"), with drop path 0.2; the
#   variants without _init build the Mona repository's Swin with drop path 0.3 and rely on load_from of a whole-model
#   checkpoint from a Google Drive link, which loads into the backbone only if its keys carry the `backbone.` prefix.
# - Every _init config sets the same training: AdamW lr 1e-4 (no per-method lr), betas 0.9/0.999, wd 0.05, no decay
#   on the position tables and the norms, gradient clipping at norm 35 (schedule_1x's optimizer_config), 12 epochs
#   with a 500-iteration linear warm-up from 1/3 and steps at 8 and 11, 2 images per GPU (no GPU count stated, no lr
#   scaling), no mixed precision, resize to 1024 keeping the ratio, horizontal/vertical/diagonal flips 0.25 each,
#   Oriented R-CNN's heads and test settings, evaluation every 6 epochs, one checkpoint kept: all inherited from the
#   DOTA base, whose header lists the settings.
# - Set here: STAR's 48 classes (mmpetl/datasets/star.py, parsed as a config file: reading this config imports no
#   mmpetl), STAR's layout {train,test}/{annfiles,images}, training on train and evaluating on test (star.py's
#   data.val and data.test are both the annotated test split).
# - Evaluation: the reference (OrientedRCNNCrop, mmrotate/models/detectors/two_stage_crop.py) tests whole test
#   images: it cuts them into 1024 windows with gap 200 on the fly, detects in each and merges the detections of an
#   image per class by rotated NMS at IoU 0.4, then scores the whole images against their annotations (STARDataset,
#   mmrotate/datasets/star.py: eval_rbbox_map at IoU 0.5, VOC07 11-point AP, difficult objects counted). mmrotate 1.x
#   cuts beforehand: the test images are split with the same windows (tools/data/star/split_ss_star_test.json;
#   docs/training.md) and the patches are read here. Validation scores the patches against the patch annotations
#   (DOTAMetric mAP: not the reference's whole-image mAP, but comparable between methods). The test run scores the
#   patches the same way and, as the reference, the whole images: mmpetl.MergedDOTAMetric (mmpetl/evaluation/)
#   merges the patches per image and class by rotated NMS at IoU 0.4 and scores them at IoU 0.5 against the
#   whole-image annotations of data/STAR/test/annfiles/ (the unsplit test split), as star_merged/mAP.
#   outfile_prefix=... (a path that must not exist yet) also writes the merged detections as DOTA submission files.
_base_ = ['./oriented-rcnn-le90_swin-b_fpn_1x_dota.py', '../../mmpetl/datasets/star.py']

data_root = 'data/split_ss_star/'
# 'random': mmdet's seeded colours for all 48 classes (DOTADataset's palette has 15)
star = dict(data_root=data_root, metainfo=dict(classes=_base_.STAR_CLASSES, palette='random'))
train_dataloader = dict(dataset=dict(star, ann_file='train/annfiles/', data_prefix=dict(img_path='train/images/')))
val_dataloader = dict(dataset=dict(star, ann_file='test/annfiles/', data_prefix=dict(img_path='test/images/')))
test_dataloader = dict(dataset=dict(
    star, _delete_=True, type='DOTADataset', ann_file='test/annfiles/', data_prefix=dict(img_path='test/images/'),
    test_mode=True, pipeline=_base_.val_pipeline))
val_evaluator = dict(type='DOTAMetric', metric='mAP')
test_evaluator = [
    dict(type='DOTAMetric', metric='mAP'),  # the patches
    dict(type='mmpetl.MergedDOTAMetric', whole_ann_dir='data/STAR/test/annfiles/', merge_iou_thr=0.4,
         iou_thrs=0.5, prefix='star_merged'),  # whole images, merged and scored as the reference does
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(_base_.STAR_CLASSES))))
del star, _base_.STAR_CLASSES  # helpers, not config keys
