# Runtime settings shared by every mmpetl config, inherited next to the upstream base:
#     _base_ = ['mmdet::...', '../_base_/petl_runtime.py']
# mmengine refuses a key defined by two bases, so this file sets only what the upstream runtimes do not define
# (mmdet's, mmseg's, mmpretrain's and mmrotate's default_runtime.py set no custom_hooks). A task config that needs
# more custom hooks extends this list: custom_hooks = _base_.custom_hooks + [...] (or lists them all).
custom_hooks = [
    # iter_<n>.pth / epoch_<n>.pth written atomically (mmengine's CheckpointHook with mmpetl's atomic file backend): a
    # crash during a write leaves the previous checkpoint, never a truncated one
    dict(type='mmpetl.AtomicWritesHook'),
    # load_from and the resumed checkpoint loaded without unpickling code (mmpetl's safe loader); resume=True resumes
    # from the newest complete checkpoint of the work directory
    dict(type='mmpetl.SafeLoadingHook'),
    # the trainable/total parameter table at the start of training, also in <work_dir>/param_report.json
    dict(type='mmpetl.ParameterReportHook'),
    # <work_dir>/delta_<iter|epoch>_<n>.safetensors at the end of training: the tuned tensors only, with the method
    # config and a fingerprint of the frozen base; loads onto the base when given as load_from (tools/test.py, mim test)
    dict(type='mmpetl.DeltaCheckpointHook', interval=-1),
    # random generators' states in the training checkpoints: a resumed run continues as an uninterrupted one
    dict(type='mmpetl.RNGStateHook'),
    # the losses a PETL method adds to the task's (CoLin's orthogonality loss), in the losses dict the model returns in
    # training: logged under their own names, and trained when named loss_*; nothing for the other methods
    dict(type='mmpetl.PETLLossHook'),
]
