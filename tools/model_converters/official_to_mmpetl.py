"""Convert official Swin and ViT checkpoints to the keys of the upstream backbone that an mmpetl config builds.

``mmpetl.PETLBackbone`` wraps the upstream backbone unchanged, so a pretrained file must carry the keys of the upstream
class the config names. This tool maps the official releases to them:

- ``swin``: Microsoft's official Swin ``.pth`` (``layers.0.blocks.0.attn.qkv.weight``, ``patch_embed.proj.weight``,
  ``norm.weight``, ``head.*``) to ``--target mmdet``, ``mmseg`` or ``mmpretrain``: the ``SwinTransformer`` of that
  library. The map is mmdet's ``swin_converter`` (``mmdet.models.backbones.swin``), the one mmdet's Swin applies
  itself with ``convert_weights=True``; mmseg's and mmpretrain's Swin have the same tensor names (their own
  converter scripts apply the same map).
- ``vit``: Google's ``.npz`` (the ImageNet-21K ViT-B_16 and AugReg releases; keys ``Transformer/encoderblock_0/...``,
  ``embedding/kernel``, ``cls``) or timm's ``.pth`` (``blocks.0.attn.qkv.weight``) to ``--target mmpretrain`` or
  ``mmseg``: the ``VisionTransformer`` of that library. No installed package offers these maps, so they are here:
  :func:`vit_npz_to_timm`, :func:`vit_timm_to_mmpretrain`, :func:`vit_mmpretrain_to_mmseg`.

Added to the Swin map, and why:

- The official final ``norm`` is the LayerNorm on the last stage's output, which the upstream classes call
  ``norm<last stage>``. mmdet's converter leaves it as ``norm``, which nothing loads, so ``norm3`` would keep its
  initialisation (and PETL methods keep it frozen); it is renamed here, as mmpretrain's converter script does. The
  official ``attn_mask`` buffers are dropped: the upstream classes compute the shifted-window masks themselves.

For every target:

- The key prefix: mmdet's Swin loads only the keys that start with ``backbone.`` (its ``init_weights()`` filters on
  it), so ``--target mmdet`` writes them with that prefix; mmseg's backbones and mmpretrain's (through mmengine's
  ``Pretrained`` initialiser) read bare backbone keys. Pass ``--prefix backbone.`` for an mmpretrain config that says
  ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
- The classifier (``head``, ``pre_logits``) is dropped: the backbone has none.

Before writing, the tool builds the upstream backbone on the CPU (from the checkpoint's shapes, or the one of
``--config``) and counts what the converted tensors cover of it with the check every pretrained load of a PETL
backbone runs (``mmpetl/models/pretrained.py``): the same counts, and the same tensors left out (the per-stage output
norms of a dense-prediction Swin, which official checkpoints do not hold, keep their initialisation). It writes
nothing if a tensor is missing or unexpected, and writes the file atomically (a complete file or none). A ViT's
number of attention heads changes no tensor, and a timm ``.pth`` does not record it: the backbone built for the check
takes it from the ``.npz``, ``--num-heads``, or mmpretrain's table of ViT architectures (``arch_zoo``: ViT-Ti/S/B/L/H
and others, by width, depth and MLP width). The output is ``{'state_dict': ..., 'meta': ...}``, which every upstream
loader reads.

Exit status: 0 written; 1 the source was refused or its tensors do not fit the backbone; 2 a usage error.

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
import math
import os
import os.path as osp
import re
import sys
from typing import Dict, List, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

TARGETS = {'swin': ('mmdet', 'mmseg', 'mmpretrain'), 'vit': ('mmpretrain', 'mmseg')}
#: The prefix each target's loader needs with ``init_cfg=dict(type='Pretrained', checkpoint=...)`` (see above).
DEFAULT_PREFIX = {'mmdet': 'backbone.', 'mmseg': '', 'mmpretrain': ''}
#: Tensors the upstream loaders resize at load time (position embeddings and tables for another input or window size).
RESIZED_AT_LOAD = re.compile(r'(^|\.)(pos_embed|absolute_pos_embed|relative_position_bias_table)$')
SOURCES = {
    'swin': "Microsoft's official Swin .pth (layers.N.blocks.M..., patch_embed.proj, norm, head)",
    'vit': "Google's ViT .npz (Transformer/encoderblock_N/..., embedding/kernel, cls) or timm's ViT .pth "
           '(blocks.N.attn.qkv, patch_embed.proj, cls_token, pos_embed)',
}


class ConversionError(Exception):
    """A source the tool refuses, or converted tensors that do not fit the backbone (exit status 1)."""


class OptionError(ConversionError):
    """An option the tool cannot act on, with the valid choices (exit status 2)."""


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
    from mmpetl.utils.checkpoint import UnsafeCheckpointError, safe_load_checkpoint
    try:
        checkpoint = safe_load_checkpoint(path, map_location='cpu')
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


def _missing_source_key(path: str, family: str, key: str, source: StateDict) -> ConversionError:
    shown = ', '.join(sorted(source)[:4])
    return ConversionError(f'{path} is not an official {family} checkpoint: it has no {key!r} (its keys start with '
                           f'{shown}, ...). Valid sources: {SOURCES[family]}')


def _rename(state_dict: StateDict, rules: Tuple[Tuple[str, str], ...]) -> StateDict:
    """Each key renamed by the first of ``rules`` (regex, replacement) that matches it; other keys kept."""
    renamed = {}
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            if re.search(pattern, key):
                key = re.sub(pattern, replacement, key)
                break
        renamed[key] = value
    return renamed


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


def convert_swin(official: StateDict) -> StateDict:
    """Official Swin keys -> the bare (unprefixed) keys of the ``SwinTransformer`` of mmdet, mmseg and mmpretrain.

    mmdet's ``swin_converter`` renames the blocks (``layers.N`` -> ``stages.N``, ``attn`` -> ``attn.w_msa``, ``mlp``
    -> ``ffn``, ``patch_embed.proj`` -> ``patch_embed.projection``) and reorders the patch merging's input channels
    (the official merging concatenates the 2x2 neighbours as (0,0), (1,0), (0,1), (1,1); the OpenMMLab one unfolds
    them channel-major); the official final ``norm`` becomes ``norm<last stage>`` and the ``attn_mask`` buffers are
    dropped here (see the module docstring).
    """
    try:
        from mmdet.models.backbones.swin import swin_converter
    except ImportError as err:
        raise ConversionError(f"the Swin conversion reuses mmdet's swin_converter, but mmdet is not importable "
                              f'({err}); install it (pip install "mmpetl[det]")') from None
    last = len({k.split('.')[1] for k in official if k.startswith('layers.')}) - 1
    converted = {k[len('backbone.'):]: v for k, v in swin_converter(official).items() if 'attn_mask' not in k}
    return _rename(converted, ((r'^norm\.', f'norm{last}.'), ))


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
#: timm's ViT names -> mmpretrain's (first matching rule). The attention keeps its names: both fuse q, k, v in one
#: ``attn.qkv`` Linear, rows in that order.
TIMM_TO_MMPRETRAIN = ((r'^patch_embed\.proj\.', 'patch_embed.projection.'), (r'^norm\.', 'ln1.'),
                      (r'^blocks\.(\d+)\.norm(\d)\.', r'layers.\1.ln\2.'),
                      (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
                      (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'), (r'^blocks\.', 'layers.'))
#: mmpretrain's ViT names -> mmseg's: only the attention differs (mmcv's wrapper around ``nn.MultiheadAttention`` in
#: mmseg, whose ``in_proj`` holds q, k, v in the same row order as mmpretrain's ``qkv``).
MMPRETRAIN_TO_MMSEG = ((r'\.attn\.qkv\.weight$', '.attn.attn.in_proj_weight'),
                       (r'\.attn\.qkv\.bias$', '.attn.attn.in_proj_bias'), (r'\.attn\.proj\.', '.attn.attn.out_proj.'))
#: Keys of timm's ViT that are the classifier, not the backbone.
TIMM_CLASSIFIER = ('head', 'pre_logits', 'fc_norm')


def vit_npz_to_timm(npz: StateDict, path: str = 'the checkpoint') -> StateDict:
    """Google's (flax) ViT arrays -> timm's ViT names and layouts, which the ``.pth`` releases of the same weights use.

    A flax ``Dense`` kernel is (in, out), a torch ``Linear`` weight (out, in): transposed. The attention's query, key
    and value kernels are (width, heads, head_dims) and their biases (heads, head_dims): flattened head-major, as
    torch ViTs split their qkv output into heads, and stacked as the rows q, k, v of the fused ``attn.qkv``; the output
    kernel (heads, head_dims, width) is flattened the same way. The patch-embedding kernel (kh, kw, in, out) becomes a
    conv weight (out, in, kh, kw). The classifier (``head``, ``pre_logits``) is left out.
    """
    for key in (NPZ_QUERY, 'cls', 'Transformer/posembed_input/pos_embedding'):
        if key not in npz:
            raise _missing_source_key(path, 'vit', key, npz)
    width = npz['embedding/kernel'].shape[-1]
    sd = {'patch_embed.proj.weight': npz['embedding/kernel'].permute(3, 2, 0, 1),
          'patch_embed.proj.bias': npz['embedding/bias'], 'pos_embed': npz['Transformer/posembed_input/pos_embedding'],
          'cls_token': npz['cls'],
          'norm.weight': npz['Transformer/encoder_norm/scale'], 'norm.bias': npz['Transformer/encoder_norm/bias']}
    blocks = sorted({int(k.split('/')[1].split('_')[1]) for k in npz if k.startswith('Transformer/encoderblock_')})
    qkv = ('query', 'key', 'value')
    for i in blocks:
        src, dst = f'Transformer/encoderblock_{i}/', f'blocks.{i}.'
        attn = src + 'MultiHeadDotProductAttention_1/'
        sd.update({
            dst + 'norm1.weight': npz[src + 'LayerNorm_0/scale'], dst + 'norm1.bias': npz[src + 'LayerNorm_0/bias'],
            dst + 'attn.qkv.weight': torch.cat([npz[attn + f'{n}/kernel'].reshape(width, width).T for n in qkv]),
            dst + 'attn.qkv.bias': torch.cat([npz[attn + f'{n}/bias'].reshape(width) for n in qkv]),
            dst + 'attn.proj.weight': npz[attn + 'out/kernel'].reshape(width, width).T,
            dst + 'attn.proj.bias': npz[attn + 'out/bias'],
            dst + 'norm2.weight': npz[src + 'LayerNorm_2/scale'], dst + 'norm2.bias': npz[src + 'LayerNorm_2/bias'],
            dst + 'mlp.fc1.weight': npz[src + 'MlpBlock_3/Dense_0/kernel'].T,
            dst + 'mlp.fc1.bias': npz[src + 'MlpBlock_3/Dense_0/bias'],
            dst + 'mlp.fc2.weight': npz[src + 'MlpBlock_3/Dense_1/kernel'].T,
            dst + 'mlp.fc2.bias': npz[src + 'MlpBlock_3/Dense_1/bias']})
    return {k: v.contiguous() for k, v in sd.items()}


def vit_timm_to_mmpretrain(timm: StateDict) -> StateDict:
    """timm's ViT keys (``blocks.N.attn.qkv``, ``norm``) -> the bare keys of ``mmpretrain.VisionTransformer``
    (``layers.N.attn.qkv``, ``ln1``); the classifier is left out. Keys of no rule are kept, so that the check reports
    what the backbone cannot hold (a DeiT distillation token, layer scales)."""
    return _rename({k: v for k, v in timm.items() if not k.startswith(TIMM_CLASSIFIER)}, TIMM_TO_MMPRETRAIN)


def vit_mmpretrain_to_mmseg(converted: StateDict) -> StateDict:
    """``mmpretrain.VisionTransformer`` keys -> ``mmseg.VisionTransformer`` keys (the attention only)."""
    return _rename(converted, MMPRETRAIN_TO_MMSEG)


def convert_vit(official: StateDict, target: str, path: str = 'the checkpoint') -> Tuple[StateDict, Optional[int]]:
    """Google ``.npz`` or timm ``.pth`` ViT keys -> the bare keys of ``<target>.VisionTransformer`` (``'mmseg'`` or
    ``'mmpretrain'``), and the number of attention heads where the file records it (an ``.npz``; else None)."""
    if 'embedding/kernel' in official:
        timm, num_heads = vit_npz_to_timm(official, path), official[NPZ_QUERY].shape[1]
    elif 'patch_embed.proj.weight' in official:
        if 'blocks.0.attn.qkv.weight' not in official:
            raise _missing_source_key(path, 'vit', 'blocks.0.attn.qkv.weight', official)
        timm, num_heads = official, None
    else:
        raise _missing_source_key(path, 'vit', 'embedding/kernel', official)
    converted = vit_timm_to_mmpretrain(timm)
    return (vit_mmpretrain_to_mmseg(converted) if target == 'mmseg' else converted), num_heads


def known_vit_archs() -> Dict[Tuple[int, int, int], Tuple[str, int]]:
    """mmpretrain's ViT architectures (``VisionTransformer.arch_zoo``): (width, depth, MLP width) -> (name, heads),
    for the shapes that name one number of heads; empty without mmpretrain."""
    try:
        from mmpretrain.models import VisionTransformer
    except ImportError:
        return {}
    archs, heads = {}, {}
    for name, arch in VisionTransformer.arch_zoo.items():
        key = (arch['embed_dims'], arch['num_layers'], arch['feedforward_channels'])
        heads.setdefault(key, set()).add(arch['num_heads'])
        archs.setdefault(key, (name, arch['num_heads']))
    return {key: archs[key] for key in archs if len(heads[key]) == 1}


def vit_num_heads(converted: StateDict, in_file: Optional[int], given: Optional[int], path: str) -> int:
    """The attention heads of the ViT that ``converted`` fits: the file's (``in_file``), ``--num-heads`` (``given``),
    or the one of a known architecture of the same shapes; :class:`OptionError` when none says or they disagree."""
    width = converted['patch_embed.projection.weight'].shape[0]
    if given is not None and (given < 1 or width % given):
        raise OptionError(f'--num-heads {given} does not divide the width {width} of {path}: valid choices are its '
                          f'divisors ({", ".join(str(h) for h in range(1, width + 1) if width % h == 0)})')
    if in_file is not None and given is not None and given != in_file:
        raise OptionError(f'--num-heads {given}, but {path} has {in_file} heads: leave --num-heads out')
    if in_file is not None or given is not None:
        return in_file if in_file is not None else given
    depth = len({k.split('.')[1] for k in converted if k.startswith('layers.')})
    shapes = (width, depth, converted['layers.0.ffn.layers.0.0.weight'].shape[0])
    known = known_vit_archs()
    if shapes in known:
        return known[shapes][1]
    choices = ', '.join(f'{name} ({w} wide, {d} deep, MLP {m}: {h} heads)' for (w, d, m), (name, h) in known.items())
    raise OptionError(f'{path} does not record its number of attention heads, and its shape ({shapes[0]} wide, '
                      f'{shapes[1]} deep, MLP {shapes[2]}) is none of the known ViTs '
                      f'({choices or "none: mmpretrain is not importable"}). Give --num-heads (the backbone the file '
                      'is checked against is built with it; the converted tensors do not depend on it) or --config')


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
        raise OptionError(f'{config} builds a {cfg.get("type")!r} backbone, but this conversion is for '
                          f'{expected!r}: pick --target to match the config (valid for {family}: '
                          f'{", ".join(TARGETS[family])})')
    return _build(cfg)


def offered_shapes(converted: StateDict, model: torch.nn.Module) -> Tuple[Dict[str, tuple], List[str]]:
    """The shapes the backbone's loader sees for ``converted`` (name -> shape), and the names of the tensors among
    them that the upstream loader resizes to the backbone's shape at load time (:data:`RESIZED_AT_LOAD`)."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    resized = [k for k, v in converted.items() if RESIZED_AT_LOAD.search(k) and k in own and tuple(v.shape) != own[k]]
    return {k: own[k] if k in resized else tuple(v.shape) for k, v in converted.items()}, resized


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


# ---------------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------------

def convert(family: str, src: str, dst: str, target: str, prefix: Optional[str] = None,
            config: Optional[str] = None, num_heads: Optional[int] = None):
    """Convert ``src`` for ``<target>``'s backbone, check it, and save it to ``dst`` (only if the check passes).

    Returns the :class:`~mmpetl.models.pretrained.LoadCoverage` of the check; raises :class:`OptionError` for an
    option it cannot act on and :class:`ConversionError` for a refused source or a failed check.
    """
    from mmpetl.models.pretrained import likely_causes, load_coverage
    from mmpetl.utils.atomic import atomic_torch_save

    if family not in TARGETS:
        raise OptionError(f'unknown model family {family!r}; valid choices: {", ".join(TARGETS)}')
    if target not in TARGETS[family]:
        raise OptionError(f'--target {target} is not available for {family}; valid choices: '
                          f'{", ".join(TARGETS[family])}'
                          + (' (mmdet has no ViT backbone: use mmpretrain.VisionTransformer in mmdet configs)'
                             if (family, target) == ('vit', 'mmdet') else ''))
    if num_heads is not None and (family != 'vit' or config):
        raise OptionError('--num-heads is for a vit checked without --config (a Swin\'s heads are read from its '
                          'relative-position tables, a config names its own)')
    official = load_official(src)
    if family == 'swin':
        arch = swin_arch(official, src)
        converted = convert_swin(official)
        model = config_backbone(config, target, family) if config else build_swin(arch, target)
        dropped = [k for k in official if k.startswith('head')]
        masks = sum('attn_mask' in k for k in official)
        dropped += [f'{masks} attn_mask buffers'] if masks else []
    else:
        converted, heads_in_file = convert_vit(official, target, src)
        model = (config_backbone(config, target, family) if config
                 else build_vit(converted, target, vit_num_heads(converted, heads_in_file, num_heads, src)))
        if 'embedding/kernel' in official:
            dropped = [k for k in official if not k.startswith(('embedding/', 'cls', 'Transformer/'))]
        else:
            dropped = [k for k in official if k.startswith(TIMM_CLASSIFIER)]
    upstream = f'{target}.{type(model).__name__}'
    offered, resized = offered_shapes(converted, model)
    coverage = load_coverage(model, offered)
    print(f'[official_to_mmpetl] {src} -> {upstream}: {len(converted)} tensors\n'
          f'dropped from the source (not backbone weights): {_names(dropped)}\n'
          f'checked as a pretrained load of a PETL backbone is: {coverage.summary()}\n'
          f'resized by the upstream loader at load time: {_names(resized)}')
    if coverage.missing or coverage.unexpected:
        hints = [hint for key, hint in HINTS.items() if key in coverage.unexpected]
        raise ConversionError(f'the converted tensors do not fit {upstream}; nothing written. Likely cause: '
                              + '; '.join(likely_causes(coverage.expected, offered, upstream))
                              + '. Check that the source is the official release for this family and that --target '
                              '(and --config) name the backbone you will load it into'
                              + ('. In the backbone config, set ' + '; '.join(hints) if hints else ''))
    prefix = DEFAULT_PREFIX[target] if prefix is None else prefix
    state_dict = {prefix + k: v for k, v in converted.items()}
    if osp.dirname(dst):
        os.makedirs(osp.dirname(dst), exist_ok=True)
    atomic_torch_save(dict(state_dict=state_dict,
                           meta=dict(source=osp.basename(src), family=family, upstream=upstream, prefix=prefix,
                                     converter='mmpetl tools/model_converters/official_to_mmpetl.py')), dst)
    print(f'[official_to_mmpetl] wrote {dst} ({len(state_dict)} tensors, key prefix {prefix!r}); load it with '
          f"init_cfg=dict(type='Pretrained', checkpoint='{dst}'"
          + (f", prefix='{prefix}')" if prefix and target == 'mmpretrain' else ')')
          + (' and convert_weights=False' if target == 'mmdet' else ''))
    return coverage


def build_parser() -> argparse.ArgumentParser:
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
    parser.add_argument('--num-heads', type=int,
                        help="vit only: the attention heads of the backbone built for the check, for a timm .pth of "
                             "a shape mmpretrain's ViT table does not know (an .npz records them)")
    return parser


def main(argv=None) -> int:
    from mmpetl.utils.cli import require_files

    parser = build_parser()
    args = parser.parse_args(argv)
    require_files(parser, {'SRC': args.src, '--config': args.config})
    try:
        convert(args.family, args.src, args.dst, args.target, args.prefix, args.config, args.num_heads)
    except OptionError as err:
        parser.error(str(err))
    except ConversionError as err:
        print(f'official_to_mmpetl.py: error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
