"""tools/model_converters/official_to_mmpetl.py: small checkpoints in the official layouts (Microsoft's Swin .pth,
Google's ViT .npz, timm's ViT .pth), synthesised from their documented naming, converted, and loaded into the real
upstream backbones: no unexpected key, no missing key but those official checkpoints do not hold, known tensors at the
right place (attention of block 0, the patch merging of stage 0 computed as the official Swin does), and the ViT's
output that of the official ViT's computation; the converter's check counts as the runtime's check of a PETL
backbone's pretrained load."""
import importlib.util
import io
import logging
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.logging import MMLogger
from mmengine.registry import MODELS

from conftest import ROOT
from mmpetl.models import build_petl_backbone

_spec = importlib.util.spec_from_file_location('official_to_mmpetl',
                                               osp.join(ROOT, 'tools/model_converters/official_to_mmpetl.py'))
conv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conv)

DEMO_CONFIG = osp.join(ROOT, 'configs/demo/cascade-mask-rcnn_swin-mini-mona_fpn_toy-coco.py')
# The demo config's Swin (embed 24, depths 2/2/6/2, heads 1/2/4/8, window 4, patch 4), so that --config can use it.
SWIN = dict(embed_dims=24, depths=(2, 2, 6, 2), num_heads=(1, 2, 4, 8), window=4, patch=4)
VIT = dict(embed_dims=32, num_layers=2, num_heads=2, mlp=64, patch=16, grid=2)  # 32x32 inputs


def relative_position_index(window: int) -> torch.Tensor:
    """The official Swin's relative_position_index buffer for a window of ``window`` x ``window`` tokens."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing='ij')).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[..., 0] * (2 * window - 1) + relative[..., 1]


def official_swin(embed_dims, depths, num_heads, window, patch, num_classes=5) -> dict:
    """A state dict named and shaped as the official Swin release (random values; buffers as the official code)."""
    t = torch.randn
    sd = {'patch_embed.proj.weight': t(embed_dims, 3, patch, patch), 'patch_embed.proj.bias': t(embed_dims),
          'patch_embed.norm.weight': t(embed_dims), 'patch_embed.norm.bias': t(embed_dims)}
    for i, (depth, heads) in enumerate(zip(depths, num_heads)):
        c = embed_dims * 2**i
        for j in range(depth):
            p = f'layers.{i}.blocks.{j}.'
            sd.update({p + 'norm1.weight': t(c), p + 'norm1.bias': t(c),
                       p + 'attn.relative_position_bias_table': t((2 * window - 1)**2, heads),
                       p + 'attn.relative_position_index': relative_position_index(window),
                       p + 'attn.qkv.weight': t(3 * c, c), p + 'attn.qkv.bias': t(3 * c),
                       p + 'attn.proj.weight': t(c, c), p + 'attn.proj.bias': t(c),
                       p + 'norm2.weight': t(c), p + 'norm2.bias': t(c),
                       p + 'mlp.fc1.weight': t(4 * c, c), p + 'mlp.fc1.bias': t(4 * c),
                       p + 'mlp.fc2.weight': t(c, 4 * c), p + 'mlp.fc2.bias': t(c)})
            if j % 2:  # shifted-window blocks hold their mask
                sd[p + 'attn_mask'] = torch.zeros(4, window**2, window**2)
        if i < len(depths) - 1:
            sd.update({f'layers.{i}.downsample.reduction.weight': t(2 * c, 4 * c),
                       f'layers.{i}.downsample.norm.weight': t(4 * c), f'layers.{i}.downsample.norm.bias': t(4 * c)})
    last = embed_dims * 2**(len(depths) - 1)
    sd.update({'norm.weight': t(last), 'norm.bias': t(last), 'head.weight': t(num_classes, last),
               'head.bias': t(num_classes)})
    return sd


def official_vit_npz(embed_dims, num_layers, num_heads, mlp, patch, grid, num_classes=5) -> dict:
    """Arrays named and shaped as Google's ViT .npz (flax kernels: (in, out); attention kernels split by head)."""
    def r(*shape):
        return np.random.randn(*shape).astype(np.float32)

    d, head_dims = embed_dims, embed_dims // num_heads
    w = {'embedding/kernel': r(patch, patch, 3, d), 'embedding/bias': r(d), 'cls': r(1, 1, d),
         'Transformer/posembed_input/pos_embedding': r(1, grid * grid + 1, d),
         'Transformer/encoder_norm/scale': r(d), 'Transformer/encoder_norm/bias': r(d),
         'pre_logits/kernel': r(d, d), 'pre_logits/bias': r(d), 'head/kernel': r(d, num_classes),
         'head/bias': r(num_classes)}
    for i in range(num_layers):
        b = f'Transformer/encoderblock_{i}/'
        attn = b + 'MultiHeadDotProductAttention_1/'
        w.update({b + 'LayerNorm_0/scale': r(d), b + 'LayerNorm_0/bias': r(d),
                  b + 'LayerNorm_2/scale': r(d), b + 'LayerNorm_2/bias': r(d),
                  attn + 'out/kernel': r(num_heads, head_dims, d), attn + 'out/bias': r(d),
                  b + 'MlpBlock_3/Dense_0/kernel': r(d, mlp), b + 'MlpBlock_3/Dense_0/bias': r(mlp),
                  b + 'MlpBlock_3/Dense_1/kernel': r(mlp, d), b + 'MlpBlock_3/Dense_1/bias': r(d)})
        for name in ('query', 'key', 'value'):
            w.update({attn + f'{name}/kernel': r(d, num_heads, head_dims),
                      attn + f'{name}/bias': r(num_heads, head_dims)})
    return w


def official_vit_timm(embed_dims, num_layers, mlp, patch, grid, num_classes=5, **_) -> dict:
    """A state dict named and shaped as timm's VisionTransformer (with the in21k release's pre-logits layer)."""
    t, d = torch.randn, embed_dims
    sd = {'cls_token': t(1, 1, d), 'pos_embed': t(1, grid * grid + 1, d),
          'patch_embed.proj.weight': t(d, 3, patch, patch), 'patch_embed.proj.bias': t(d), 'norm.weight': t(d),
          'norm.bias': t(d), 'pre_logits.fc.weight': t(d, d), 'pre_logits.fc.bias': t(d),
          'head.weight': t(num_classes, d), 'head.bias': t(num_classes)}
    for i in range(num_layers):
        p = f'blocks.{i}.'
        sd.update({p + 'norm1.weight': t(d), p + 'norm1.bias': t(d), p + 'attn.qkv.weight': t(3 * d, d),
                   p + 'attn.qkv.bias': t(3 * d), p + 'attn.proj.weight': t(d, d), p + 'attn.proj.bias': t(d),
                   p + 'norm2.weight': t(d), p + 'norm2.bias': t(d), p + 'mlp.fc1.weight': t(mlp, d),
                   p + 'mlp.fc1.bias': t(mlp), p + 'mlp.fc2.weight': t(d, mlp), p + 'mlp.fc2.bias': t(d)})
    return sd


def converted_file(path: str, prefix: str) -> dict:
    """The state dict of a converted file, ``prefix`` checked and removed."""
    state_dict = torch.load(path, weights_only=True)['state_dict']
    assert all(k.startswith(prefix) for k in state_dict)
    return {k[len(prefix):]: v for k, v in state_dict.items()}


@pytest.fixture(scope='module')
def swin_pth(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('official') / 'swin_tiny_official.pth')
    official = official_swin(**SWIN)
    torch.save({'model': official}, path)
    return path, official


@pytest.mark.parametrize('target', ['mmdet', 'mmseg', 'mmpretrain'])
def test_swin_loads_into_the_upstream_backbone(swin_pth, tmp_path, target):
    src, official = swin_pth
    dst = str(tmp_path / f'swin_{target}.pth')
    conv.convert('swin', src, dst, target)
    state_dict = converted_file(dst, conv.DEFAULT_PREFIX[target])

    model = conv.build_swin(conv.swin_arch(official), target)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert unexpected == []
    # mmdet / mmseg build an output norm per stage; official checkpoints hold only the last one (the final norm)
    assert set(missing) == ({f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')} if target != 'mmpretrain'
                            else set())

    own = model.state_dict()
    torch.testing.assert_close(own['stages.0.blocks.0.attn.w_msa.qkv.weight'],
                               official['layers.0.blocks.0.attn.qkv.weight'], rtol=0, atol=0)
    torch.testing.assert_close(own['stages.3.blocks.1.ffn.layers.0.0.bias'],
                               official['layers.3.blocks.1.mlp.fc1.bias'], rtol=0, atol=0)
    torch.testing.assert_close(own['norm3.weight'], official['norm.weight'], rtol=0, atol=0)
    torch.testing.assert_close(own['stages.0.blocks.0.attn.w_msa.relative_position_index'],
                               official['layers.0.blocks.0.attn.relative_position_index'], rtol=0, atol=0)

    # The patch merging (whose reduction the converters reorder) computes what the official one does: concatenate
    # the 2x2 neighbours in the order (0,0), (1,0), (0,1), (1,1), LayerNorm, Linear without bias.
    x = torch.randn(2, 8, 8, SWIN['embed_dims'])
    merged = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
    norm = torch.nn.functional.layer_norm(merged, merged.shape[-1:], official['layers.0.downsample.norm.weight'],
                                          official['layers.0.downsample.norm.bias'])
    expected = norm @ official['layers.0.downsample.reduction.weight'].T
    out, out_hw = model.stages[0].downsample(x.flatten(1, 2), (8, 8))
    assert tuple(out_hw) == (4, 4)
    torch.testing.assert_close(out, expected.flatten(1, 2), rtol=1e-4, atol=1e-4)


def test_swin_mmdet_file_loads_through_init_cfg(swin_pth, tmp_path):
    """mmdet's Swin keeps only 'backbone.'-prefixed keys in init_weights(): the default --target mmdet prefix."""
    src, official = swin_pth
    dst = str(tmp_path / 'swin_mmdet.pth')
    conv.convert('swin', src, dst, 'mmdet')
    cfg = dict(type='mmdet.SwinTransformer', embed_dims=SWIN['embed_dims'], depths=SWIN['depths'],
               num_heads=SWIN['num_heads'], window_size=SWIN['window'], convert_weights=False,
               init_cfg=dict(type='Pretrained', checkpoint=dst))
    model = MODELS.build(ConfigDict(cfg))  # as from a config file: mmdet's Swin reads init_cfg.checkpoint
    model.init_weights()
    torch.testing.assert_close(model.stages[1].blocks[0].attn.w_msa.qkv.weight,
                               official['layers.1.blocks.0.attn.qkv.weight'], rtol=0, atol=0)


@pytest.mark.parametrize('target', ['mmpretrain', 'mmseg'])
def test_vit_npz_loads_into_the_upstream_backbone(tmp_path, target):
    src, dst = str(tmp_path / 'ViT-tiny.npz'), str(tmp_path / f'vit_{target}.pth')
    npz = official_vit_npz(**VIT)
    np.savez(src, **npz)
    conv.convert('vit', src, dst, target)
    state_dict = converted_file(dst, '')

    heads = VIT['num_heads']
    model = conv.build_vit(state_dict, target, heads)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert (missing, unexpected) == ([], [])

    own, d = model.state_dict(), VIT['embed_dims']
    attn = 'Transformer/encoderblock_0/MultiHeadDotProductAttention_1/'
    qkv = own['layers.0.attn.qkv.weight' if target == 'mmpretrain' else 'layers.0.attn.attn.in_proj_weight']
    for rows, name in zip((slice(0, d), slice(d, 2 * d), slice(2 * d, 3 * d)), ('query', 'key', 'value')):
        # a flax kernel is (in, heads, head_dims): torch's Linear weight is its (in, out) matrix transposed
        torch.testing.assert_close(qkv[rows], torch.from_numpy(npz[attn + f'{name}/kernel']).reshape(d, d).T,
                                   rtol=0, atol=0)
    proj = own['layers.0.attn.proj.weight' if target == 'mmpretrain' else 'layers.0.attn.attn.out_proj.weight']
    torch.testing.assert_close(proj, torch.from_numpy(npz[attn + 'out/kernel']).reshape(d, d).T, rtol=0, atol=0)
    torch.testing.assert_close(own['patch_embed.projection.weight'],
                               torch.from_numpy(npz['embedding/kernel']).permute(3, 2, 0, 1), rtol=0, atol=0)
    torch.testing.assert_close(own['ln1.weight'], torch.from_numpy(npz['Transformer/encoder_norm/scale']),
                               rtol=0, atol=0)


def official_vit_forward(npz: dict, images: torch.Tensor) -> torch.Tensor:
    """The tokens of Google's ViT (vit_jax ``models_vit.py``) computed from its flax arrays: the patch convolution,
    the class token, the position embedding, pre-norm blocks (LayerNorm eps 1e-6, attention per head, exact GELU) and
    the final norm."""
    w = {k: torch.from_numpy(v) for k, v in npz.items()}
    layer_norm = torch.nn.functional.layer_norm
    x = torch.nn.functional.conv2d(images, w['embedding/kernel'].permute(3, 2, 0, 1), w['embedding/bias'],
                                   stride=w['embedding/kernel'].shape[0]).flatten(2).transpose(1, 2)
    x = torch.cat([w['cls'].expand(len(x), -1, -1), x], 1) + w['Transformer/posembed_input/pos_embedding']
    d = x.shape[-1]
    blocks = sorted({k.split('/')[1] for k in npz if k.startswith('Transformer/encoderblock_')})
    for block in blocks:
        b = f'Transformer/{block}/'
        a = b + 'MultiHeadDotProductAttention_1/'
        y = layer_norm(x, (d, ), w[b + 'LayerNorm_0/scale'], w[b + 'LayerNorm_0/bias'], eps=1e-6)
        q, k, v = (torch.einsum('bnd,dhk->bhnk', y, w[a + f'{n}/kernel']) + w[a + f'{n}/bias'][None, :, None]
                   for n in ('query', 'key', 'value'))
        attention = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1]**0.5, -1) @ v
        x = x + torch.einsum('bhnk,hkd->bnd', attention, w[a + 'out/kernel']) + w[a + 'out/bias']
        y = layer_norm(x, (d, ), w[b + 'LayerNorm_2/scale'], w[b + 'LayerNorm_2/bias'], eps=1e-6)
        y = torch.nn.functional.gelu(y @ w[b + 'MlpBlock_3/Dense_0/kernel'] + w[b + 'MlpBlock_3/Dense_0/bias'])
        x = x + y @ w[b + 'MlpBlock_3/Dense_1/kernel'] + w[b + 'MlpBlock_3/Dense_1/bias']
    return layer_norm(x, (d, ), w['Transformer/encoder_norm/scale'], w['Transformer/encoder_norm/bias'], eps=1e-6)


@pytest.mark.parametrize('num_heads', [1, 4])
def test_vit_npz_gives_the_official_output_in_mmpretrain(tmp_path, num_heads):
    """The head-major order of the fused qkv and of the output projection, checked by the computation itself."""
    src, dst = str(tmp_path / 'ViT-tiny.npz'), str(tmp_path / 'vit_mmpretrain.pth')
    npz = official_vit_npz(**dict(VIT, num_heads=num_heads))
    np.savez(src, **npz)
    conv.convert('vit', src, dst, 'mmpretrain')
    model = MODELS.build(dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=16, out_type='raw',
                              arch=dict(embed_dims=32, num_layers=2, num_heads=num_heads, feedforward_channels=64)))
    assert model.load_state_dict(converted_file(dst, ''), strict=True)
    model.eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images)[-1], official_vit_forward(npz, images), rtol=1e-4, atol=1e-4)


def test_vit_mmpretrain_file_loads_through_init_cfg(tmp_path):
    """What the HST configs do: init_cfg=dict(type='Pretrained', checkpoint=...) on mmpretrain's ViT."""
    src, dst = str(tmp_path / 'ViT-tiny.npz'), str(tmp_path / 'vit_mmpretrain.pth')
    npz = official_vit_npz(**VIT)
    np.savez(src, **npz)
    conv.convert('vit', src, dst, 'mmpretrain')
    model = MODELS.build(dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=16,
                              arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
                              init_cfg=dict(type='Pretrained', checkpoint=dst)))
    model.init_weights()
    fc1 = 'Transformer/encoderblock_1/MlpBlock_3/Dense_0/kernel'
    torch.testing.assert_close(model.layers[1].ffn.layers[0][0].weight, torch.from_numpy(npz[fc1]).T, rtol=0, atol=0)


def test_timm_vit_pth_loads_into_mmpretrain(tmp_path):
    src, dst = str(tmp_path / 'vit_timm.pth'), str(tmp_path / 'vit_mmpretrain.pth')
    official = official_vit_timm(**VIT)
    torch.save(official, src)
    conv.convert('vit', src, dst, 'mmpretrain', num_heads=VIT['num_heads'])
    state_dict = converted_file(dst, '')
    model = conv.build_vit(state_dict, 'mmpretrain', VIT['num_heads'])
    assert model.load_state_dict(state_dict, strict=True)
    torch.testing.assert_close(model.layers[0].attn.qkv.weight, official['blocks.0.attn.qkv.weight'], rtol=0, atol=0)
    assert not any(k.startswith(('head', 'pre_logits')) for k in state_dict)


def test_check_against_a_config(swin_pth, tmp_path):
    """--config checks against the config's own backbone; a checkpoint of another size is refused, nothing written."""
    src, _ = swin_pth
    dst = str(tmp_path / 'swin_mmdet.pth')
    coverage = conv.convert('swin', src, dst, 'mmdet', config=DEMO_CONFIG)
    assert coverage.share == 1.0 and not coverage.missing and not coverage.unexpected

    other = str(tmp_path / 'swin_other.pth')
    torch.save({'model': official_swin(**dict(SWIN, embed_dims=16))}, other)
    with pytest.raises(conv.ConversionError, match='do not fit'):
        conv.convert('swin', other, str(tmp_path / 'refused.pth'), 'mmdet', config=DEMO_CONFIG)
    assert not osp.exists(tmp_path / 'refused.pth')
    with pytest.raises(conv.OptionError, match='pick --target'):
        conv.convert('swin', src, dst, 'mmpretrain', config=DEMO_CONFIG)


def test_the_check_counts_as_the_runtime_check(swin_pth, tmp_path, capsys):
    """The converter's counts are those a PETL backbone logs when its init_cfg loads the file."""
    src, _ = swin_pth
    dst = str(tmp_path / 'swin_mmdet.pth')
    assert conv.main(['swin', src, dst, '--target', 'mmdet']) == 0
    report = capsys.readouterr().out
    assert '169/169 upstream tensors loaded (100.0 %), 0 missing (-), 0 unexpected (-); 6 new tensors keep their ' \
           'init (norm0.weight' in report

    backbone = build_petl_backbone(dict(type='mmdet.SwinTransformer', embed_dims=SWIN['embed_dims'],
                                        depths=SWIN['depths'], num_heads=SWIN['num_heads'], window_size=SWIN['window'],
                                        init_cfg=ConfigDict(type='Pretrained', checkpoint=dst)), dict(type='Mona'))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        backbone.init_weights()
    finally:
        logger.removeHandler(handler)
    runtime = stream.getvalue().split(f'from {dst}: ', 1)[1].splitlines()[0]
    assert f'checked as a pretrained load of a PETL backbone is: {runtime}\n' in report


def test_vit_heads_from_the_file_the_flag_or_the_architecture_table():
    def shaped(width, depth, mlp):  # the tensors vit_num_heads reads, in mmpretrain's names
        sd = {'patch_embed.projection.weight': torch.empty(width, 3, 16, 16)}
        sd.update({f'layers.{i}.ffn.layers.0.0.weight': torch.empty(mlp, width) for i in range(depth)})
        return sd

    assert conv.vit_num_heads(shaped(768, 12, 3072), None, None, 'B.pth') == 12  # ViT-B
    assert conv.vit_num_heads(shaped(384, 12, 1536), None, None, 'S.pth') == 6  # timm's ViT-S (DeiT-S)
    assert conv.vit_num_heads(shaped(1024, 24, 4096), None, None, 'L.pth') == 16
    assert conv.vit_num_heads(shaped(1280, 32, 5120), None, None, 'H.pth') == 16
    assert conv.vit_num_heads(shaped(768, 2, 3072), None, 8, 'x.pth') == 8
    assert conv.vit_num_heads(shaped(768, 2, 3072), 4, None, 'x.npz') == 4
    with pytest.raises(conv.OptionError, match=r'768 wide, 2 deep, MLP 3072\) is none of the known ViTs \(.*b '
                                               r'\(768 wide, 12 deep, MLP 3072: 12 heads\).*Give --num-heads'):
        conv.vit_num_heads(shaped(768, 2, 3072), None, None, 'x.pth')
    with pytest.raises(conv.OptionError, match=r'does not divide the width 768.*1, 2, 3, 4, 6, 8'):
        conv.vit_num_heads(shaped(768, 2, 3072), None, 7, 'x.pth')
    with pytest.raises(conv.OptionError, match=r'--num-heads 8, but x.npz has 4 heads'):
        conv.vit_num_heads(shaped(768, 2, 3072), 4, 8, 'x.npz')


def test_command_line_and_errors(swin_pth, tmp_path, capsys):
    src, _ = swin_pth
    with pytest.raises(SystemExit) as exit_info:
        conv.main(['--help'])
    help_text = capsys.readouterr().out
    assert exit_info.value.code == 0 and '--target' in help_text and '--num-heads' in help_text

    dst = str(tmp_path / 'out' / 'swin_mmseg.pth')
    assert conv.main(['swin', src, dst, '--target', 'mmseg']) == 0
    assert osp.isfile(dst) and os.listdir(tmp_path / 'out') == ['swin_mmseg.pth']  # no temporary file left
    assert conv.main(['vit', src, dst, '--target', 'mmpretrain', '--num-heads', '2']) == 1  # a Swin file as a ViT
    assert 'not an official vit checkpoint' in capsys.readouterr().err

    timm = str(tmp_path / 'vit_timm.pth')
    torch.save(official_vit_timm(**VIT), timm)
    usage_errors = (
        (['vit', src, dst, '--target', 'mmdet'], ['valid choices: mmpretrain, mmseg', 'mmdet has no ViT']),
        (['resnet', src, dst, '--target', 'mmdet'], ['valid choices: swin, vit']),
        (['swin', str(tmp_path / 'absent.pth'), dst, '--target', 'mmdet'], ['absent.pth', 'no such file']),
        (['swin', src, dst, '--target', 'mmdet', '--num-heads', '4'], ['--num-heads is for a vit']),
        (['vit', timm, dst, '--target', 'mmpretrain'], ['does not record its number of attention heads',
                                                        'Give --num-heads']),
    )
    for argv, messages in usage_errors:
        with pytest.raises(SystemExit) as exit_info:
            conv.main(argv)
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and 'usage: official_to_mmpetl.py' in err, argv
        assert all(message in err for message in messages), (argv, err)
    assert os.listdir(tmp_path / 'out') == ['swin_mmseg.pth']
