# The generated shape images (mmpetl/datasets: the 48-class upstream task of configs/pretrain/ and the toy
# classification task of configs/transfer/) as mmpretrain folder datasets, <data_root>/{train,val}/<class>/<image>,
# read by CustomDataset: an infinite shuffled sampler for training (the configs train by iterations), the validation
# split for testing, top-1 accuracy. The configs set data_root, the batch sizes, the training pipeline and the classes.
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)  # the images' statistics
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_prefix='train', with_label=True))
val_dataloader = dict(
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_prefix='val', with_label=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
