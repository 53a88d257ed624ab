"""One run of the transfer study: the task's config with the row's method, through ``Runner.from_cfg``, and what it
measured (the task's metrics, trainable parameters, the median step time, the peak memory of a training step)."""
import copy
import os.path as osp
import statistics
import time
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config

from ..benchmark.measure import cpu_allocated_during, release_memory, tensor_bytes
from ..engine.hooks import LastMetricsHook
from ..models.small_backbones import SMALL_BACKBONES, library_checkpoint
from ..utils.params import count_parameters
from .plan import ROOT, TASKS, Run, config_path


class StudyProbe(LastMetricsHook):
    """Keeps the metrics of the last validation and the wall time of each training iteration."""
    priority = 'VERY_LOW'

    def __init__(self):
        super().__init__()
        self.iter_times: List[float] = []
        self._start = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iter_times.append(time.perf_counter() - self._start)


def pretrained_checkpoint(configured: str, backbone: str, release: str) -> str:
    """The file of ``release`` (another pretraining of ``backbone``, published as ``tools/misc/pretrain_backbone.py``
    publishes) that stands for ``configured``, a config's checkpoint of the shipped release: the release itself or
    its file for the library whose backbone the config loads it into (``_mmseg.pth``)."""
    shipped = SMALL_BACKBONES[backbone]['release']
    for library in SMALL_BACKBONES[backbone]['libraries']:
        if osp.normpath(configured) == osp.normpath(library_checkpoint(shipped, library)):
            return library_checkpoint(release, library)
    if osp.normpath(configured) != osp.normpath(shipped):
        raise ValueError(f'the config loads {configured!r}, which is not a file of the shipped {backbone} release '
                         f'{shipped!r}: cannot tell which file of {release!r} stands for it')
    return release


def run_config(run: Run, work_dir: str, data_root: str, releases: Optional[Dict[str, str]] = None,
               cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """The task's config for ``run``: its method, seed, iterations and initialisation, its dataset under
    ``data_root``, the checkpoint from the repository (or, for a backbone in ``releases``, that release's file);
    nothing else changes but ``cfg_options`` (the same for every run of a study, merged first: the run's own
    settings win)."""
    task = TASKS[run.task]
    cfg = Config.fromfile(config_path(task, run.row.backbone))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.model.backbone.method = run.method_cfg
    cfg.merge_from_dict(task.overrides.get((run.row.backbone, run.row.method), {}))
    root = osp.join(osp.abspath(data_root), task.folder) + '/'
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = root
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        if isinstance(evaluator, dict) and str(evaluator.get('ann_file', '')).startswith(cfg.data_root):
            evaluator.ann_file = root + evaluator.ann_file[len(cfg.data_root):]
    init_cfg = cfg.model.backbone.backbone.get('init_cfg')
    if run.row.init == 'random':
        cfg.model.backbone.backbone.init_cfg = None
    elif init_cfg and releases and run.row.backbone in releases:
        init_cfg.checkpoint = osp.abspath(pretrained_checkpoint(init_cfg.checkpoint, run.row.backbone,
                                                                releases[run.row.backbone]))
    elif init_cfg and not osp.isabs(init_cfg.checkpoint) and '://' not in init_cfg.checkpoint:
        init_cfg.checkpoint = osp.join(ROOT, init_cfg.checkpoint)  # from any working directory
    cfg.work_dir = work_dir
    cfg.experiment_name = run.key.replace('/', '_') + time.strftime('_%H%M%S')
    cfg.randomness = dict(seed=run.seed)
    scale = run.max_iters / cfg.train_cfg.max_iters
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = run.max_iters
    cfg.default_hooks.checkpoint.interval = run.max_iters
    cfg.default_hooks.logger.interval = max(1, run.max_iters // 3)
    for scheduler in cfg.param_scheduler:  # the same schedule, compressed
        scheduler.begin = int(round(scheduler.begin * scale))
        scheduler.end = max(scheduler.begin + 1, int(round(scheduler.end * scale)))
    # the study keeps its numbers, not the runs' deltas
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if 'DeltaCheckpointHook' not in h['type']]
    return cfg


def peak_step_bytes(runner) -> Dict[str, int]:
    """Memory of one training step on a real batch, after training: the weights, the optimizer state (as held between
    steps) and the peak of what torch's CPU allocator (or CUDA's) held during the step on top of them."""
    model, optim_wrapper = runner.model, runner.optim_wrapper
    batch = next(iter(runner.train_dataloader))
    model.train()

    def step():
        model.train_step(copy.copy(batch), optim_wrapper)

    weights = tensor_bytes(list(model.parameters()) + list(model.buffers()))
    state = tensor_bytes(v for s in optim_wrapper.optimizer.state.values() for v in s.values()
                         if isinstance(v, torch.Tensor))
    if torch.cuda.is_available() and next(model.parameters()).is_cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        during = torch.cuda.max_memory_allocated() - before
    else:
        during, _ = cpu_allocated_during(step)
    return dict(weights_bytes=weights, optimizer_state_bytes=state, step_peak_bytes=during,
                peak_bytes=weights + state + during)


def execute(run: Run, work_dir: str, data_root: str, releases: Optional[Dict[str, str]] = None,
            cfg_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train and evaluate ``run`` on the datasets under ``data_root`` (the pretrained backbones of ``releases``
    where given, every config changed by ``cfg_options``); returns its record (metrics, parameters, time, memory)."""
    from mmengine.runner import Runner
    task = TASKS[run.task]
    start = time.time()
    cfg = run_config(run, work_dir, data_root, releases, cfg_options)
    runner = Runner.from_cfg(cfg)
    probe = StudyProbe()
    runner.register_hook(probe)
    runner.train()
    backbone = runner.model.backbone
    record = dict(key=run.key, task=run.task, backbone=run.row.backbone, method=run.row.method, init=run.row.init,
                  label=run.label, seed=run.seed, max_iters=run.max_iters, sizes=run.sizes,
                  method_cfg=run.method_cfg, status='ok',
                  metrics={k: float(probe.metrics[k]) * task.scale for k, _ in task.metrics},
                  backbone_trainable=count_parameters(backbone)['trainable'],
                  backbone_total=count_parameters(backbone)['total'],
                  model_trainable=count_parameters(runner.model)['trainable'],
                  step_time=statistics.median(probe.iter_times[2:] or probe.iter_times))
    record.update(peak_step_bytes(runner))
    record['seconds'] = time.time() - start
    del runner, backbone
    release_memory(torch.device('cpu'))
    return record
