"""Merge a delta checkpoint back into a full checkpoint, optionally folding what the method folds.

Builds the config's model, loads the frozen base through the backbone's ``init_cfg`` (the pretrained checkpoint),
checks the delta's base fingerprint, loads the delta on top and writes the whole state dict. The result loads into
the PETL config like any full checkpoint (tools/test.py, mmdet's init_detector, ...). The delta may be a .safetensors
or a .pth file, and is loaded without running code from it (mmpetl/utils/checkpoint.py); OUT is written as safetensors
when it ends in .safetensors, else as a torch.save file.

With ``--fold-lora`` (method LoRA only) the low-rank updates are added to the qkv weights (``W + scaling * B A`` on
the q and v thirds, exact up to float rounding) and the LoRA tensors dropped: the result loads into the plain
upstream model, whose config ``--plain-config`` writes (each mmpetl.PETLBackbone replaced by its upstream backbone).

With ``--fold`` the method's own folding is applied: LoRA as ``--fold-lora``; CoLin's projections, each a gated sum of
low-rank factors in training, become one weight each (exact up to float rounding), as the reference evaluates them: the
result loads into the same config with ``folded=True`` in its method, which ``--out-config`` writes.

Examples:
    python tools/model_converters/merge_delta.py CONFIG work_dirs/run/delta_epoch_36.safetensors merged.pth
    python tools/model_converters/merge_delta.py configs/lora/cascade-mask-rcnn_swin-b-lora_fpn_3x_coco.py \\
        delta.pth plain.pth --fold-lora --plain-config plain_config.py
    python tools/model_converters/merge_delta.py configs/colin/cascade-mask-rcnn_swin-b-colin_fpn_8xb2-3x_coco.py \
        delta.pth folded.pth --fold --out-config folded_config.py
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the PETL config of the delta (its backbone init_cfg loads the base)')
    parser.add_argument('delta', help='the delta checkpoint (.safetensors or .pth)')
    parser.add_argument('out', help='the full checkpoint to write')
    parser.add_argument('--fold-lora', action='store_true',
                        help='fold LoRA into the qkv weights and drop the LoRA tensors (method LoRA only)')
    parser.add_argument('--fold', action='store_true',
                        help="fold what the method folds: LoRA into the qkv weights (as --fold-lora), CoLin's "
                             'branches into one weight per projection (loads with the method\'s folded=True)')
    parser.add_argument('--plain-config', help='with --fold-lora: write the plain upstream config here')
    parser.add_argument('--out-config', help='with --fold or --fold-lora: write the config the result loads into here')
    parser.add_argument('--force', action='store_true', help='merge even when the base fingerprint differs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    args = parser.parse_args()
    from mmpetl.utils.cli import require_files
    require_files(parser, {'config': args.config, 'delta': args.delta})
    if args.plain_config and not args.fold_lora:
        parser.error('--plain-config needs --fold-lora: without folding, the PETL modules stay in the checkpoint')
    if args.out_config and not (args.fold or args.fold_lora):
        parser.error('--out-config needs --fold or --fold-lora: without folding, the result loads into CONFIG itself')
    args.out_config = args.out_config or args.plain_config
    return args


def main():
    args = parse_args()
    from mmpetl.engine import DELTA_HOOK_TYPES, build_model, load_config
    from mmpetl.utils.checkpoint import UnsafeCheckpointError, save_checkpoint_file
    from mmpetl.models.delta import (fold_branches, fold_lora, folded_model_cfg, human_size, load_delta,
                                     plain_model_cfg)

    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg)
    try:
        delta = load_delta(model, args.delta, force=args.force)
    except UnsafeCheckpointError as err:
        sys.exit(f'merge_delta.py: error: {err}')
    state_dict = model.state_dict()
    meta = {k: v for k, v in delta['meta'].items() if k != 'mmpetl_delta'}
    # --fold: LoRA folds into the upstream weights, CoLin into its own folded form
    lora = args.fold_lora or (args.fold and any(getattr(m, 'can_fold', False) for m in model.modules()))
    branches = args.fold and not lora
    meta.update(merged_from=osp.basename(args.delta), lora_folded=lora, branches_folded=branches)
    if lora or branches:
        try:
            state_dict = fold_lora(model, state_dict) if lora else fold_branches(model, state_dict)
        except ValueError as err:
            sys.exit(str(err))
        cfg.model = plain_model_cfg(cfg.model) if lora else folded_model_cfg(cfg.model)
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if h.get('type') not in DELTA_HOOK_TYPES]
        meta['config'] = cfg.pretty_text
        if args.out_config:
            cfg.dump(args.out_config)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_checkpoint_file(dict(meta=meta, state_dict=state_dict), args.out)
    print(f'[merge_delta] {args.out}: {len(state_dict)} tensors, {human_size(osp.getsize(args.out))}'
          + (', LoRA folded into the qkv weights' if lora else '')
          + (', branches folded into one weight per projection' if branches else '')
          + (f'; its config: {args.out_config}' if args.out_config else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
