"""Pretrain one of mmpetl's small backbones on a generated upstream task and publish its checkpoint.

Upstream tasks (mmpetl/datasets/upstream_data.py; written to --data-root if it is not there), each through the real
Runner of its library with the backbone's config in configs/pretrain/, deterministic given --seed:
    scenes    (default) semantic segmentation of 8 textured shapes, 1-5 per 128 px scene, on backgrounds of any
              brightness: mmseg's Runner, mmpretrain's backbone, a light SegformerHead; upstream mIoU
    shapes48  classification of 48 classes (8 shapes x 6 textures), one shape per 64 px image on a smooth light
              background: mmpretrain's Runner and ImageClassifier; upstream top-1

The checkpoint is published as mmpretrain releases its models, ``{'state_dict': backbone.* (mmpretrain's keys) and
the upstream head's keys, 'meta': ...}``, which mmpretrain's and mmdet's backbones load, and beside it the backbone
alone in mmseg's keys (``<out>_mmseg.pth``; see mmpetl/models/small_backbones.py), all written atomically. The SHA-256
of each file and the upstream figures are printed and kept in ``<out>.json``.

Backbones:
    swin-mini   mmpretrain SwinTransformer, embed 24, depths 2/2/6/2, window 4  (configs/pretrain/swin-mini_*.py)
    vit-mini    mmpretrain VisionTransformer, embed 96, 8 layers, patch 8, cls token (configs/pretrain/vit-mini-*.py)

Examples:
    python tools/misc/pretrain_backbone.py swin-mini        # writes checkpoints/swin-mini_scenes-128px*.pth
    python tools/misc/pretrain_backbone.py vit-mini         # writes checkpoints/vit-mini-p8_scenes-128px*.pth
    python tools/misc/pretrain_backbone.py swin-mini --upstream shapes48    # checkpoints/swin-mini_shapes48-64px*.pth
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
#: upstream task -> its configs per backbone, its dataset (default folder, default sizes, the folders a complete one
#: has) and its validation metrics (metric key -> the key in the published metadata)
UPSTREAMS = {
    'scenes': dict(
        configs={'swin-mini': 'configs/pretrain/swin-mini_scenes-128px.py',
                 'vit-mini': 'configs/pretrain/vit-mini-p8_scenes-128px.py'},
        data_root='data/upstream_scenes', num_train=4000, num_val=200, unit='images',
        expected=('img_dir/train', 'img_dir/val', 'ann_dir/train', 'ann_dir/val'),
        description='mmpetl upstream scenes: semantic segmentation of 8 textured shapes (1-5 per image) on '
        'backgrounds of any brightness, 128 px',
        metrics={'mIoU': 'upstream_miou', 'aAcc': 'upstream_aacc'}),
    'shapes48': dict(
        configs={'swin-mini': 'configs/pretrain/swin-mini_shapes48-64px.py',
                 'vit-mini': 'configs/pretrain/vit-mini-p8_shapes48-64px.py'},
        data_root='data/upstream_shapes', num_train=400, num_val=50, unit='images per class',
        expected=None,  # one folder per class: UPSTREAM_CLASSES
        description='mmpetl upstream shapes: 48 classes (8 shapes x 6 textures), 64 px',
        metrics={'accuracy/top1': 'upstream_top1', 'accuracy/top5': 'upstream_top5'}),
}


def expected_folders(upstream: str):
    if UPSTREAMS[upstream]['expected'] is not None:
        return list(UPSTREAMS[upstream]['expected'])
    from mmpetl.datasets import UPSTREAM_CLASSES
    return [f'{split}/{name}' for split in ('train', 'val') for name in UPSTREAM_CLASSES]


def write_dataset(upstream: str, root: str, num_train: int, num_val: int) -> None:
    from mmpetl.datasets import make_upstream_scenes, make_upstream_shapes
    make = make_upstream_scenes if upstream == 'scenes' else make_upstream_shapes
    make(root, num_train=num_train, num_val=num_val, seed=0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('backbone', choices=sorted(UPSTREAMS['scenes']['configs']),
                        help='which small backbone to pretrain')
    parser.add_argument('--upstream', choices=list(UPSTREAMS), default='scenes',
                        help='the upstream task (default scenes)')
    parser.add_argument('--out', help='the checkpoint to write (.pth; default checkpoints/<config name>.pth)')
    parser.add_argument('--data-root',
                        help='the upstream dataset (written there if absent; default data/upstream_scenes or '
                        'data/upstream_shapes)')
    parser.add_argument('--num-train', type=int,
                        help='training images when the dataset is written (default: scenes 4000, shapes48 400 per '
                        'class)')
    parser.add_argument('--num-val', type=int,
                        help='held-out images when the dataset is written (default: scenes 200, shapes48 50 per '
                        'class)')
    parser.add_argument('--max-iters', type=int, help='training iterations (default: the config\'s)')
    parser.add_argument('--seed', type=int, default=0, help='random seed of data order, init and augmentation')
    parser.add_argument('--work-dir', help='logs and training checkpoints (default work_dirs/pretrain_<backbone>_'
                        '<upstream>)')
    parser.add_argument('--resume', action='store_true',
                        help='continue an interrupted run from the latest checkpoint in --work-dir (a run that had '
                        'finished is validated and published again)')
    args = parser.parse_args(argv)
    upstream = UPSTREAMS[args.upstream]
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be at least 1; got {args.max_iters}')
    args.num_train = upstream['num_train'] if args.num_train is None else args.num_train
    args.num_val = upstream['num_val'] if args.num_val is None else args.num_val
    if args.num_train < 1 or args.num_val < 1:
        parser.error('--num-train and --num-val must be at least 1')
    args.config = upstream['configs'][args.backbone]
    if args.out is None:
        args.out = osp.join(ROOT, 'checkpoints', osp.splitext(osp.basename(args.config))[0] + '.pth')
    if not args.out.endswith('.pth'):
        parser.error(f'the output {args.out!r} must be a .pth file')
    args.data_root = args.data_root or osp.join(ROOT, upstream['data_root'])
    if osp.exists(args.data_root):
        missing = [p for p in expected_folders(args.upstream) if not osp.isdir(osp.join(args.data_root, p))]
        if missing:
            parser.error(f'--data-root {args.data_root!r} exists but is not the upstream dataset of '
                         f'--upstream {args.upstream} (missing {len(missing)} folders, e.g. {missing[0]}); remove it '
                         'or give another folder')
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

    from mmpetl.engine.hooks import LastMetricsHook
    from mmpetl.models.small_backbones import CONVERTERS, SMALL_BACKBONES, library_checkpoint
    from mmpetl.utils.atomic import atomic_torch_save

    upstream = UPSTREAMS[args.upstream]
    if not osp.exists(args.data_root):
        print(f'[pretrain] writing the upstream dataset ({args.upstream}: {args.num_train} + {args.num_val} '
              f'{upstream["unit"]}) to {args.data_root}', flush=True)
        write_dataset(args.upstream, args.data_root, args.num_train, args.num_val)

    cfg = Config.fromfile(osp.join(ROOT, args.config))
    cfg.work_dir = args.work_dir or osp.join(ROOT, 'work_dirs', f'pretrain_{args.backbone}_{args.upstream}')
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
        backbone=cfg.model.backbone.type.split('.')[-1], arch=cfg.model.backbone.arch, config=args.config,
        upstream=args.upstream, upstream_task=upstream['description'],
        **{name: None if metrics.get(key) is None else float(metrics[key])
           for key, name in upstream['metrics'].items()},
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
    figures = ', '.join(f'{key} {meta[name]:.2f} %' for key, name in upstream['metrics'].items()
                        if meta[name] is not None)
    print(f'[pretrain] {args.backbone}: {meta["parameters"]:,} backbone parameters, {meta["iters"]} iterations '
          f'({took}); upstream ({args.upstream}) val {figures}')
    for library, info in meta['files'].items():
        print(f'[pretrain] {library:10s} {osp.join(osp.dirname(args.out), info["file"])} '
              f'({info["size_bytes"] / 2 ** 20:.1f} MiB, sha256 {info["sha256"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
