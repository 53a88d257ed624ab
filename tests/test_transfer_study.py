"""The transfer study (tools/analysis_tools/transfer_study.py): its up-front checks, and short real runs of each task
through the real Runners and metrics, reported as markdown, JSON and a PNG."""
import importlib.util
import json
import os.path as osp

import pytest

from conftest import ROOT
from mmpetl.study import report
from mmpetl.study.plan import TASKS

TOOL = osp.join(ROOT, 'tools/analysis_tools/transfer_study.py')


def _tool():
    spec = importlib.util.spec_from_file_location('transfer_study', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('argv,message', [
    (['--tasks', 'detection'], "unknown task 'detection'; valid choices: cls, coco, ade20k"),
    (['--methods', 'Mona', 'Nope'], "unknown method 'Nope'; valid choices:"),
    (['--backbones', 'resnet'], "unknown backbone 'resnet'; valid choices: swin-mini, vit-mini"),
    (['--methods', 'Fixed@imagenet'], "unknown initialisation (METHOD@INIT) 'imagenet'"),
    (['--backbones', 'vit-mini', '--methods', 'E3VA'],
     "method E3VA cannot attach to vit-mini: PETLBackbone: method 'E3VA' does not support the backbone "
     'mmpretrain.VisionTransformer'),
    (['--tasks', 'coco', '--backbones', 'vit-mini', '--methods', 'Mona'], 'nothing to run'),
    (['--backbones', 'swin-mini', '--methods', 'LoRand:bias_init'], 'give its options as METHOD:OPTION=VALUE'),
    (['--backbones', 'swin-mini', '--methods', 'LoRand:nope=1'],
     "method LoRand (nope 1) cannot attach to swin-mini: PETLBackbone: unknown option(s) 'nope'"),
    (['--iters-scale', '0'], '--iters-scale must be in (0, 10]'),
    (['--sizes', 'huge'], "invalid choice: 'huge'"),
    (['--pretrained', 'swin-mini'], "--pretrained 'swin-mini': give BACKBONE=RELEASE"),
    (['--pretrained', 'resnet=x.pth'], "unknown backbone 'resnet'; valid choices: swin-mini, vit-mini"),
    (['--pretrained', 'swin-mini=/nowhere/x.pth'], '/nowhere/x.pth is missing'),
])
def test_bad_input_is_named_before_anything_trains(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        _tool().parse_args(argv + ['--data-root', str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_incomplete_dataset_is_named(tmp_path, capsys):
    (tmp_path / 'toy_coco' / 'annotations').mkdir(parents=True)
    with pytest.raises(SystemExit):
        _tool().parse_args(['--tasks', 'coco', '--methods', 'Fixed', '--backbones', 'swin-mini',
                            '--data-root', str(tmp_path)])
    assert 'the coco dataset is incomplete' in capsys.readouterr().err


def test_default_plan_covers_every_method_and_seed(tmp_path):
    args = _tool().parse_args(['--data-root', str(tmp_path)])
    runs = {(r.task, r.row.backbone, r.row.label, r.seed) for r in args.runs}
    assert ('cls', 'swin-mini', 'Fixed (random init)', 2) in runs and ('cls', 'vit-mini', 'HST', 1) in runs
    for task in TASKS:  # every row that fits, three seeds on every task
        assert len([r for r in runs if r[0] == task and r[1] == 'swin-mini']) == 3 * 13
    assert len([r for r in runs if r[0] == 'cls' and r[1] == 'vit-mini']) == 3 * 8
    assert {r[2] for r in runs if r[0] == 'coco' and r[1] == 'vit-mini'} == {'HST', 'HST (random init)'}
    assert {r.sizes for r in args.runs} == {'default'}
    assert all(r.method_cfg == dict(type=r.row.method) for r in args.runs)  # the methods' defaults
    assert {r['label'] for r in args.skipped if r['task'] == 'ade20k'} == {'Full', 'Fixed', 'Mona', 'LoRA',
                                                                             'CoLin', 'Fixed (random init)'}


def test_proportional_sizes_scale_the_width_options(tmp_path):
    """--sizes proportional: each width option scaled by the small backbone's width over Swin-B's (24 / 128) or
    ViT-B's (96 / 768); other options and methods without a width keep their defaults; the keys tell the variants
    apart, and the run's config carries the options."""
    from mmpetl.study.run import run_config
    args = _tool().parse_args(['--sizes', 'proportional', '--data-root', str(tmp_path)])
    cfgs = {(r.task, r.row.backbone, r.row.label): r.method_cfg for r in args.runs if r.seed == 0}
    assert cfgs['cls', 'swin-mini', 'Mona'] == dict(type='Mona', bottleneck=12)  # 64 x 24 / 128
    assert cfgs['cls', 'swin-mini', 'LoRA'] == dict(type='LoRA', rank=12)
    assert cfgs['cls', 'swin-mini', 'CoLin'] == dict(type='CoLin', inner_dim=19, rank=5)  # 100, 28 x 0.1875
    assert cfgs['cls', 'swin-mini', 'LoRand'] == dict(type='LoRand', rank=2)  # 8 x 0.1875, rounded
    assert cfgs['cls', 'vit-mini', 'Mona'] == dict(type='Mona', bottleneck=8)  # 64 x 96 / 768
    assert cfgs['cls', 'vit-mini', 'HST'] == dict(type='HST') and cfgs['cls', 'swin-mini', 'BitFit'] == dict(
        type='BitFit')
    run = next(r for r in args.runs if r.row.method == 'Mona' and r.row.backbone == 'swin-mini')
    assert run.key.endswith('/proportional') and run.label == 'Mona (bottleneck 12)'
    # a run that is the same at both sizes keeps its key and label: a proportional study reuses the default one's
    same = next(r for r in args.runs if r.row.method == 'Fixed' and r.row.init == 'random' and r.seed == 0)
    default = _tool().parse_args(['--data-root', str(tmp_path)])
    assert same.key in {r.key for r in default.runs} and same.label == 'Fixed (random init)'
    assert {r.key for r in args.runs} & {r.key for r in default.runs} == {
        r.key for r in default.runs if r.row.method not in ('Mona', 'E3VA', 'LoRA', 'Adapter', 'AdaptFormer',
                                                            'LoRand', 'CoLin')}
    assert run_config(run, str(tmp_path / 'w'), str(tmp_path)).model.backbone.method == dict(type='Mona',
                                                                                          bottleneck=12)


def test_method_options_of_a_row(tmp_path):
    """METHOD:OPTION=VALUE rows: their own key and label, the options in the run's config; a row's option wins over
    the one --sizes would set, and a run whose every sized option the row sets is the same run at both sizes."""
    from mmpetl.study.run import run_config
    argv = ['--tasks', 'cls', '--backbones', 'swin-mini', '--seeds', '0', '--data-root', str(tmp_path), '--methods',
            'LoRand', 'LoRand:bias_init=zeros', 'Mona:bottleneck=8,dropout=0.0@random']
    runs = {r.label: r for r in _tool().parse_args(argv).runs}
    assert set(runs) == {'LoRand', 'LoRand (bias_init zeros)', 'Mona (bottleneck 8, dropout 0.0, random init)'}
    assert runs['LoRand (bias_init zeros)'].key == 'cls/swin-mini/LoRand:bias_init=zeros@pretrained/seed0/150it'
    assert runs['LoRand'].key == 'cls/swin-mini/LoRand@pretrained/seed0/150it'
    mona = runs['Mona (bottleneck 8, dropout 0.0, random init)']
    assert mona.method_cfg == dict(type='Mona', bottleneck=8, dropout=0.0) and mona.row.init == 'random'
    assert run_config(runs['LoRand (bias_init zeros)'], str(tmp_path / 'w'), str(tmp_path)).model.backbone.method \
        == dict(type='LoRand', bias_init='zeros')
    proportional = {r.label: r for r in _tool().parse_args(argv + ['--sizes', 'proportional']).runs}
    assert set(proportional) == {'LoRand (rank 2)', 'LoRand (rank 2, bias_init zeros)',
                                 'Mona (bottleneck 8, dropout 0.0, random init)'}
    assert proportional['Mona (bottleneck 8, dropout 0.0, random init)'].key == mona.key
    assert proportional['LoRand (rank 2, bias_init zeros)'].key.endswith('/proportional')


def test_cfg_options_change_every_run_and_a_resume_must_keep_them(tmp_path, capsys):
    """--cfg-options: merged into every run's config before the run's own settings; a study resumed with other
    --cfg-options (or another --pretrained) than its JSON records is refused before anything trains."""
    from mmpetl.study.run import run_config
    tool = _tool()
    argv = ['--tasks', 'coco', '--backbones', 'swin-mini', '--methods', 'Fixed', '--seeds', '0',
            '--data-root', str(tmp_path / 'data'), '--out-dir', str(tmp_path / 'out')]
    args = tool.parse_args(argv + ['--cfg-options', 'model.neck.norm_cfg.type=GN', 'model.neck.norm_cfg.num_groups=8',
                                   'model.backbone.method.type=Full'])
    cfg = run_config(args.runs[0], str(tmp_path / 'w'), str(tmp_path), cfg_options=args.cfg_options)
    assert cfg.model.neck.norm_cfg == dict(type='GN', num_groups=8)
    assert cfg.model.backbone.method == dict(type='Fixed')  # the row wins
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'transfer_study.json').write_text(json.dumps(dict(
        meta=dict(cfg_options={'model.neck.norm_cfg.type': 'GN'}), runs=[], rows=None)))
    assert tool.main(argv + ['--resume']) == 2
    assert "was made with cfg_options {'model.neck.norm_cfg.type': 'GN'}, not {}" in capsys.readouterr().err
    assert not (tmp_path / 'data').exists()  # nothing written, nothing trained


def test_another_pretraining_replaces_each_library_file(tmp_path):
    """--pretrained: every run of that backbone loads the given release's file for its library (the release itself,
    or its _mmseg.pth beside it); the random rows stay random."""
    from mmpetl.study.run import run_config
    for name in ('swin.pth', 'swin_mmseg.pth'):
        (tmp_path / name).write_bytes(b'')
    args = _tool().parse_args(['--backbones', 'swin-mini', '--methods', 'Fixed', 'Fixed@random', '--seeds', '0',
                               '--pretrained', f'swin-mini={tmp_path / "swin.pth"}', '--data-root', str(tmp_path)])
    loaded = {}
    for run in args.runs:
        init_cfg = run_config(run, str(tmp_path / 'w'), str(tmp_path), args.releases).model.backbone.backbone.init_cfg
        loaded[run.task, run.row.init] = init_cfg and init_cfg.checkpoint
    assert loaded['cls', 'pretrained'] == loaded['coco', 'pretrained'] == str(tmp_path / 'swin.pth')
    assert loaded['ade20k', 'pretrained'] == str(tmp_path / 'swin_mmseg.pth')
    assert all(loaded[task, 'random'] is None for task in TASKS)


def test_short_study_on_every_task(tmp_path, capsys, monkeypatch):
    """Two iterations per run: each task's Runner, metric and measurement, and the report files. The datasets are
    written small beforehand (the tool takes a complete dataset it finds); the study runs from another directory."""
    monkeypatch.chdir(tmp_path)
    from mmpetl.datasets import make_toy_ade20k, make_toy_coco, make_toy_imagenet
    data = tmp_path / 'data'
    make_toy_imagenet(str(data / 'toy_shapes_cls'), num_train=2, num_val=2, styles=('filled', 'outline'))
    make_toy_coco(str(data / 'toy_coco'), num_train=4, num_val=2)
    make_toy_ade20k(str(data / 'toy_ade20k'), num_train=4, num_val=2)
    out = tmp_path / 'out'
    argv = ['--tasks', 'cls', 'coco', 'ade20k', '--backbones', 'swin-mini', '--methods', 'Full', 'Mona',
            'Fixed@random', '--seeds', '0', '1', '--other-seeds', '0', '--iters-scale', '0.001',
            '--data-root', str(data), '--out-dir', str(out)]
    tool = _tool()
    assert tool.main(argv) == 0
    printed = capsys.readouterr().out
    assert '(1/' in printed and 'min left' in printed  # progress
    result = json.load(open(out / 'transfer_study.json'))
    assert len(result['runs']) == 2 * 3 + 3 + 3
    assert all(run['status'] == 'ok' and run['max_iters'] == 2 for run in result['runs'])
    for run in result['runs']:
        for key, _ in TASKS[run['task']].metrics:
            assert 0 <= run['metrics'][key] <= 100, (run['key'], key)
        assert run['peak_bytes'] > run['weights_bytes'] > 0 and run['step_time'] > 0
    rows = {(r['task'], r['label']): r for r in result['rows']}
    assert rows['cls', 'Full']['peak_ratio'] == pytest.approx(1.0)
    assert rows['cls', 'Full']['backbone_trainable'] == rows['cls', 'Full']['backbone_total']
    assert rows['cls', 'Fixed (random init)']['backbone_trainable'] == 0
    assert 0 < rows['cls', 'Mona']['backbone_trainable'] < rows['cls', 'Full']['backbone_trainable']
    assert len(rows['cls', 'Mona']['metrics']['accuracy/top1']['values']) == 2
    markdown = (out / 'transfer_study.md').read_text()
    assert '| swin-mini | Mona |' in markdown and 'box AP' in markdown and 'mIoU' in markdown
    assert (out / 'transfer_study.png').stat().st_size > 10000

    # resume: every run is already there, nothing trains again
    assert tool.main(argv + ['--resume']) == 0
    assert '12 runs (12 already done)' in capsys.readouterr().out
    assert json.load(open(out / 'transfer_study.json'))['runs'] == result['runs']
    # a resumed command that plans fewer rows keeps the others' runs
    fewer = [a for a in argv if a not in ('Mona', 'Fixed@random')]
    assert tool.main(fewer + ['--resume']) == 0
    assert '4 runs (4 already done)' in capsys.readouterr().out
    kept = json.load(open(out / 'transfer_study.json'))['runs']
    assert sorted(r['key'] for r in kept) == sorted(r['key'] for r in result['runs'])

    # the proportional variant resumed from it: only Mona (the one method with a width) trains again, and the table
    # shows both of its sizes
    assert tool.main(argv + ['--resume', '--sizes', 'proportional']) == 0
    assert '12 runs (8 already done)' in capsys.readouterr().out
    result = json.load(open(out / 'transfer_study.json'))
    assert len(result['runs']) == 12 + 4
    cls_rows = {r['label']: r for r in result['rows'] if r['task'] == 'cls'}
    assert set(cls_rows) == {'Full', 'Mona', 'Mona (bottleneck 12)', 'Fixed (random init)'}
    assert cls_rows['Mona (bottleneck 12)']['backbone_trainable'] < cls_rows['Mona']['backbone_trainable']
    markdown = (out / 'transfer_study.md').read_text()
    # the study's order: a method at its defaults, then its variant; the random rows last
    assert markdown.index('| swin-mini | Full |') < markdown.index('| swin-mini | Mona |') < markdown.index(
        '| swin-mini | Mona (bottleneck 12) |') < markdown.index('| swin-mini | Fixed (random init) |')


def test_a_resume_keeps_what_it_does_not_plan():
    """The runs a resumed command does not plan and the n/a rows it does not report itself stay; the rest is its
    own."""
    previous = [dict(key='cls/a', task='cls', backbone='vit-mini', label='Mona'),
                dict(key='cls/b', task='cls', backbone='vit-mini', label='Mona'),
                dict(task='coco', backbone='vit-mini', label='Mona', status='n/a'),
                dict(task='coco', backbone='vit-mini', label='Mona (bottleneck 8)', status='n/a')]
    skipped = [dict(task='coco', backbone='vit-mini', label='Mona (bottleneck 8)', status='n/a')]
    kept = _tool().kept_records(previous, {'cls/b'}, skipped)
    assert kept == [previous[0], previous[2]]


def test_checks_compare_gaps_with_the_seed_spread():
    def rec(method, init, seed, value):
        return dict(task='cls', backbone='swin-mini', method=method, init=init, label=method + init, seed=seed,
                    status='ok', metrics={'accuracy/top1': value}, backbone_trainable=0, backbone_total=1,
                    model_trainable=1, peak_bytes=1, step_time=1.0)
    records = [rec('Fixed', 'pretrained', s, v) for s, v in enumerate((80, 82, 81))]
    records += [rec('Fixed', 'random', s, v) for s, v in enumerate((40, 50, 45))]
    records += [rec('Full', 'pretrained', s, v) for s, v in enumerate((81, 83, 82))]
    records += [rec('HST', 'pretrained', s, v) for s, v in enumerate((60, 70, 65))]
    records += [rec('HST', 'random', s, v) for s, v in enumerate((58, 62, 60))]
    found = {c['check']: c for c in report.checks(report.aggregate(records))}
    assert found['pretraining']['gap'] == pytest.approx(36) and found['pretraining']['clear']
    assert found['full vs fixed']['gap'] == pytest.approx(1) and not found['full vs fixed']['clear']
    assert found['pretraining (HST)']['gap'] == pytest.approx(5) and not found['pretraining (HST)']['clear']
