"""Pretrain one of mmpetl's small backbones on the generated upstream task and publish its checkpoint.

The upstream task (48 classes: 8 shapes x 6 textures on smooth light backgrounds, 64 px; mmpetl/datasets/
upstream_data.py) is written to --data-root if it is not there. Training runs through mmpretrain's Runner with the
config of the backbone (configs/pretrain/), deterministic given --seed. The checkpoint is published as mmpretrain
releases its models, ``{'state_dict': ImageClassifier keys (backbone.*, head.*), 'meta': ...}``, which mmpretrain's
and mmdet's backbones load, and beside it the backbone alone in mmseg's keys (``<out>_mmseg.pth``; see
mmpetl/models/small_backbones.py), all written atomically. The SHA-256 of each file and the upstream top-1 accuracy
are printed and kept in ``<out>.json``.

Backbones:
    swin-mini   mmpretrain SwinTransformer, embed 24, depths 2/2/6/2, window 4  (configs/pretrain/swin-mini_*.py)
    vit-mini    mmpretrain VisionTransformer, embed 96, 8 layers, patch 8, cls token (configs/pretrain/vit-mini-*.py)

Examples:
    python tools/misc/pretrain_backbone.py swin-mini        # writes checkpoints/swin-mini_shapes48-64px*.pth
    python tools/misc/pretrain_backbone.py vit-mini
    python tools/misc/pretrain_backbone.py swin-mini --out /tmp/x.pth --max-iters 2 --num-train 2   # a smoke test
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'swin-mini': 'configs/pretrain/swin-mini_shapes48-64px.py',
    'vit-mini': 'configs/pretrain/vit-mini-p8_shapes48-64px.py',
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('backbone', choices=sorted(CONFIGS), help='which small backbone to pretrain')
    parser.add_argument('--out', help='the checkpoint to write (.pth; default: the shipped one in checkpoints/)')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/upstream_shapes'),
                        help='the upstream dataset (written there if absent; default data/upstream_shapes)')
    parser.add_argument('--num-train', type=int, default=400,
                        help='training images per class when the dataset is written (default 400)')
    parser.add_argument('--num-val', type=int, default=50,
                        help='held-out images per class when the dataset is written (default 50)')
    parser.add_argument('--max-iters', type=int, help='training iterations (default: the config\'s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed of data order, init and augmentation')
    parser.add_argument('--work-dir', help='logs and training checkpoints (default work_dirs/pretrain_<backbone>)')
    parser.add_argument('--resume', action='store_true',
                        help='continue an interrupted run from the latest checkpoint in --work-dir (a run that had '
                        'finished is validated and published again)')
    args = parser.parse_args(argv)
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be at least 1; got {args.max_iters}')
    if args.num_train < 1 or args.num_val < 1:
        parser.error('--num-train and --num-val must be at least 1')
    if args.out is None:
        from mmpetl.models.small_backbones import ROOT as REPO, SMALL_BACKBONES
        args.out = osp.join(REPO, SMALL_BACKBONES[args.backbone]['release'])
    if not args.out.endswith('.pth'):
        parser.error(f'the output {args.out!r} must be a .pth file')
    if osp.exists(args.data_root):
        from mmpetl.datasets import UPSTREAM_CLASSES
        missing = [f'{split}/{name}' for split in ('train', 'val') for name in UPSTREAM_CLASSES
                   if not osp.isdir(osp.join(args.data_root, split, name))]
        if missing:
            parser.error(f'--data-root {args.data_root!r} exists but is not the upstream dataset (missing '
                         f'{len(missing)} class folders, e.g. {missing[0]}); remove it or give another folder')
    return args


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv=None):
    args = parse_args(argv)
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmpetl.datasets import make_upstream_shapes
    from mmpetl.engine.hooks import LastMetricsHook
    from mmpetl.models.small_backbones import CONVERTERS, SMALL_BACKBONES, library_checkpoint
    from mmpetl.utils.atomic import atomic_torch_save

    if not osp.exists(args.data_root):
        print(f'[pretrain] writing the upstream dataset (48 classes, {args.num_train} + {args.num_val} images per '
              f'class) to {args.data_root}', flush=True)
        make_upstream_shapes(args.data_root, num_train=args.num_train, num_val=args.num_val, seed=0)

    config = osp.join(ROOT, CONFIGS[args.backbone])
    cfg = Config.fromfile(config)
    cfg.work_dir = args.work_dir or osp.join(ROOT, 'work_dirs', f'pretrain_{args.backbone}')
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = args.data_root
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    if args.resume:  # the newest complete checkpoint of the work dir (an incomplete one is skipped, and named)
        from mmpetl.engine import apply_auto_resume
        from mmpetl.utils.checkpoint import safe_uri
        apply_auto_resume(cfg)
        cfg.load_from = safe_uri(cfg.load_from)  # a training checkpoint loads with mmpetl's safe loader (mmengine#1655)
    if args.max_iters is not None:
        scale = args.max_iters / cfg.train_cfg.max_iters
        cfg.train_cfg.max_iters = args.max_iters
        cfg.train_cfg.val_interval = args.max_iters
        cfg.default_hooks.checkpoint.interval = args.max_iters
        for scheduler in cfg.param_scheduler:  # the same schedule, compressed
            scheduler.begin = int(round(scheduler.begin * scale))
            scheduler.end = max(scheduler.begin + 1, int(round(scheduler.end * scale)))

    start = time.time()
    runner = Runner.from_cfg(cfg)
    last = LastMetricsHook()
    runner.register_hook(last)
    runner.train()
    minutes = (time.time() - start) / 60
    metrics = last.metrics or runner.val()  # resumed at its last iteration: no validation ran

    import mmpretrain
    command = 'python tools/misc/pretrain_backbone.py ' + ' '.join(sys.argv[1:] if argv is None else argv)
    meta = dict(
        backbone=cfg.model.backbone.type, arch=cfg.model.backbone.arch, config=CONFIGS[args.backbone],
        upstream_task='mmpetl upstream shapes: 48 classes (8 shapes x 6 textures), 64 px',
        upstream_top1=metrics.get('accuracy/top1'), upstream_top5=metrics.get('accuracy/top5'),
        iters=cfg.train_cfg.max_iters, seed=args.seed, minutes=round(minutes, 1), resumed=args.resume, command=command,
        torch=torch.__version__.split('+')[0], mmpretrain=mmpretrain.__version__)
    meta = json.loads(json.dumps(meta))  # plain types only: the file loads with torch.load(weights_only=True)
    state_dict = {k: v.detach().cpu().clone() for k, v in runner.model.state_dict().items()}
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    files = {'mmpretrain': args.out}
    atomic_torch_save(dict(state_dict=state_dict, meta=meta), args.out)
    for library in SMALL_BACKBONES[args.backbone]['libraries']:
        files[library] = library_checkpoint(args.out, library)
        converted = CONVERTERS[args.backbone](state_dict, library)
        atomic_torch_save(dict(state_dict=converted, meta=dict(meta, library=library)), files[library])
    meta.update(parameters=sum(v.numel() for k, v in state_dict.items() if k.startswith('backbone.')),
                files={library: dict(file=osp.basename(path), sha256=sha256(path), size_bytes=osp.getsize(path))
                       for library, path in files.items()})
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    took = f'resumed, {minutes:.1f} min' if args.resume else f'{minutes:.1f} min'
    print(f'[pretrain] {args.backbone}: {meta["parameters"]:,} backbone parameters, {meta["iters"]} iterations '
          f'({took}); upstream val top-1 {meta["upstream_top1"]:.2f} % (top-5 {meta["upstream_top5"]:.2f} %)')
    for library, info in meta['files'].items():
        print(f'[pretrain] {library:10s} {osp.join(osp.dirname(args.out), info["file"])} '
              f'({info["size_bytes"] / 2 ** 20:.1f} MiB, sha256 {info["sha256"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
