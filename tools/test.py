"""Test (and evaluate) a model of any of the four downstream libraries from an mmpetl config and a checkpoint.

The checkpoint may be a full one (mmengine's ``iter_<n>.pth`` / ``epoch_<n>.pth``, or a merged delta) or a *delta*
(``delta_<...>.safetensors`` or ``.pth``, the tuned tensors only): a delta is loaded onto the frozen base that the
config's backbone ``init_cfg`` loads, after checking the base's fingerprint (``--force-delta`` loads it onto another
base anyway). This works through ``mmpetl.DeltaCheckpointHook``, which the tool adds to the config when it is missing.
No file is loaded in a way that could run code from it (mmpetl/utils/checkpoint.py): such a file is refused.

Examples:
    python tools/test.py CONFIG work_dirs/run1/delta_epoch_36.safetensors
    python tools/test.py CONFIG work_dirs/run1/epoch_36.pth --out results.pkl --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file: full, or an mmpetl delta')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', help='dump the predictions to this pickle file (.pkl) for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved (below work_dir/timestamp)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--force-delta', action='store_true',
                        help="load a delta checkpoint even when its base fingerprint differs from the model's")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, xxx=yyy pairs merged into it; lists as key="[a,b]"')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    from mmpetl.utils.cli import require_files
    require_files(parser, {'config': args.config, 'checkpoint': args.checkpoint})
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error(f'--out must be a .pkl or .pickle file; got {args.out}')
    return args


def enable_visualization(cfg: Config, scope: str, args) -> None:
    """Turn the config's visualization hook on, in the terms of each library's hook."""
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise RuntimeError('--show/--show-dir need a visualization hook in default_hooks, e.g. '
                           "default_hooks = dict(visualization=dict(type='DetVisualizationHook'))")
    if scope == 'mmpretrain':
        hook.update(enable=True, show=args.show, wait_time=args.wait_time, out_dir=args.show_dir)
        return
    hook['draw'] = True
    if args.show:
        hook.update(show=True, wait_time=args.wait_time)
    if args.show_dir:
        if scope == 'mmseg':
            cfg.visualizer['save_dir'] = args.show_dir
        else:
            hook['test_out_dir'] = args.show_dir


def ensure_delta_hook(cfg: Config, force: bool) -> None:
    """Make sure ``mmpetl.DeltaCheckpointHook`` is among the custom hooks, so that a delta checkpoint loads."""
    from mmpetl.engine import DELTA_HOOK_TYPES
    hooks = cfg.setdefault('custom_hooks', [])
    delta_hooks = [hook for hook in hooks if hook.get('type') in DELTA_HOOK_TYPES]
    if not delta_hooks:
        hooks.append(dict(type='mmpetl.DeltaCheckpointHook'))
        delta_hooks = hooks[-1:]
    if force:
        for hook in delta_hooks:
            hook['force_load'] = True


def main():
    args = parse_args()
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmpetl.engine import load_runner_config
    from mmpetl.utils.checkpoint import UnsafeCheckpointError, safe_uri

    cfg, scope = load_runner_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    cfg.load_from = safe_uri(args.checkpoint)  # the Runner loads it with mmpetl's safe loader
    ensure_delta_hook(cfg, args.force_delta)
    if args.show or args.show_dir:
        enable_visualization(cfg, scope, args)

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    if args.out is not None:
        if scope == 'mmdet':  # encodes masks as RLE, as mmdet's own test.py does
            from mmdet.evaluation import DumpDetResults as Dump
        else:
            from mmengine.evaluator import DumpResults as Dump
        runner.test_evaluator.metrics.append(Dump(out_file_path=args.out))
    try:
        runner.test()
    except UnsafeCheckpointError as err:  # the checkpoint, or the backbone's pretrained file
        sys.exit(f'test.py: error: {err}')


if __name__ == '__main__':
    main()
