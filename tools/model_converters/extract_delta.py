"""Extract the delta checkpoint (the tuned tensors only) from a full checkpoint of a PETL config.

Builds the config's model (nothing is initialised or downloaded), loads the full checkpoint into it, and writes the
delta, with the base's fingerprint computed from the checkpoint's frozen weights (the format: docs/checkpoints.md,
"Delta checkpoints"). Training with mmpetl's runtime writes deltas already (DeltaCheckpointHook); this is for
checkpoints saved without it. The delta is written as safetensors when OUT ends in .safetensors, else as a torch.save
file. The checkpoint is loaded without running code from it (mmpetl/utils/checkpoint.py): a file that would is refused.

Example:
    python tools/model_converters/extract_delta.py configs/mona/cascade-mask-rcnn_swin-b-mona_fpn_3x_coco.py \\
        work_dirs/mona/epoch_36.pth work_dirs/mona/delta_epoch_36.safetensors
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the PETL config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='a full checkpoint (mmengine: iter_<n>.pth / epoch_<n>.pth)')
    parser.add_argument('out', help='the delta checkpoint to write (.safetensors, or .pth for a torch.save file)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override settings of the config')
    args = parser.parse_args()
    from mmpetl.utils.cli import require_files
    require_files(parser, {'config': args.config, 'checkpoint': args.checkpoint})
    return args


def main():
    args = parse_args()
    from mmpetl.engine import build_model, load_config
    from mmpetl.utils.checkpoint import UnsafeCheckpointError, safe_load_checkpoint
    from mmpetl.models.delta import human_size, is_delta, make_delta, save_delta

    cfg = load_config(args.config, args.cfg_options)
    model = build_model(cfg)
    try:
        checkpoint = safe_load_checkpoint(args.checkpoint, map_location='cpu')
    except UnsafeCheckpointError as err:
        sys.exit(f'extract_delta.py: error: {err}')
    if is_delta(checkpoint):
        sys.exit(f'{args.checkpoint} is a delta checkpoint already')
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state_dict.items()}
    result = model.load_state_dict(state_dict, strict=False)
    if result.missing_keys:
        sys.exit(f'{args.checkpoint} is not a full checkpoint of {args.config}: {len(result.missing_keys)} tensors of '
                 f'the model are not in it ({", ".join(result.missing_keys[:5])}, ...)')
    if result.unexpected_keys:
        print(f'[extract_delta] ignoring {len(result.unexpected_keys)} tensors of the checkpoint the model does not '
              f'have ({", ".join(result.unexpected_keys[:5])})', file=sys.stderr)
    source_meta = checkpoint.get('meta', {}) if isinstance(checkpoint.get('meta'), dict) else {}
    meta = {k: source_meta[k] for k in ('epoch', 'iter', 'dataset_meta') if k in source_meta}
    meta['extracted_from'] = osp.basename(args.checkpoint)
    delta = make_delta(model, cfg, meta)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_delta(delta, args.out)
    print(f'[extract_delta] {args.out}: {len(delta["state_dict"])} tuned tensors, {human_size(osp.getsize(args.out))}'
          f' (the full checkpoint: {human_size(osp.getsize(args.checkpoint))}); base '
          f'{delta["meta"]["base_fingerprint"]} over {delta["meta"]["base_tensors"]} frozen tensors')
    return 0


if __name__ == '__main__':
    sys.exit(main())
