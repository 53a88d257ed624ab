"""The shipped small pretrained backbones (checkpoints/) and the tool that makes them (tools/misc/pretrain_backbone.py).

Each file loads through the ordinary ``init_cfg=dict(type='Pretrained', checkpoint=...)`` path of mmdet's, mmseg's and
mmpretrain's backbones, with the PETL backbone's pretrained-weight check at 100 %, and carries every tensor the
upstream backbone has (but the output norms that a checkpoint of the classification upstream does not hold) and
nothing else.
"""
import hashlib
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import ConfigDict

from conftest import ROOT
from mmpetl.models import build_petl_backbone
from mmpetl.models import pretrained as pretrained_module
from mmpetl.models.small_backbones import SMALL_BACKBONES, library_checkpoint

SWIN = dict(embed_dims=24, depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8], window_size=4)
VIT = dict(embed_dims=96, num_layers=8, num_heads=3, feedforward_channels=384)
#: (backbone, library) -> (upstream config, Pretrained prefix)
UPSTREAMS = {
    ('swin-mini', 'mmdet'): (dict(type='mmdet.SwinTransformer', **SWIN), None),
    ('swin-mini', 'mmseg'): (dict(type='mmseg.SwinTransformer', pretrain_img_size=64, **SWIN), None),
    ('swin-mini', 'mmpretrain'): (dict(type='mmpretrain.SwinTransformer', img_size=64, pad_small_map=True,
                                       out_indices=(0, 1, 2, 3), window_size=4,
                                       arch=dict(embed_dims=24, depths=[2, 2, 6, 2], num_heads=[1, 2, 4, 8])),
                                  'backbone.'),
    ('vit-mini', 'mmpretrain'): (dict(type='mmpretrain.VisionTransformer', arch=VIT, img_size=128, patch_size=8),
                                 'backbone.'),
    ('vit-mini', 'mmseg'): (dict(type='mmseg.VisionTransformer', img_size=(128, 128), patch_size=8, embed_dims=96,
                                 num_layers=8, num_heads=3, mlp_ratio=4, patch_bias=True, final_norm=True), None),
}


def meta(backbone):
    with open(osp.join(ROOT, osp.splitext(SMALL_BACKBONES[backbone]['release'])[0] + '.json')) as f:
        return json.load(f)


@pytest.mark.parametrize('backbone', sorted(SMALL_BACKBONES))
def test_files_are_small_and_match_their_recorded_sha256(backbone):
    info = meta(backbone)
    release = osp.join(ROOT, SMALL_BACKBONES[backbone]['release'])
    assert set(info['files']) == {'mmpretrain', *SMALL_BACKBONES[backbone]['libraries']}
    record = open(osp.join(ROOT, 'docs', 'transfer.md')).read()  # the table of the shipped files
    for library, entry in info['files'].items():
        path = library_checkpoint(release, library)
        assert osp.basename(path) == entry['file']
        assert osp.getsize(path) <= 10 * 2 ** 20, path
        assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == entry['sha256'], path
        assert entry['sha256'] in record, f'docs/transfer.md lacks the SHA-256 of {entry["file"]}'
    state = torch.load(release, map_location='cpu', weights_only=True)
    if info.get('upstream', 'shapes48') == 'shapes48':
        assert info['upstream_top1'] > 5 * 100 / 48  # well above chance (100 / 48 %)
        assert any(k.startswith('head.') for k in state['state_dict'])  # the release is the whole classifier
    else:  # scenes: above labelling every pixel background, whose mIoU is at most 100 / 9 %
        assert info['upstream'] == 'scenes' and info['upstream_miou'] > 100 / 9
        assert any(k.startswith('decode_head.') for k in state['state_dict'])  # the whole segmentor


@pytest.mark.parametrize('backbone,library', sorted(UPSTREAMS))
def test_loads_through_the_libraries_pretrained_path(backbone, library, monkeypatch):
    logs = []
    monkeypatch.setattr(pretrained_module, 'print_log', lambda msg, **kwargs: logs.append(msg))
    upstream, prefix = UPSTREAMS[backbone, library]
    path = library_checkpoint(osp.join(ROOT, SMALL_BACKBONES[backbone]['release']), library)
    init_cfg = ConfigDict(type='Pretrained', checkpoint=path)
    if prefix:
        init_cfg.prefix = prefix
    torch.manual_seed(0)
    model = build_petl_backbone(dict(upstream, init_cfg=init_cfg), dict(type='Fixed'), min_loaded_share=1.0)
    model.init_weights()  # raises below 100 %
    assert '(100.0 %), 0 missing' in logs[-1], logs[-1]

    stored = torch.load(path, map_location='cpu', weights_only=True)['state_dict']
    if library == 'mmdet':  # mmdet's Swin reads the keys that start with backbone. (the release's head is not)
        prefix = 'backbone.'
    stored = {k[len(prefix or ''):]: v for k, v in stored.items() if k.startswith(prefix or '')}
    own = model.state_dict()
    # the only tensors the file may lack are the output norms a classifier does not have (norm0..norm2)
    lacking = ('norm0', 'norm1', 'norm2') if meta(backbone).get('upstream', 'shapes48') == 'shapes48' else ()
    assert sorted(set(own) - set(stored)) == sorted(k for k in own if k.split('.')[0] in lacking)
    unexpected = set(stored) - set(own)
    assert not unexpected, sorted(unexpected)[:5]
    for key, value in stored.items():
        if key == 'pos_embed' and value.shape != own[key].shape:
            continue  # resized to the 16x16 grid of 128 px inputs on load
        assert torch.equal(own[key], value.to(own[key].dtype)), key


def _tool():
    path = osp.join(ROOT, 'tools/misc/pretrain_backbone.py')
    spec = importlib.util.spec_from_file_location('pretrain_backbone', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('upstream', ['scenes', 'shapes48'])
def test_pretraining_tool_runs_and_is_deterministic(upstream, tmp_path, capsys):
    """Each upstream task through its library's real Runner, twice: the same weights; the release holds the backbone
    in mmpretrain's keys and the upstream head, the mmseg file the backbone alone."""
    tool = _tool()
    outputs = []
    for name in ('a', 'b'):
        out = str(tmp_path / name / 'swin.pth')
        argv = ['swin-mini', '--upstream', upstream, '--out', out, '--data-root', str(tmp_path / 'upstream'),
                '--num-train', '2', '--num-val', '1', '--max-iters', '2', '--work-dir', str(tmp_path / f'work_{name}')]
        assert tool.main(argv) == 0
        outputs.append(out)
    printed = capsys.readouterr().out
    assert ('val mIoU' if upstream == 'scenes' else 'val accuracy/top1') in printed and 'sha256' in printed
    first, second = (torch.load(o, map_location='cpu', weights_only=True) for o in outputs)
    assert first['state_dict'].keys() == second['state_dict'].keys()
    assert all(torch.equal(first['state_dict'][k], second['state_dict'][k]) for k in first['state_dict'])
    head = 'decode_head.' if upstream == 'scenes' else 'head.'
    assert {k.split('.')[0] + '.' for k in first['state_dict']} == {'backbone.', head}
    assert 'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight' in first['state_dict']  # mmpretrain's keys
    info = json.load(open(osp.join(tmp_path, 'a', 'swin.json')))
    assert info['iters'] == 2 and set(info['files']) == {'mmpretrain', 'mmseg'} and info['upstream'] == upstream
    assert 0 <= info['upstream_miou' if upstream == 'scenes' else 'upstream_top1'] <= 100
    mmseg = torch.load(osp.join(tmp_path, 'a', 'swin_mmseg.pth'), map_location='cpu', weights_only=True)
    backbone_keys = {k[len('backbone.'):] for k in first['state_dict'] if k.startswith('backbone.')}
    assert mmseg['state_dict'].keys() == backbone_keys


def test_pretraining_tool_resume_skips_an_incomplete_checkpoint(tmp_path, capsys):
    """--resume publishes a finished run again from its newest *complete* checkpoint: a truncated newer file (a run
    killed while writing it) is skipped and named, and the published weights are the run's."""
    tool = _tool()
    out, work = str(tmp_path / 'swin.pth'), tmp_path / 'work'
    argv = ['swin-mini', '--out', out, '--data-root', str(tmp_path / 'upstream'), '--num-train', '2', '--num-val', '1',
            '--max-iters', '2', '--work-dir', str(work)]
    assert tool.main(argv) == 0
    first = torch.load(out, map_location='cpu', weights_only=True)['state_dict']
    complete = (work / 'iter_2.pth').read_bytes()
    (work / 'iter_3.pth').write_bytes(complete[:len(complete) // 2])  # truncated, as by a crash mid-write
    (work / 'last_checkpoint').write_text(str(work / 'iter_3.pth'))
    capsys.readouterr()
    assert tool.main(argv + ['--resume']) == 0
    printed = capsys.readouterr().out
    assert 'iter_3.pth' in printed and 'resuming from' in printed and 'iter_2.pth' in printed
    again = torch.load(out, map_location='cpu', weights_only=True)['state_dict']
    assert all(torch.equal(first[k], again[k]) for k in first)


@pytest.mark.parametrize('argv,message', [
    (['resnet'], "invalid choice: 'resnet'"),
    (['swin-mini', '--max-iters', '0'], '--max-iters must be at least 1'),
    (['swin-mini', '--out', 'x.txt'], 'must be a .pth file'),
    (['swin-mini', '--upstream', 'imagenet'], "invalid choice: 'imagenet'"),
])
def test_pretraining_tool_bad_input(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _tool().parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize('upstream,folder', [('shapes48', 'train/star_stripes'), ('scenes', 'img_dir/train')])
def test_pretraining_tool_names_an_incomplete_dataset(upstream, folder, tmp_path, capsys):
    (tmp_path / folder).mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_info:
        _tool().parse_args(['vit-mini', '--upstream', upstream, '--data-root', str(tmp_path)])
    assert exit_info.value.code == 2
    assert f'is not the upstream dataset of --upstream {upstream}' in capsys.readouterr().err
