"""Convert official Swin and ViT checkpoints to the keys of the upstream backbone that an mmpetl config builds.

``mmpetl.PETLBackbone`` wraps the upstream backbone unchanged, so a pretrained file must carry the keys of the upstream
class the config names. This tool maps the official releases to them, reusing each library's own key mapping:

- ``swin``: Microsoft's official Swin ``.pth`` (``layers.0.blocks.0.attn.qkv.weight``, ``patch_embed.proj.weight``,
  ``norm.weight``, ``head.*``) to
  ``--target mmdet``: ``mmdet.SwinTransformer`` with ``mmdet.models.backbones.swin.swin_converter``;
  ``--target mmseg``: ``mmseg.SwinTransformer`` with ``convert_swin`` of mmseg's ``swin2mmseg.py``;
  ``--target mmpretrain``: ``mmpretrain.SwinTransformer`` with ``convert_swin`` of mmpretrain's
  ``ram2mmpretrain.py`` (the official-Swin part of its RAM converter).
- ``vit``: Google's ``.npz`` (the ImageNet-21K ViT-B_16 and AugReg releases; keys ``Transformer/encoderblock_0/...``,
  ``embedding/kernel``, ``cls``) or timm's ``.pth`` (``blocks.0.attn.qkv.weight``) to
  ``--target mmseg``: ``mmseg.VisionTransformer`` with ``vit_jax_to_torch`` of mmseg's ``vitjax2mmseg.py`` (``.npz``)
  or ``convert_vit`` of its ``vit2mmseg.py`` (``.pth``);
  ``--target mmpretrain``: ``mmpretrain.VisionTransformer``: the mmseg keys, with the attention renamed
  (``attn.attn.in_proj_*`` -> ``attn.qkv.*``, ``attn.attn.out_proj`` -> ``attn.proj``); no library ships this one.
  (mmseg's and mmpretrain's converter scripts are installed with their packages under ``.mim/tools``.)

Added by hand, and why:

- Swin: the official final ``norm`` is the LayerNorm on the last stage's output, which the upstream classes call
  ``norm<last stage>``. mmdet's and mmseg's converters leave it as ``norm``, which nothing loads, so ``norm3`` would
  keep its initialisation (and PETL methods keep it frozen); it is renamed here, as mmpretrain's converter does. The
  official ``attn_mask`` buffers are dropped: the upstream classes compute the shifted-window masks themselves.
- The key prefix: mmdet's Swin loads only the keys that start with ``backbone.`` (its ``init_weights()`` filters on
  it), so ``--target mmdet`` writes them with that prefix; mmseg's backbones and mmpretrain's (through mmengine's
  ``Pretrained`` initialiser) read bare backbone keys. Pass ``--prefix backbone.`` for an mmpretrain config that says
  ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
- The classifier (``head``, ``pre_logits``) is dropped: the backbone has none.

Before writing, the tool builds the upstream backbone on the CPU (from the checkpoint's shapes, or the one of
``--config``) and compares keys and shapes. It reports the missing keys (those official checkpoints do not hold, such
as the per-stage output norms of a dense-prediction Swin, keep their initialisation), the unexpected keys and the shape
mismatches, and writes nothing if a key is unexpected, a shape differs, or an upstream tensor that official checkpoints
do hold is missing. The output is ``{'state_dict': ..., 'meta': ...}``, which every upstream loader reads.

Examples::

    python tools/model_converters/official_to_mmpetl.py vit \\
        B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz pretrain/vit-base-p16_in21k_mmpretrain.pth \\
        --target mmpretrain
    python tools/model_converters/official_to_mmpetl.py swin swin_large_patch4_window7_224_22k.pth \\
        pretrain/swin-large-22k_mmpretrain.pth --target mmpretrain --config configs/_base_/swin-l_cls_100e.py
    python tools/model_converters/official_to_mmpetl.py swin swin_base_patch4_window7_224_22k.pth \\
        pretrain/swin-base-22k_mmdet.pth --target mmdet
"""
import argparse
import importlib
import importlib.util
import math
import os
import os.path as osp
import re
import sys
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

TARGETS = {'swin': ('mmdet', 'mmseg', 'mmpretrain'), 'vit': ('mmpretrain', 'mmseg')}
#: The prefix each target's loader needs with ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (see above).
DEFAULT_PREFIX = {'mmdet': 'backbone.', 'mmseg': '', 'mmpretrain': ''}
#: Upstream tensors that official checkpoints do not hold: the per-stage output norms of the dense-prediction Swins
#: (``norm0`` ... ``norm3``; the last one is filled from the official final norm).
NOT_IN_OFFICIAL = re.compile(r'norm\d+\.')
#: Tensors the upstream loaders resize at load time (position embeddings and tables for another input or window size).
RESIZED_AT_LOAD = re.compile(r'(^|\.)(pos_embed|absolute_pos_embed|relative_position_bias_table)$')
#: Keys of the official ViT ``.npz`` releases that hold the backbone (the rest is the classifier or training state).
NPZ_BACKBONE = ('embedding/', 'cls', 'Transformer/')


class ConversionError(Exception):
    """A checkpoint or an option the tool cannot convert, with the reason and the valid choices."""


class Report(NamedTuple):
    """The comparison of converted keys with a built upstream backbone (names relative to the backbone)."""
    upstream: str
    matched: int
    total: int
    missing_expected: List[str]  # not in official checkpoints: they keep their initialisation
    missing: List[str]
    unexpected: List[str]
    resized: List[str]  # other shape, resized by the upstream loader
    mismatched: List[Tuple[str, tuple, tuple]]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


# ---------------------------------------------------------------------------------------------------------------------
# Reading the official files
# ---------------------------------------------------------------------------------------------------------------------

def load_official(path: str) -> StateDict:
    """The tensors of an official checkpoint: a Google ``.npz`` (as torch tensors, the training-state prefix
    ``opt/target/`` of older releases removed) or a ``.pth`` (its ``state_dict`` or ``model`` entry if it has one).
    A ``.pth`` may be a URL; it is loaded without running code from it (mmpetl/utils/checkpoint.py), and an ``.npz``
    without pickled objects (``allow_pickle=False``)."""
    if path.endswith('.npz'):
        if not osp.isfile(path):
            raise ConversionError(f'{path} can not be found (download the .npz first; URLs are read for .pth only)')
        import numpy as np
        try:
            with np.load(path, allow_pickle=False) as npz:
                weights = {k: torch.from_numpy(npz[k]) for k in npz.files}
        except ValueError as err:  # numpy refuses object arrays (pickles) without allow_pickle
            raise ConversionError(f'{path}: refused to load: {err}. The official releases hold numeric arrays only; '
                                  'unpickling an object array could run code') from None
        if any(k.startswith('opt/target/') for k in weights):
            weights = {k[len('opt/target/'):]: v for k, v in weights.items() if k.startswith('opt/target/')}
        return weights
    from mmengine.runner import CheckpointLoader

    from mmpetl.utils.checkpoint import UnsafeCheckpointError  # importing mmpetl also registers its safe loaders
    try:
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except FileNotFoundError:
        raise ConversionError(f'{path} can not be found') from None
    except UnsafeCheckpointError as err:
        raise ConversionError(str(err)) from None
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ConversionError(f'{path} holds no state dict (a dict of tensors, or one under "state_dict" / "model")')
    return {k: v for k, v in checkpoint.items() if isinstance(v, torch.Tensor)}


def upstream_tool(package: str, script: str):
    """The converter script ``<package>/.mim/tools/model_converters/<script>.py`` that ``package`` installs, imported
    as a module (its ``main()`` does not run)."""
    try:
        root = osp.dirname(importlib.import_module(package).__file__)
    except ImportError as err:
        raise ConversionError(f'this conversion reuses {package}\'s {script}.py, but {package} is not importable '
                              f'({err}); install it') from None
    path = osp.join(root, '.mim', 'tools', 'model_converters', f'{script}.py')
    if not osp.isfile(path):
        raise ConversionError(f'{package} does not provide {path} (installed without its tools?); reinstall '
                              f'{package} from PyPI')
    spec = importlib.util.spec_from_file_location(f'_upstream_{package}_{script}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing_source_key(path: str, family: str, key: str, source: StateDict) -> ConversionError:
    shown = ', '.join(sorted(source)[:4])
    return ConversionError(f'{path} is not an official {family} checkpoint: it has no {key!r} (its keys start with '
                           f'{shown}, ...). Valid sources: {SOURCES[family]}')


SOURCES = {
    'swin': "Microsoft's official Swin .pth (layers.N.blocks.M..., patch_embed.proj, norm, head)",
    'vit': "Google's ViT .npz (Transformer/encoderblock_N/..., embedding/kernel, cls) or timm's ViT .pth "
           '(blocks.N.attn.qkv, patch_embed.proj, cls_token, pos_embed)',
}


# ---------------------------------------------------------------------------------------------------------------------
# Swin
# ---------------------------------------------------------------------------------------------------------------------

def swin_arch(official: StateDict, path: str = 'the checkpoint') -> dict:
    """Embedding width, patch size, input channels, depths, heads, window size and MLP ratio of an official Swin."""
    for key in ('patch_embed.proj.weight', 'layers.0.blocks.0.attn.relative_position_bias_table',
                'layers.0.blocks.0.mlp.fc1.weight'):
        if key not in official:
            raise _missing_source_key(path, 'swin', key, official)
    stages = sorted({int(k.split('.')[1]) for k in official if k.startswith('layers.')})
    depths = [len({k.split('.')[3] for k in official if k.startswith(f'layers.{i}.blocks.')}) for i in stages]
    tables = [official[f'layers.{i}.blocks.0.attn.relative_position_bias_table'] for i in stages]
    proj = official['patch_embed.proj.weight']
    return dict(embed_dims=proj.shape[0], in_channels=proj.shape[1], patch_size=proj.shape[2], depths=depths,
                num_heads=[t.shape[1] for t in tables], window_size=(math.isqrt(tables[0].shape[0]) + 1) // 2,
                mlp_ratio=_ratio(official['layers.0.blocks.0.mlp.fc1.weight'].shape[0], proj.shape[0]))


def convert_swin(official: StateDict, target: str) -> StateDict:
    """Official Swin keys -> the bare (unprefixed) keys of ``<target>.SwinTransformer``."""
    last = len({k.split('.')[1] for k in official if k.startswith('layers.')}) - 1
    if target == 'mmdet':
        try:
            from mmdet.models.backbones.swin import swin_converter
        except ImportError as err:
            raise ConversionError(f'--target mmdet reuses mmdet\'s swin_converter, but mmdet is not importable '
                                  f'({err}); install it') from None
        converted = {k[len('backbone.'):]: v for k, v in swin_converter(official).items()}
    elif target == 'mmseg':
        converted = dict(upstream_tool('mmseg', 'swin2mmseg').convert_swin(official))
    elif target == 'mmpretrain':
        converted = dict(upstream_tool('mmpretrain', 'ram2mmpretrain').convert_swin(official)[0])
    else:
        raise ConversionError(f'unknown Swin target {target!r}; valid choices: {", ".join(TARGETS["swin"])}')
    return {re.sub(r'^norm\.', f'norm{last}.', k): v for k, v in converted.items() if 'attn_mask' not in k}


def build_swin(arch: dict, target: str) -> torch.nn.Module:
    """``<target>.SwinTransformer`` with ``arch`` (:func:`swin_arch`): mmdet's and mmseg's with every stage's output
    (and so its output norm), as the dense-prediction configs; mmpretrain's with the last stage's, as a classifier."""
    stages = len(arch['depths'])
    if target == 'mmpretrain':
        cfg = dict(type='mmpretrain.SwinTransformer', img_size=224, patch_size=arch['patch_size'],
                   in_channels=arch['in_channels'], window_size=arch['window_size'], out_indices=(stages - 1, ),
                   arch={k: arch[k] for k in ('embed_dims', 'depths', 'num_heads')},
                   stage_cfgs=dict(block_cfgs=dict(ffn_ratio=arch['mlp_ratio'])))
    else:
        cfg = dict(type=f'{target}.SwinTransformer', pretrain_img_size=224, out_indices=tuple(range(stages)),
                   strides=(arch['patch_size'], ) + (2, ) * (stages - 1), **arch)
    return _build(cfg)


# ---------------------------------------------------------------------------------------------------------------------
# ViT
# ---------------------------------------------------------------------------------------------------------------------

NPZ_QUERY = 'Transformer/encoderblock_0/MultiHeadDotProductAttention_1/query/kernel'
#: mmseg's ViT keys -> mmpretrain's: only the attention differs (mmcv's wrapper around nn.MultiheadAttention in mmseg,
#: separate qkv / proj Linears in mmpretrain, with the same [q; k; v] row order).
MMSEG_TO_MMPRETRAIN = (('attn.attn.in_proj_weight', 'attn.qkv.weight'), ('attn.attn.in_proj_bias', 'attn.qkv.bias'),
                       ('attn.attn.out_proj.', 'attn.proj.'))


def convert_vit(official: StateDict, target: str, path: str = 'the checkpoint') -> Tuple[StateDict, int]:
    """Google ``.npz`` or timm ``.pth`` ViT keys -> the bare keys of ``<target>.VisionTransformer`` (``'mmseg'`` or
    ``'mmpretrain'``).

    Returns the converted tensors and the number of attention heads (read from the ``.npz``; a ``.pth`` does not
    record it, and 64-channel heads are assumed: heads change no tensor shape).
    """
    if 'embedding/kernel' in official:
        for key in (NPZ_QUERY, 'cls', 'Transformer/posembed_input/pos_embedding'):
            if key not in official:
                raise _missing_source_key(path, 'vit', key, official)
        num_layers = len({k.split('/')[1] for k in official if k.startswith('Transformer/encoderblock_')})
        backbone = {k: v for k, v in official.items() if k.startswith(NPZ_BACKBONE)}
        converted = upstream_tool('mmseg', 'vitjax2mmseg').vit_jax_to_torch(backbone, num_layers)
        num_heads = official[NPZ_QUERY].shape[1]
    elif 'patch_embed.proj.weight' in official:
        if 'blocks.0.attn.qkv.weight' not in official:
            raise _missing_source_key(path, 'vit', 'blocks.0.attn.qkv.weight', official)
        backbone = {k: v for k, v in official.items() if not k.startswith(('head', 'pre_logits', 'fc_norm'))}
        converted = upstream_tool('mmseg', 'vit2mmseg').convert_vit(backbone)
        width = official['patch_embed.proj.weight'].shape[0]
        num_heads = width // 64 if width % 64 == 0 else 1
    else:
        raise _missing_source_key(path, 'vit', 'embedding/kernel', official)
    converted = {k: v.contiguous() for k, v in converted.items()}
    if target == 'mmpretrain':
        for old, new in MMSEG_TO_MMPRETRAIN:
            converted = {k.replace(old, new): v for k, v in converted.items()}
    return converted, num_heads


def build_vit(converted: StateDict, target: str, num_heads: int) -> torch.nn.Module:
    """``<target>.VisionTransformer`` shaped like the converted tensors (width, depth, patch and input size)."""
    proj = converted['patch_embed.projection.weight']
    embed_dims, in_channels, patch_size = proj.shape[0], proj.shape[1], proj.shape[2]
    num_layers = len({k.split('.')[1] for k in converted if k.startswith('layers.')})
    feedforward = converted['layers.0.ffn.layers.0.0.weight'].shape[0]
    with_cls_token = 'cls_token' in converted
    grid = math.isqrt(converted['pos_embed'].shape[1] - int(with_cls_token))
    final_norm = 'ln1.weight' in converted
    if target == 'mmpretrain':
        cfg = dict(type='mmpretrain.VisionTransformer', img_size=grid * patch_size, patch_size=patch_size,
                   in_channels=in_channels, with_cls_token=with_cls_token, final_norm=final_norm,
                   out_type='cls_token' if with_cls_token else 'featmap',
                   arch=dict(embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads,
                             feedforward_channels=feedforward))
    else:
        cfg = dict(type='mmseg.VisionTransformer', img_size=grid * patch_size, patch_size=patch_size,
                   in_channels=in_channels, embed_dims=embed_dims, num_layers=num_layers, num_heads=num_heads,
                   mlp_ratio=_ratio(feedforward, embed_dims), with_cls_token=with_cls_token, final_norm=final_norm,
                   patch_bias='patch_embed.projection.bias' in converted)
    return _build(cfg)


# ---------------------------------------------------------------------------------------------------------------------
# Checking against a built upstream backbone
# ---------------------------------------------------------------------------------------------------------------------

def _ratio(hidden: int, width: int):
    """hidden / width, as an int when it is one: mmdet's Swin and mmseg's ViT multiply it into a layer width."""
    return hidden // width if hidden % width == 0 else hidden / width


def _build(cfg: dict) -> torch.nn.Module:
    from mmengine.registry import MODELS
    return MODELS.build(cfg)


def config_backbone(config: str, target: str, family: str) -> torch.nn.Module:
    """The upstream backbone of an (mmpetl) config: ``model.backbone.backbone`` under ``mmpetl.PETLBackbone``, else
    ``model.backbone``; built without loading weights."""
    from mmengine.config import Config
    cfg = Config.fromfile(config).model.backbone
    if str(cfg.get('type', '')).endswith('PETLBackbone'):
        cfg = cfg.backbone
    cfg = dict(cfg, init_cfg=None)
    expected = f'{target}.{"SwinTransformer" if family == "swin" else "VisionTransformer"}'
    if cfg.get('type') != expected:
        raise ConversionError(f'{config} builds a {cfg.get("type")!r} backbone, but this conversion is for '
                              f'{expected!r}: pick --target to match the config (valid for {family}: '
                              f'{", ".join(TARGETS[family])})')
    return _build(cfg)


def compare(converted: StateDict, model: torch.nn.Module, upstream: str) -> Report:
    """Keys and shapes of ``converted`` against ``model.state_dict()``."""
    own = model.state_dict()
    missing = [k for k in own if k not in converted]
    shapes = [(k, tuple(converted[k].shape), tuple(own[k].shape)) for k in converted
              if k in own and converted[k].shape != own[k].shape]
    return Report(
        upstream=upstream,
        matched=sum(k in own and converted[k].shape == own[k].shape for k in converted),
        total=len(own),
        missing_expected=[k for k in missing if NOT_IN_OFFICIAL.match(k)],
        missing=[k for k in missing if not NOT_IN_OFFICIAL.match(k)],
        unexpected=[k for k in converted if k not in own],
        resized=[k for k, _, _ in shapes if RESIZED_AT_LOAD.search(k)],
        mismatched=[s for s in shapes if not RESIZED_AT_LOAD.search(s[0])])


def _names(names: List[str], count: int = 6) -> str:
    if not names:
        return 'none'
    return ', '.join(names[:count]) + (f', ... ({len(names)} in all)' if len(names) > count else '')


#: What to change in a config whose backbone leaves these official tensors without a place.
HINTS = {
    'patch_embed.projection.bias': "patch_bias=True (mmseg's VisionTransformer drops the patch-embedding bias by "
                                   'default)',
    'ln1.weight': 'final_norm=True (to keep the official final LayerNorm)',
}


def format_report(report: Report, dropped: List[str]) -> str:
    masks = [k for k in dropped if 'attn_mask' in k]
    dropped = [k for k in dropped if 'attn_mask' not in k] + ([f'{len(masks)} attn_mask buffers'] if masks else [])
    lines = [
        f'dropped from the source (not backbone weights): {_names(dropped)}',
        f'checked against a built {report.upstream}: {report.matched} of its {report.total} tensors match in name '
        'and shape',
        f'  missing, not in official checkpoints (they keep their initialisation): {_names(report.missing_expected)}',
        f'  missing: {_names(report.missing)}',
        f'  unexpected: {_names(report.unexpected)}',
        f'  other shape, resized by the upstream loader at load time: {_names(report.resized)}',
        '  shape mismatches: ' + (', '.join(f'{k} {a} vs {b}' for k, a, b in report.mismatched) or 'none'),
    ]
    return '\n'.join(lines)


# ---------------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------------

def convert(family: str, src: str, dst: str, target: str, prefix: Optional[str] = None,
            config: Optional[str] = None) -> Report:
    """Convert ``src`` for ``<target>``'s backbone, check it, and save it to ``dst`` (only if the check passes).

    Returns the :class:`Report`; raises :class:`ConversionError` on bad input or a failed check.
    """
    if family not in TARGETS:
        raise ConversionError(f'unknown model family {family!r}; valid choices: {", ".join(TARGETS)}')
    if target not in TARGETS[family]:
        raise ConversionError(f'--target {target} is not available for {family}; valid choices: '
                              f'{", ".join(TARGETS[family])}'
                              + (' (mmdet has no ViT backbone: use mmpretrain.VisionTransformer in mmdet configs)'
                                 if (family, target) == ('vit', 'mmdet') else ''))
    official = load_official(src)
    if family == 'swin':
        arch = swin_arch(official, src)
        converted = convert_swin(official, target)
        model = config_backbone(config, target, family) if config else build_swin(arch, target)
        dropped = [k for k in official if k.startswith('head') or 'attn_mask' in k]
    else:
        converted, num_heads = convert_vit(official, target, src)
        model = config_backbone(config, target, family) if config else build_vit(converted, target, num_heads)
        if src.endswith('.npz'):
            dropped = [k for k in official if not k.startswith(NPZ_BACKBONE)]
        else:
            dropped = [k for k in official if k.startswith(('head', 'pre_logits', 'fc_norm'))]
    upstream = f'{target}.{type(model).__name__}'
    report = compare(converted, model, upstream)
    print(f'[official_to_mmpetl] {src} -> {upstream}: {len(converted)} tensors\n{format_report(report, dropped)}')
    if not report.ok:
        hints = [hint for key, hint in HINTS.items() if key in report.unexpected]
        raise ConversionError(f'the converted keys do not fit {upstream} (see the report above); nothing written. '
                              'Check that the source is the official release for this family and that --target '
                              '(and --config) name the backbone you will load it into'
                              + ('. In the backbone config, set ' + '; '.join(hints) if hints else ''))
    prefix = DEFAULT_PREFIX[target] if prefix is None else prefix
    state_dict = {prefix + k: v for k, v in converted.items()}
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    torch.save(dict(state_dict=state_dict,
                    meta=dict(source=osp.basename(src), family=family, upstream=upstream, prefix=prefix,
                              converter='mmpetl tools/model_converters/official_to_mmpetl.py')), dst)
    print(f'[official_to_mmpetl] wrote {dst} ({len(state_dict)} tensors, key prefix {prefix!r}); load it with '
          f"init_cfg=dict(type='Pretrained', checkpoint='{dst}'"
          + (f", prefix='{prefix}')" if prefix and target == 'mmpretrain' else ')')
          + (' and convert_weights=False' if target == 'mmdet' else ''))
    return report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='official_to_mmpetl.py', description=__doc__.split('\n\n')[0],
        epilog=__doc__.split('\n\n', 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('family', help=f'model family: {" or ".join(TARGETS)}')
    parser.add_argument('src', help='official checkpoint: a Swin .pth (file or URL), a ViT .npz or a timm ViT .pth')
    parser.add_argument('dst', help='where to write the converted checkpoint (.pth)')
    parser.add_argument('--target', required=True,
                        help='library whose backbone will load it: mmdet, mmseg or mmpretrain for swin; mmpretrain or '
                             'mmseg for vit')
    parser.add_argument('--prefix', help='prefix for every key (default: "backbone." for mmdet, none otherwise)')
    parser.add_argument('--config', help='check against the upstream backbone of this config instead of one built '
                                         "from the checkpoint's shapes")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        convert(args.family, args.src, args.dst, args.target, args.prefix, args.config)
    except ConversionError as err:
        print(f'official_to_mmpetl.py: error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
