"""Write a small deterministic toy dataset in a real on-disk format (nothing is downloaded).

Formats: coco (mmdet CocoDataset), ade20k (mmseg ADE20KDataset), voc (mmdet VOCDataset), dota (mmrotate
DOTADataset), star (DOTA's format in STAR's layout and class names: mmrotate DOTADataset with STAR's classes),
imagenet (mmpretrain CustomDataset class folders). See mmpetl/datasets/toy_data.py for the layouts.

Example:
    python tools/misc/make_toy_data.py coco data/toy_coco
    python tools/misc/make_toy_data.py dota data/toy_dota --size 256
    python tools/misc/make_toy_data.py star data/toy_star
"""
import argparse
import inspect

from mmpetl.datasets import TOY_DATASETS


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('format', choices=sorted(TOY_DATASETS), help='dataset format')
    parser.add_argument('out', help='output directory (its files are overwritten)')
    parser.add_argument('--size', type=int, help='image side in pixels (default: 128; imagenet 64)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    args = parser.parse_args()
    make = TOY_DATASETS[args.format]
    kwargs = dict(seed=args.seed)
    if args.size:
        kwargs['size'] = args.size
    make(args.out, **kwargs)
    defaults = {k: v.default for k, v in inspect.signature(make).parameters.items() if k.startswith('num_')}
    print(f'wrote a toy {args.format} dataset to {args.out} ({", ".join(f"{k}={v}" for k, v in defaults.items())})')


if __name__ == '__main__':
    main()
