"""Train a model of any of the four downstream libraries (mmdet, mmseg, mmpretrain, mmrotate) from an mmpetl config.

The arguments are those of mmdet 3.3's tools/train.py. The config's ``default_scope`` says which library's modules
to register (mmrotate: mmdet's too); the Runner is built from the config (``runner_type`` if set). Without CUDA,
``--launcher pytorch`` runs on the CPU with gloo (see mmpetl.engine.setup_cpu_distributed).

Examples:
    python tools/train.py configs/mona/cascade-mask-rcnn_swin-b-mona_fpn_3x_coco.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --resume                # resume from the latest checkpoint
    python tools/train.py CONFIG --cfg-options train_dataloader.batch_size=4 --amp
    bash tools/dist_train.sh CONFIG 8                                              # 8 GPUs, torchrun
"""
import argparse
import os
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models (default: ./work_dirs/<config name>)')
    parser.add_argument('--amp', action='store_true', default=False, help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint; without a path, from the newest complete checkpoint in the '
                        'work directory, skipping (and naming) incomplete ones (a full checkpoint: a delta holds no '
                        'optimizer state)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, xxx=yyy pairs merged into it; lists as key="[a,b]"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or --local_rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    from mmpetl.utils.cli import require_files
    require_files(parser, {'config': args.config, '--resume': None if args.resume == 'auto' else args.resume})
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    # the heavy imports after argparse, so that --help answers at once
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmpetl.engine import apply_auto_resume, load_runner_config
    from mmpetl.utils.checkpoint import UnsafeCheckpointError, safe_uri

    cfg, _ = load_runner_config(args.config, args.launcher, args.cfg_options, args.work_dir)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'enable' not in cfg.get('auto_scale_lr', {}) or 'base_batch_size' not in cfg.auto_scale_lr:
            sys.exit('--auto-scale-lr needs auto_scale_lr = dict(enable=..., base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True

    # resume from a given checkpoint > auto-resume from the newest complete checkpoint in the work directory (also
    # for `resume = True` in the config without load_from, where mmengine would trust <work_dir>/last_checkpoint)
    if args.resume == 'auto' or (args.resume is None and cfg.get('resume') and not cfg.get('load_from')):
        apply_auto_resume(cfg)
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    # the Runner loads load_from (or resumes) with mmpetl's safe loader, whether or not the config has SafeLoadingHook
    cfg.load_from = safe_uri(cfg.get('load_from'))

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    try:
        runner.train()
    except UnsafeCheckpointError as err:  # load_from, the resumed checkpoint, or a backbone's pretrained file
        sys.exit(f'train.py: error: {err}')


if __name__ == '__main__':
    main()
