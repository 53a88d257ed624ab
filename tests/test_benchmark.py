"""The benchmark's measuring functions (mmpetl/benchmark/) and its tool, on the demo's small Swin detector.

No timed assertion: times are only checked to be positive.
"""
import gc
import importlib.util
import json
import os.path as osp
import subprocess
import sys
import weakref

import pytest
import torch
from torch import nn

from mmpetl import benchmark
from mmpetl.models import build_petl_backbone
from mmpetl.utils import count_parameters

from conftest import DEMO_CONFIG, ROOT

TOOL = osp.join(ROOT, 'tools/analysis_tools/benchmark_petl.py')
SIZE = 64  # the demo's Swin (embed 24, four stages) on a 64 x 64 image: 2 x 2 tokens in the last stage


@pytest.fixture(scope='module')
def result():
    """One run: Full, Mona and E3VA, backbone alone and whole detector, one timed step each, no RSS processes."""
    return benchmark.run_benchmark(DEMO_CONFIG, ['Mona', 'E3VA'], size=SIZE, steps=1, warmup=0, rss=False,
                                   log=lambda message: None)


def rows_of(result, part):
    return {row['method']: row for row in result['rows'] if row['part'] == part}


def test_saved_for_backward_counts_distinct_storages_and_every_pack():
    x = torch.randn(1000, requires_grad=True)
    _, saved = benchmark.saved_for_backward(lambda: (x * x).exp().sum())
    # mul saves x twice (one storage, two packs); exp saves its output
    assert saved == dict(saved_bytes=8000, packed_bytes=12000)
    _, saved = benchmark.saved_for_backward(lambda: (x * x).exp().sum(), exclude=[x])
    assert saved == dict(saved_bytes=4000, packed_bytes=12000)


def test_saved_for_backward_keeps_the_graph_usable_and_frees_it():
    x = torch.randn(100, requires_grad=True)
    out, _ = benchmark.saved_for_backward(lambda: x.exp())  # exp saves its output
    out.sum().backward()
    assert torch.equal(x.grad, x.exp().detach())
    out, _ = benchmark.saved_for_backward(lambda: x.exp())
    freed = weakref.ref(out)
    del out
    gc.collect()
    assert freed() is None  # no reference cycle through the saved output


def test_cpu_allocated_during_replays_the_allocator():
    kept = []

    def step():
        first = torch.empty(2**20, dtype=torch.uint8)
        second = torch.empty(2 * 2**20, dtype=torch.uint8)
        del first
        kept.append(torch.empty(2**19, dtype=torch.uint8))
        return second.numel()  # second is freed on return

    # at most first and second at once; what the step leaves allocated: the kept tensor
    assert benchmark.cpu_allocated_during(step) == (3 * 2**20, 2**19)


def test_flops_of_a_linear_forward_and_backward():
    linear = nn.Linear(16, 8, bias=False)
    x = torch.randn(4, 16, requires_grad=True)
    # forward 2*4*16*8; backward: the same again for the input gradient and for the weight gradient
    assert benchmark.count_flops(lambda: linear(x).sum().backward()) == 3 * 2 * 4 * 16 * 8


def test_parse_method():
    assert benchmark.parse_method('Mona') == dict(type='Mona')
    assert benchmark.parse_method('Mona:fused=False,bottleneck=32') == dict(type='Mona', fused=False, bottleneck=32)
    with pytest.raises(ValueError, match='key=value'):
        benchmark.parse_method('Mona:fused')
    assert benchmark.parse_method('Mona:fused=False@with_cp=True') == dict(type='Mona', fused=False)
    assert benchmark.parse_backbone_options('Mona:fused=False@with_cp=True') == dict(with_cp=True)
    assert benchmark.parse_backbone_options('Mona') == {}
    assert benchmark.parse_backbone_options("Mona@lean=['mlp','qkv'],with_cp=False") == \
        dict(lean=['mlp', 'qkv'], with_cp=False)


def test_backbone_options_of_one_row_reach_the_upstream_backbone():
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cfg = Config.fromfile(DEMO_CONFIG)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        spec = 'Mona@with_cp=True'
        model = benchmark.build_benchmark_model(cfg, benchmark.parse_method(spec), torch.device('cpu'),
                                                benchmark.parse_backbone_options(spec))
        assert all(block.with_cp for stage in model.backbone.stages for block in stage.blocks)
        assert not any(block.with_cp for stage in benchmark.build_benchmark_model(
            cfg, dict(type='Mona'), torch.device('cpu')).backbone.stages for block in stage.blocks)
        # lean is an option of mmpetl.PETLBackbone, not of the upstream backbone: it reaches the PETL backbone
        spec = 'Mona@lean=None'
        benchmark.check_run(DEMO_CONFIG, [spec, 'Mona@with_cp=True,lean=["mlp"]'], parts=['backbone'])
        model = benchmark.build_benchmark_model(cfg, benchmark.parse_method(spec), torch.device('cpu'),
                                                benchmark.parse_backbone_options(spec))
        assert any(getattr(m, 'petl_lean', None) for m in model.backbone.modules())
        assert not any(getattr(m, 'petl_lean', None) for m in benchmark.build_benchmark_model(
            cfg, dict(type='Mona'), torch.device('cpu')).backbone.modules())
    with pytest.raises(ValueError, match='of mmpetl.PETLBackbone: lean'):
        benchmark.check_run(DEMO_CONFIG, ['Mona@leaner=[]'], parts=['backbone'])


SMALL = {
    'Swin': dict(type='mmdet.SwinTransformer', embed_dims=32, depths=(2, 2), num_heads=(1, 2), out_indices=(0, 1)),
    'ViT': dict(type='mmpretrain.VisionTransformer', img_size=32, patch_size=8, out_type='featmap',
                arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)),
}


@pytest.mark.parametrize('backbone', list(SMALL))
@pytest.mark.parametrize('method', ['Full', 'Fixed', 'BitFit', 'LNTune', 'Partial1', 'Adapter', 'AdaptFormer',
                                    'LoRand', 'LoRA', 'Mona', 'Mona:bottleneck=16', 'CoLin', 'E3VA', 'HST'])
def test_documented_formula_equals_the_count(method, backbone):
    try:
        model = build_petl_backbone(SMALL[backbone], benchmark.parse_method(method))
    except ValueError:  # E3VA on a ViT, HST on a Swin
        assert (method, backbone) in {('E3VA', 'ViT'), ('HST', 'Swin')}
        return
    formula = benchmark.expected_trainable(model, benchmark.parse_method(method))
    assert formula == count_parameters(model)['trainable']


def test_every_figure_is_measured_and_positive(result):
    assert result['meta']['input'] == [1, 3, SIZE, SIZE]
    for part in benchmark.PARTS:
        rows = rows_of(result, part)
        assert list(rows) == ['Full', 'Mona', 'E3VA']  # Full added, first
        for row in rows.values():
            assert row['status'] == 'ok'
            assert row['trainable'] > 0 and row['total'] >= row['trainable']
            assert row['formula'] == row['backbone_trainable']
            assert row['saved_bytes'] > 0 and row['packed_bytes'] > 0 and row['flops'] > 0
            assert row['step_time'] > 0 and len(row['step_times']) == 1 and row['step_cpu_time'] > 0
            # the peak holds the part's weights (float32) and, at the end of the forward, every saved activation
            assert row['peak_bytes'] >= 4 * row['total'] + row['saved_bytes']
            assert row['peak_kind'] == 'cpu allocator peak (torch.profiler memory events)'


def test_ratios_are_to_full_fine_tuning_of_the_same_part(result):
    for part in benchmark.PARTS:
        rows = rows_of(result, part)
        for key in ('trainable', 'saved_bytes', 'flops', 'peak_bytes', 'step_time', 'step_cpu_time'):
            assert rows['Full'][f'{key}_ratio'] == 1.0
            for row in rows.values():
                assert row[f'{key}_ratio'] == pytest.approx(row[key] / rows['Full'][key])
    backbone = rows_of(result, 'backbone')
    assert backbone['E3VA']['saved_bytes'] < backbone['Full']['saved_bytes']
    assert backbone['Mona']['trainable'] == backbone['Mona']['formula'] < backbone['Full']['trainable']
    # the whole detector trains its neck and heads in every method
    whole = rows_of(result, 'whole')
    assert whole['E3VA']['trainable'] - backbone['E3VA']['trainable'] == \
        whole['Full']['trainable'] - backbone['Full']['trainable']


def test_a_method_that_does_not_apply_is_reported_not_applicable():
    case = benchmark.Case(config=DEMO_CONFIG, method='HST', size=SIZE)
    rows = benchmark.measure_method(case, rss=False, log=lambda message: None)
    assert [row['status'] for row in rows] == ['n/a', 'n/a']
    assert 'does not support the backbone mmdet.SwinTransformer' in rows[0]['reason']


def test_peak_rss_of_a_step_in_a_fresh_process():
    case = benchmark.Case(config=DEMO_CONFIG, method='E3VA', size=SIZE)
    peak = benchmark.rss_peak(case, 'backbone')
    assert 'rss_error' not in peak, peak
    assert peak['rss_peak_bytes'] > 0 and peak['rss_step_increase'] >= 0


def test_outputs(result, tmp_path):
    markdown = benchmark.to_markdown(result)
    assert '| Mona |' in markdown and '**whole model**' in markdown and '= formula' in markdown
    benchmark.plot(result, str(tmp_path / 'plot.png'))
    with open(tmp_path / 'plot.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    json.dumps(benchmark.jsonable(result))


def load_tool():
    spec = importlib.util.spec_from_file_location('benchmark_petl', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_tool_writes_markdown_json_and_png(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [
        TOOL, DEMO_CONFIG, '--methods', 'E3VA', '--backbone-only', '--size', str(SIZE), '--steps', '1', '--warmup',
        '0', '--no-rss', '--out-dir', str(tmp_path), '--name', 'run', '--override', 'model.backbone.backbone.depths='
        '[2,2,2,2]'])
    assert load_tool().main() == 0
    assert '| E3VA |' in capsys.readouterr().out
    with open(tmp_path / 'run.json') as f:
        data = json.load(f)
    assert [row['method'] for row in data['rows']] == ['Full', 'E3VA']
    assert data['meta']['overrides'] == {'model.backbone.backbone.depths': [2, 2, 2, 2]}
    assert (tmp_path / 'run.md').read_text().startswith('Input 1×3×64×64')
    assert (tmp_path / 'run.png').stat().st_size > 0


@pytest.mark.parametrize('args, message', [
    (['--size', '0'], 'argument --size: 0 is below 1'),
    (['--steps', 'x'], "argument --steps: 'x' is not an integer"),
    (['--mona-micro', '--micro-shape', '2', '0', '8'], 'argument --micro-shape: 0 is below 1'),
    (['--device', 'bogus'], "device 'bogus': not a device; use cpu, cuda or cuda:N"),
    (['--device', 'mps'], "device 'mps': the benchmark measures on cpu, cuda or cuda:N"),
    (['--methods', 'Monaa'], "method 'Monaa': unknown method 'Monaa'; valid choices: AdaptFormer, "),
    (['--methods', 'Mona:bottlenek=8'], "method 'Mona:bottlenek=8': unknown option(s) 'bottlenek' for PETL method "
                                        "'Mona'. Valid options: bottleneck, dropout, fused"),
    (['--methods', 'Mona@with_checkpoint=True'], "method 'Mona@with_checkpoint=True': mmdet.SwinTransformer has no "
                                                 'option(s) with_checkpoint'),
    (['--methods', 'Mona:fused'], "method 'Mona:fused': options are key=value, got 'fused'"),
])
def test_tool_names_what_is_wrong_with_its_arguments(args, message, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [TOOL, DEMO_CONFIG, *args])
    with pytest.raises(SystemExit) as exit_info:
        load_tool().main()
    assert exit_info.value.code == 2
    assert f'benchmark_petl.py: error: {message}' in capsys.readouterr().err


def test_tool_refuses_a_config_it_cannot_measure(tmp_path, monkeypatch, capsys):
    for config, message in [(str(tmp_path / 'missing.py'), 'no such file'),
                            (osp.join(ROOT, 'configs/_base_/petl_runtime.py'),
                             'model.backbone.type must be "mmpetl.PETLBackbone" (got None)')]:
        monkeypatch.setattr(sys, 'argv', [TOOL, config])
        with pytest.raises(SystemExit):
            load_tool().main()
        assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the answer on a machine without CUDA')
def test_cuda_without_a_gpu_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"device 'cuda:0': torch .* sees no CUDA device here"):
        benchmark.check_device('cuda:0')


def test_tool_help():
    out = subprocess.run([sys.executable, TOOL, '--help'], capture_output=True, text=True, check=True).stdout
    assert '--mona-micro' in out and '--backbone-only' in out and 'saved for backward' in out


@pytest.mark.slow
def test_model_zoo_table_takes_the_ratios_from_a_result_file(result, tmp_path):
    path = tmp_path / 'result.json'
    path.write_text(json.dumps(benchmark.jsonable(result)))
    out = subprocess.run([sys.executable, osp.join(ROOT, 'tools/analysis_tools/petl_params.py'), '--methods', 'Mona',
                          'E3VA', '--backbones', 'Swin-B', '--benchmark', str(path)],
                         capture_output=True, text=True, check=True).stdout
    header, _, mona, e3va, *_ = out.splitlines()
    assert 'whole model vs full, measured here' in header and '1×3×64×64' in header and 'CPU time' in header
    whole = rows_of(result, 'whole')
    for line, method in ((mona, 'Mona'), (e3va, 'E3VA')):
        row = whole[method]
        # saved / peak allocated / CPU time (no peak RSS in this run: rss=False)
        assert (f'| {row["saved_bytes_ratio"]:.2f}× / {row["peak_bytes_ratio"]:.2f}× / '
                f'{row["step_cpu_time_ratio"]:.2f}× |') in line
    bad = tmp_path / 'bad.json'
    bad.write_text('{}')
    run = subprocess.run([sys.executable, osp.join(ROOT, 'tools/analysis_tools/petl_params.py'), '--benchmark',
                          str(bad)], capture_output=True, text=True)
    assert run.returncode != 0 and 'not a result file of benchmark_petl.py' in run.stderr


def test_parameter_table_views_show_a_formula_mismatch():
    """petl_params.py (the full table) and benchmark_petl.py --params (its formula check) render one table."""
    table = {
        'Mona': {'Swin-B': dict(trainable=10, total=20, formula=10), 'ViT-B': dict(trainable=5, total=9, formula=6)},
        'HST': {'Swin-B': None, 'ViT-B': dict(trainable=3, total=9, formula=3)},
        'Fixed': {'Swin-B': dict(trainable=0, total=20, formula=0), 'ViT-B': dict(trainable=0, total=9, formula=0)}}
    check = benchmark.formula_markdown(table).splitlines()
    assert check[2] == '| Mona | 10 | 5 (formula 6) | NO |' and check[3] == '| HST | n/a | 3 | yes |'
    full = benchmark.parameter_markdown(table, [('measured', {'Mona': '0.50×', 'Mona:fused=False': '0.70×'})])
    lines = full.splitlines()
    assert lines[0].startswith('| method | what trains, where | Swin-B | ViT-B | measured | paper-reported COCO')
    assert lines[2].startswith('| Mona | ') and '| 10 | 5 (formula 6) | 0.50× | 4.16 M / 53.4 / 46.0 |' \
        in lines[2]
    assert lines[5] == '| Mona:fused=False | (variant, measured) | | | 0.70× | | |'
    assert 'Total backbone parameters: Swin-B 20, ViT-B 9' in full and 'HST: HST paper' in full
