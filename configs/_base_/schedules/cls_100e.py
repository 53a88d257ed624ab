# 100 epochs with a validation after every epoch, mmengine's epoch-based loops: the schedule of the classification
# recipes (Swin-L on Flowers-102 / Pets / VOC2007, HST on VTAB-1k), which set the optimizer and the lr schedule.
max_epochs = 100
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
