"""How far each method's freshly initialised modules move a pretrained backbone's features before any training.

Builds the config's PETL backbone with its pretrained weights once per method (the same seed for each), runs the same
images through it, and prints per output stage the relative change ||f_method - f_Fixed|| / ||f_Fixed||: 0 for a
method whose modules start as the identity (LoRA, E3VA), large for one whose reference initialisation does not
(LoRand's uniform biases). The transfer study's toy-COCO ordering is read against it (docs/transfer.md).

Examples:
    python tools/analysis_tools/init_perturbation.py                    # every method, swin-mini, toy COCO images
    python tools/analysis_tools/init_perturbation.py --methods LoRand LoRand:bias_init=zeros Adapter:init=identity
"""
import argparse
import glob
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

DEFAULT_CONFIG = 'configs/transfer/mask-rcnn_swin-mini_fpn_toy-coco.py'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='a config with an mmpetl.PETLBackbone and a pretrained checkpoint (default '
                        f'{DEFAULT_CONFIG})')
    parser.add_argument('--methods', nargs='+',
                        help='methods, as the transfer study takes them (METHOD[:OPTION=VALUE,...]); default: every '
                        'method that attaches to the backbone')
    parser.add_argument('--images', default='data/transfer/toy_coco/train',
                        help='a folder of images (default: the study\'s toy COCO training images)')
    parser.add_argument('--num-images', type=int, default=8, help='how many of them (default 8)')
    parser.add_argument('--seed', type=int, default=0, help='the seed of every method\'s initialisation (default 0)')
    parser.add_argument('--out', help='also write the figures to this JSON file')
    args = parser.parse_args(argv)
    if not osp.isfile(args.config):
        parser.error(f'no config {args.config}')
    args.files = sorted(f for f in glob.glob(osp.join(args.images, '*')) if f.lower().endswith(('.png', '.jpg')))
    if not args.files:
        parser.error(f'no .png or .jpg images in {args.images} (the transfer study writes the toy COCO images there: '
                     'python tools/analysis_tools/transfer_study.py --tasks coco --quick)')
    if args.num_images < 1:
        parser.error('--num-images must be at least 1')
    args.files = args.files[:args.num_images]
    return args


def load_images(files, cfg):
    """The images as the config's model takes them: read as its pipeline reads them (mmcv, BGR), then batched by
    the model's own data preprocessor (channel order, normalisation, padding), built as the Runner builds it."""
    import mmcv
    import torch
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # as the Runner does (mmpretrain)
    preprocessor = MODELS.build(model_cfg).data_preprocessor
    inputs = [torch.from_numpy(mmcv.imread(f)).permute(2, 0, 1).contiguous() for f in files]
    return preprocessor(dict(inputs=inputs), training=False)['inputs']


def perturbation(backbone_cfg, method_cfg, images, reference, seed: int):
    """Per stage, ||f - reference|| / ||reference|| of the backbone with ``method_cfg`` on ``images``."""
    import torch
    from mmengine.runner import set_random_seed

    from mmpetl.models.petl_backbone import build_petl_backbone
    set_random_seed(seed)
    backbone = build_petl_backbone(backbone=backbone_cfg, method=method_cfg)
    backbone.init_weights()
    backbone.eval()
    with torch.no_grad():
        outs = backbone(images)
    if reference is None:
        return outs, None
    return outs, [float((o - r).norm() / r.norm()) for o, r in zip(outs, reference)]


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from mmpetl.models.petl_backbone import available_methods
    from mmpetl.study.plan import PlanError, Row, Run
    cfg = Config.fromfile(args.config)
    backbone_cfg = cfg.model.backbone.backbone
    init_cfg = backbone_cfg.get('init_cfg')
    if not init_cfg or not init_cfg.get('checkpoint'):
        print(f'init_perturbation.py: error: {args.config} loads no pretrained checkpoint', file=sys.stderr)
        return 2
    if not osp.isabs(init_cfg.checkpoint):
        init_cfg.checkpoint = osp.join(ROOT, init_cfg.checkpoint)
    images = load_images(args.files, cfg)
    try:
        rows = [Row.parse('', spec) for spec in args.methods or available_methods()]
    except PlanError as err:
        print(f'init_perturbation.py: error: {err}', file=sys.stderr)
        return 2
    reference, _ = perturbation(backbone_cfg, dict(type='Fixed'), images, None, args.seed)
    results = {}
    for row in rows:
        label = Run('', row, 0, 0).label
        try:
            _, change = perturbation(backbone_cfg, Run('', row, 0, 0).method_cfg, images, reference, args.seed)
        except (ValueError, TypeError) as err:
            if args.methods:  # asked for: say why not
                print(f'init_perturbation.py: error: {label}: {str(err).splitlines()[0]}', file=sys.stderr)
                return 2
            continue  # the default list: methods that do not attach to this backbone are left out
        results[label] = change
        print(f'[perturbation] {label}: ' + ' '.join(f'{c:.3f}' for c in change), flush=True)
    stages = len(reference)
    lines = [f'Relative change of each output stage at initialisation, ||f - f_Fixed|| / ||f_Fixed|| '
             f'({args.config}, {len(args.files)} images of {args.images}, seed {args.seed}):', '',
             '| method | ' + ' | '.join(f'stage {i}' for i in range(stages)) + ' |',
             '|---|' + '---:|' * stages]
    lines += [f'| {label} | ' + ' | '.join(f'{c:.3f}' for c in change) + ' |' for label, change in results.items()]
    print('\n'.join([''] + lines))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(config=args.config, images=args.files, seed=args.seed, change=results), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
