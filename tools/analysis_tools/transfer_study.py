"""The transfer study: every PETL method fine-tunes mmpetl's small pretrained backbones on the same downstream tasks,
with the same schedule, data and seeds, through the real Runners and metrics; the results side by side.

Tasks (configs/transfer/; datasets generated under --data-root when absent), each with seeds 0, 1 and 2:
    cls     classification of 6 shape classes unseen in pretraining (mmpretrain, top-1)
    coco    instance segmentation on toy COCO (mmdet Mask R-CNN, box / mask AP)
    ade20k  semantic segmentation on toy ADE20K (mmseg UperNet, mIoU)
Rows: swin-mini with Full, Fixed, Mona, E3VA, LoRA, Adapter, AdaptFormer, LoRand, BitFit, LNTune, Partial1, CoLin;
vit-mini with Full, Fixed, HST, Mona, LoRA, CoLin (on coco and ade20k only HST: a plain ViT has one map); and
Fixed@random on each, HST@random on vit-mini (on the randomly initialised backbone: what pretraining brings).
--sizes proportional runs the variant whose method widths are scaled to the small backbones (labelled with them:
"Mona (bottleneck 12)"). The runs of methods without a width (Full, Fixed, BitFit, HST, ...) are the same at both sizes
and keep their key: resumed from a copy of the default study's JSON, the variant runs only the methods with widths and
its table shows both sizes side by side.

Writes <out-dir>/transfer_study.{md,json,png}: per task the metric (mean ± std over seeds), the trainable backbone
parameters, and peak memory and step time as ratios to Full measured in the same run; the plot shows the metric
against the trainable parameters. Results are saved after every run: --resume continues an interrupted study.

Examples:
    python tools/analysis_tools/transfer_study.py                      # the whole study (about 2 h on 2 cores)
    python tools/analysis_tools/transfer_study.py --quick              # a few rows, shorter schedules, one seed
    python tools/analysis_tools/transfer_study.py --tasks cls --methods Full Fixed Mona --seeds 0 1 2 3 4
    mkdir -p work_dirs/proportional && cp work_dirs/transfer_study/transfer_study.json work_dirs/proportional/
    python tools/analysis_tools/transfer_study.py --sizes proportional --out-dir work_dirs/proportional --resume
    python tools/analysis_tools/transfer_study.py --tasks coco --methods Fixed Fixed@random \\
        --pretrained swin-mini=work_dirs/candidate/swin.pth            # another pretraining, side by side
    python tools/analysis_tools/transfer_study.py --tasks coco --out-dir work_dirs/fpn_bn \
        --cfg-options model.neck.norm_cfg.type=BN                       # a variant of a task, for every row
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    from mmengine.config import DictAction

    from mmpetl.study.plan import DEFAULT_METHODS, TASKS
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tasks', nargs='+', default=list(TASKS), help=f'tasks (default: all of {", ".join(TASKS)})')
    parser.add_argument('--backbones', nargs='+', default=list(DEFAULT_METHODS),
                        help=f'backbones (default: {" ".join(DEFAULT_METHODS)})')
    parser.add_argument('--methods', nargs='+',
                        help='methods (default: the study\'s list per backbone); METHOD@random for the random init; '
                        'METHOD:OPTION=VALUE[,OPTION=VALUE...] for a method with options of its own (a row of its '
                        'own, labelled with them: LoRand:bias_init=zeros, Mona:bottleneck=8@random)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='seeds of the headline task (default 0 1 2)')
    parser.add_argument('--other-seeds', nargs='+', type=int,
                        help='seeds of the other tasks (default: those of --seeds)')
    parser.add_argument('--headline', default='cls', help='the task run with --seeds (default cls)')
    parser.add_argument('--iters-scale', type=float, default=1.0,
                        help='scale every task\'s schedule (default 1: the configs\' iterations)')
    parser.add_argument('--quick', action='store_true',
                        help='Full, Fixed, Mona and Fixed@random on swin-mini and HST on vit-mini, one seed, a third '
                        'of the iterations (4.4 minutes on 2 cores, measured)')
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data/transfer'),
                        help='the downstream datasets (written there when absent; default data/transfer)')
    parser.add_argument('--out-dir', default=osp.join(ROOT, 'work_dirs/transfer_study'),
                        help='where transfer_study.{md,json,png} go (default work_dirs/transfer_study)')
    parser.add_argument('--work-dir', help='the runs\' logs (default <out-dir>/runs)')
    parser.add_argument('--resume', action='store_true',
                        help='keep the runs already in <out-dir>/transfer_study.json (those this command does not '
                        'plan too) and run only the others')
    parser.add_argument('--sizes', choices=['default', 'proportional'], default='default',
                        help='method sizes: mmpetl\'s defaults (set for Swin-B/ViT-B), or each width option '
                        '(bottleneck, rank, inner width) scaled by the small backbone\'s width over the reference '
                        'backbone\'s (swin-mini x 3/16, vit-mini x 1/8; mmpetl/study/plan.py); default: default')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                        help='change every run\'s config (merged before the run\'s own method, seed, schedule and '
                        'data), e.g. model.neck.norm_cfg.type=GN model.neck.norm_cfg.num_groups=32: a variant of the '
                        'tasks, the same for every row; give it its own --out-dir')
    parser.add_argument('--pretrained', nargs='+', metavar='BACKBONE=RELEASE', default=[],
                        help='another pretraining of a backbone (a .pth published by tools/misc/pretrain_backbone.py, '
                        'with its library files beside it) instead of the shipped one, to compare pretrainings')
    args = parser.parse_args(argv)
    if args.other_seeds is None:
        args.other_seeds = list(args.seeds)
    if args.quick:
        args.seeds, args.other_seeds, args.iters_scale = args.seeds[:1], args.other_seeds[:1], args.iters_scale / 3
    if not 0 < args.iters_scale <= 10:
        parser.error(f'--iters-scale must be in (0, 10]; got {args.iters_scale}')
    try:
        args.releases = parse_releases(args.pretrained)
    except ValueError as err:
        parser.error(str(err))
    try:
        args.runs, args.skipped = make_plan(args)
    except ValueError as err:
        parser.error(str(err))
    return args


def make_plan(args):
    """The runs, and the rows that the task's head cannot take (reported as n/a), after every check."""
    from mmpetl.study.plan import (DEFAULT_METHODS, NOT_FITTING, QUICK_METHODS, TASKS, PlanError, Row, Run,
                                   check_choice, row_fits)
    check_choice('task', args.tasks, list(TASKS))
    check_choice('backbone', args.backbones, list(DEFAULT_METHODS))
    if args.headline not in TASKS:
        raise PlanError(f'unknown headline task {args.headline!r}; valid choices: {", ".join(TASKS)}')
    if min(args.seeds + args.other_seeds) < 0:
        raise PlanError('seeds must be >= 0')
    rows = []
    for backbone in args.backbones:
        if args.methods:
            specs = args.methods
        else:
            specs = (QUICK_METHODS if args.quick else DEFAULT_METHODS)[backbone]
        rows += [Row.parse(backbone, spec) for spec in specs]
    check_methods(rows, args.sizes)
    runs, skipped = [], []
    for task_name in args.tasks:
        task = TASKS[task_name]
        seeds = args.seeds if task_name == args.headline else args.other_seeds
        for row in rows:
            if not row_fits(task, row):
                skipped.append(dict(task=task_name, backbone=row.backbone, method=row.method, init=row.init,
                                    label=Run(task_name, row, 0, 0, args.sizes).label, status='n/a',
                                    reason=NOT_FITTING, seed=None))
                continue
            iters = max(2, round(config_iters(task_name, row.backbone) * args.iters_scale))
            runs += [Run(task_name, row, seed, iters, args.sizes) for seed in seeds]
    if not runs:
        raise PlanError('nothing to run: the chosen tasks cannot take the chosen methods on the chosen backbones ('
                        + NOT_FITTING + ')')
    check_inputs(runs, args.data_root)
    return runs, skipped


def parse_releases(specs):
    """``['swin-mini=FILE', ...]`` -> ``{'swin-mini': absolute FILE}``; every file of each release must exist."""
    from mmpetl.models.small_backbones import SMALL_BACKBONES, library_checkpoint
    from mmpetl.study.plan import PlanError
    releases = {}
    for spec in specs:
        backbone, sep, path = spec.partition('=')
        if not sep or not path:
            raise PlanError(f'--pretrained {spec!r}: give BACKBONE=RELEASE, as swin-mini=checkpoints/x.pth')
        if backbone not in SMALL_BACKBONES:
            raise PlanError(f'--pretrained {spec!r}: unknown backbone {backbone!r}; valid choices: '
                            f'{", ".join(sorted(SMALL_BACKBONES))}')
        path = osp.abspath(path)
        for library in ('mmpretrain', ) + tuple(SMALL_BACKBONES[backbone]['libraries']):
            if not osp.isfile(library_checkpoint(path, library)):
                raise PlanError(f'--pretrained {spec!r}: {library_checkpoint(path, library)} is missing (make the '
                                f'release with `python tools/misc/pretrain_backbone.py {backbone} --out ...`)')
        releases[backbone] = path
    return releases


def config_iters(task: str, backbone: str) -> int:
    from mmpetl.study.plan import task_config
    return task_config(task, backbone).train_cfg.max_iters


def check_methods(rows, sizes: str = 'default') -> None:
    """Every method is known, its initialisation is 'pretrained' or 'random', and it attaches to its backbone
    (checked by building the PETL backbone of the first task's config, without weights)."""
    from mmpetl.models.petl_backbone import available_methods
    from mmpetl.study.plan import PlanError, Run, attach_problem, check_choice
    check_choice('method', sorted({row.method for row in rows}), available_methods())
    check_choice('initialisation (METHOD@INIT)', sorted({row.init for row in rows}), ['pretrained', 'random'])
    for row in rows:
        problem = attach_problem(row, sizes)
        if problem:
            raise PlanError(f'method {Run("cls", row, 0, 0, sizes).label} cannot attach to {row.backbone}: {problem}')


def check_inputs(runs, data_root: str) -> None:
    """The pretrained checkpoints exist; each dataset under ``data_root`` is complete or absent (then written)."""
    from mmpetl.study.plan import TASKS, PlanError, dataset_problem, task_config
    for run in runs:
        if run.row.init != 'pretrained':
            continue
        init_cfg = task_config(run.task, run.row.backbone).model.backbone.backbone.init_cfg
        checkpoint = osp.join(ROOT, init_cfg['checkpoint'])
        if not osp.isfile(checkpoint):
            raise PlanError(f'the pretrained {run.row.backbone} checkpoint {checkpoint} is missing: make it with '
                            f'`python tools/misc/pretrain_backbone.py {run.row.backbone}`')
    for task_name in sorted({run.task for run in runs}):
        task = TASKS[task_name]
        if osp.exists(osp.join(data_root, task.folder)):
            problem = dataset_problem(task, data_root)
            if problem:
                raise PlanError(f'the {task_name} dataset is incomplete ({problem}); remove the folder to have it '
                                'written again')


def machine() -> str:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__.split("+")[0]}, no GPU used'


def main(argv=None):
    args = parse_args(argv)
    from mmpetl.study import report
    from mmpetl.study.plan import TASKS, dataset_problem
    from mmpetl.study.run import execute

    json_path = osp.join(args.out_dir, 'transfer_study.json')
    previous = {}
    if args.resume and osp.isfile(json_path):
        with open(json_path) as f:
            previous = json.load(f)
    settings = study_settings(args)
    for name, value in settings.items():  # what changes every run must be what the kept runs had
        if previous and previous['meta'].get(name, {}) != value:
            print(f'transfer_study.py: error: the study in {args.out_dir} was made with {name} '
                  f'{previous["meta"].get(name, {})}, not {value}: resume it with the same, or give another '
                  '--out-dir', file=sys.stderr)
            return 2
    os.makedirs(args.out_dir, exist_ok=True)
    work_dir = args.work_dir or osp.join(args.out_dir, 'runs')
    for task_name in sorted({run.task for run in args.runs}):
        task = TASKS[task_name]
        if dataset_problem(task, args.data_root):
            print(f'[study] writing the {task_name} dataset to {osp.join(args.data_root, task.folder)}', flush=True)
            task.make_data(osp.join(args.data_root, task.folder))
    done = {rec['key']: rec for rec in previous.get('runs', []) if rec['status'] == 'ok'}
    planned = {run.key for run in args.runs}
    records = kept_records(previous.get('runs', []), planned, args.skipped)
    start = time.time()
    todo = [run for run in args.runs if run.key not in done]
    print(f'[study] {len(args.runs)} runs ({len(args.runs) - len(todo)} already done), '
          f'{len(args.skipped)} rows n/a; results in {args.out_dir}', flush=True)
    meta = dict(date=datetime.date.today().isoformat(), machine=machine(), command='python '
                + ' '.join([osp.relpath(__file__, ROOT)] + (sys.argv[1:] if argv is None else list(argv))),
                mode='quick' if args.quick else 'full', sizes=args.sizes, minutes=0.0)
    meta.update({name: value for name, value in settings.items() if value})
    if previous:  # the study that made the runs kept; this command only adds to it
        meta.update(date=previous['meta']['date'], command=previous['meta']['command'],
                    resumed_by=meta['command'])
    count = 0
    for run in args.runs:
        if run.key in done:
            records.append(done[run.key])
            continue
        count += 1
        eta = ''
        if count > 1:
            eta = f', about {(time.time() - start) / (count - 1) * (len(todo) - count + 1) / 60:.0f} min left'
        print(f'[study] ({count}/{len(todo)}{eta}) {run.task} / {run.row.backbone} / {run.label} / seed '
              f'{run.seed} / {run.max_iters} iterations', flush=True)
        try:
            rec = execute(run, osp.join(work_dir, run.key.replace('/', '_')), args.data_root, args.releases,
                          args.cfg_options)
        except Exception as err:  # noqa: BLE001 -- one failed run is reported, the study goes on
            reason = f'{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ""}'
            print(f'[study]     FAILED: {reason}', flush=True)
            rec = dict(key=run.key, task=run.task, backbone=run.row.backbone, method=run.row.method,
                       init=run.row.init, label=run.label, seed=run.seed, max_iters=run.max_iters, sizes=run.sizes,
                       status='failed', reason=reason)
        else:
            task = TASKS[run.task]
            print('[study]     ' + ', '.join(f'{title} {rec["metrics"][key]:.1f}' for key, title in task.metrics)
                  + f'; {rec["backbone_trainable"]:,} trainable in the backbone; step {rec["step_time"]:.2f} s; '
                  f'{rec["seconds"]:.0f} s', flush=True)
        records.append(rec)
        meta['minutes'] = sum(r.get('seconds', 0) for r in records) / 60
        write_json(json_path, meta, records + args.skipped)
    meta['minutes'] = sum(r.get('seconds', 0) for r in records) / 60  # the runs' own time, resumed or not
    rows = report.aggregate(records + args.skipped)
    write_json(json_path, meta, records + args.skipped, rows)
    markdown = report.to_markdown(rows, meta)
    with open(osp.join(args.out_dir, 'transfer_study.md'), 'w') as f:
        f.write(markdown + '\n')
    report.plot(rows, osp.join(args.out_dir, 'transfer_study.png'))
    print('\n' + markdown)
    print(f'[study] wrote {args.out_dir}/transfer_study.{{md,json,png}}')
    failed = [rec['key'] for rec in records if rec['status'] == 'failed']
    if failed:
        print(f'[study] {len(failed)} run(s) failed (see above and the JSON): {", ".join(failed)}')
    return 1 if failed else 0


def kept_records(previous, planned, skipped):
    """The records of ``previous`` that a resumed command keeps as they are: the runs it does not plan (another
    --methods, --tasks, --sizes), and the rows their tasks could not take (n/a) that it does not report itself."""
    reported = {(rec['task'], rec['backbone'], rec['label']) for rec in skipped}
    return [rec for rec in previous if (rec['key'] not in planned if 'key' in rec else
                                        (rec['task'], rec['backbone'], rec['label']) not in reported)]


def study_settings(args) -> dict:
    """What changes every run of the study, as its JSON's meta records it."""
    settings = dict(pretrained={backbone: osp.relpath(path, ROOT) for backbone, path in args.releases.items()},
                    cfg_options=dict(args.cfg_options))
    return json.loads(json.dumps(settings))  # as the JSON gives it back (tuples as lists)


def write_json(path: str, meta, records, rows=None) -> None:
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(meta=meta, runs=records, rows=rows), f, indent=1)
    os.replace(tmp, path)


if __name__ == '__main__':
    sys.exit(main())
