"""Write a small deterministic toy dataset in a real on-disk format (nothing is downloaded).

Example:
    python tools/misc/make_toy_data.py coco data/toy_coco --num-train 16 --num-val 8 --size 128
"""
import argparse

from mmpetl.datasets import make_toy_coco


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('format', choices=['coco'], help='dataset format')
    parser.add_argument('out', help='output directory (its files are overwritten)')
    parser.add_argument('--num-train', type=int, default=16, help='training images (default: 16)')
    parser.add_argument('--num-val', type=int, default=8, help='validation images (default: 8)')
    parser.add_argument('--size', type=int, default=128, help='image side in pixels (default: 128)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    args = parser.parse_args()
    for split, path in make_toy_coco(args.out, args.num_train, args.num_val, args.size, seed=args.seed).items():
        print(f'{split}: {path}')


if __name__ == '__main__':
    main()
