"""Reproduce a paper table: train each row's config, follow the runs, and collect the results beside the paper's.

    reproduce.py --list                        the tables and their rows
    reproduce.py launch TABLE [--rows R ...]   train the rows not done yet (done and running rows are skipped; a
                                               failed or interrupted row resumes from its newest complete checkpoint)
    reproduce.py status TABLE                  per row: pending / running / failed (with the log's last error) / done
    reproduce.py collect TABLE                 <out-dir>/<TABLE>.{md,json,png}: the paper's figure (labelled as
                                               such, with its source), ours, the difference, trainable parameters,
                                               GPU memory and time per iteration from the logs

Launchers (launch --launcher):
    local   one row after another on this machine, `tools/train.py` (the default)
    dist    one row after another, `tools/dist_train.sh CONFIG N` over N local GPUs (--gpus; default: the reference's,
            the config name's <gpus>xb<batch>)
    slurm   one `sbatch` job per row (--partition, --gpus, --gpus-per-node, --cpus-per-task, --time, --slurm-args)

Each row trains in its own work directory, <work-dir>/<row> (default work_dirs/reproduce/<TABLE>/<row>), which also
holds the job script (reproduce_job.sh), its log (reproduce.log) and its exit status. Before anything is launched
every selected row's config, datasets and pretrained files are checked (paths relative to this directory, where the
jobs run); a missing one is named and nothing starts (exit status 2). A work directory that holds another config's
run is refused (exit status 2), and nothing trained is overwritten.

Examples:
    python tools/analysis_tools/reproduce.py launch coco-swin-b --launcher slurm --partition gpu --time 3-00:00:00
    python tools/analysis_tools/reproduce.py launch ade20k-swin-l --rows mona full --launcher dist --gpus 8
    python tools/analysis_tools/reproduce.py status coco-swin-b
    python tools/analysis_tools/reproduce.py collect coco-swin-b --out-dir results/
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402

from mmpetl.reproduce import jobs  # noqa: E402
from mmpetl.reproduce.tables import TABLES  # noqa: E402

ACTIONS = ('launch', 'status', 'collect')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('action', nargs='?', choices=ACTIONS, help='what to do with the table')
    parser.add_argument('table', nargs='?', help=f'the table: {", ".join(TABLES)} (--list for their rows)')
    parser.add_argument('--list', action='store_true', help='list the tables and their rows, then exit')
    parser.add_argument('--rows', nargs='+', help='only these rows (default: all of the table\'s)')
    parser.add_argument('--work-dir', help='the rows\' work directories go below it (default work_dirs/reproduce/'
                        '<TABLE>)')
    parser.add_argument('--out-dir', help='collect: where <TABLE>.{md,json,png} go (default: --work-dir)')
    group = parser.add_argument_group('launch')
    group.add_argument('--launcher', choices=jobs.LAUNCHERS, default='local', help='local (default), dist or slurm')
    group.add_argument('--gpus', type=int, help='GPUs per row for dist and slurm (default: the reference run\'s, '
                       'as its config name states; another count changes the total batch)')
    group.add_argument('--gpus-per-node', type=int, default=8, help='slurm: GPUs per node (default 8)')
    group.add_argument('--cpus-per-task', type=int, default=5, help='slurm: CPUs per task (default 5)')
    group.add_argument('--partition', help='slurm: the partition')
    group.add_argument('--time', help='slurm: the time limit of each job (e.g. 2-00:00:00)')
    group.add_argument('--slurm-args', default='', help='slurm: more sbatch options, e.g. "--qos=high --account=x"')
    group.add_argument('--cfg-options', nargs='+', action=DictAction,
                       help='settings merged into every selected row\'s config, as tools/train.py --cfg-options')
    group.add_argument('--dry-run', action='store_true', help='check the rows and print the job scripts; launch '
                       'nothing and write nothing')
    args = parser.parse_args(argv)
    if args.list:
        return parser, args
    if args.action is None or args.table is None:
        parser.error('give an action and a table (launch, status or collect TABLE), or --list; tables: '
                     + ', '.join(TABLES))
    if args.table not in TABLES:
        parser.error(f'unknown table {args.table!r}; the tables: {", ".join(TABLES)}')
    table = TABLES[args.table]
    names = [row.name for row in table.rows]
    unknown = [name for name in args.rows or [] if name not in names]
    if unknown:
        parser.error(f'table {table.name} has no row {", ".join(map(repr, unknown))}; its rows: {", ".join(names)}')
    args.selected = [table.row(name) for name in args.rows] if args.rows else list(table.rows)
    if args.gpus is not None and args.gpus < 1:
        parser.error(f'--gpus must be at least 1; got {args.gpus}')
    args.work_dir = osp.abspath(args.work_dir or osp.join('work_dirs', 'reproduce', table.name))
    args.out_dir = osp.abspath(args.out_dir or args.work_dir)
    if args.action == 'launch' and args.launcher == 'slurm' and not args.dry_run and shutil.which('sbatch') is None:
        parser.error('--launcher slurm: no sbatch on the PATH (run it on the cluster\'s login node)')
    return parser, args


def list_tables() -> None:
    for table in TABLES.values():
        print(f'{table.name}: {table.title}')
        print(f'    paper figures: {table.source}')
        for row in table.rows:
            print(f'    {row.name:<28} {row.config} ({table.gpus_of(row)} GPUs)')


def print_status(table, rows, root) -> None:
    print(f'{table.name}: {root}')
    for row in rows:
        status = jobs.row_status(root, row)
        print(f'  {row.name:<28} {status.state:<8} {status.detail}')


def launch(parser, args, table) -> int:
    from mmpetl.reproduce.checks import missing_files
    opts = jobs.LaunchOptions(launcher=args.launcher, gpus=args.gpus, gpus_per_node=args.gpus_per_node,
                              cpus_per_task=args.cpus_per_task, partition=args.partition, time=args.time,
                              slurm_args=args.slurm_args, cfg_options=args.cfg_options)
    # every check before the first launch: nothing starts when one row cannot
    problems, todo = [], []
    for row in args.selected:
        work_dir = jobs.row_dir(args.work_dir, row)
        try:
            jobs.check_work_dir(work_dir, table, row)
        except jobs.ReproduceError as err:
            problems.append(f'{row.name}: {err}')
            continue
        status = jobs.row_status(args.work_dir, row)
        if status.state in ('done', 'running'):
            print(f'{row.name}: {status.state}, skipped {status.detail}'.rstrip())
            continue
        problems += [f'{row.name}: missing {line}' for line in missing_files(row, args.cfg_options)]
        todo.append((row, status))
    if problems:
        parser.exit(2, f'{parser.prog}: error: nothing was launched:\n  ' + '\n  '.join(problems) + '\n')
    expected = sorted({table.gpus_of(row) for row, _ in todo})
    if args.launcher != 'local' and args.gpus and expected and expected != [args.gpus]:
        print(f'warning: the reference runs used {"/".join(map(str, expected))} GPUs; with {args.gpus} the total '
              'batch differs from the reference (the config names state the batch per GPU)')
    if args.dry_run:
        for row, _ in todo:
            print(f'--- {jobs.row_dir(args.work_dir, row)}/{jobs.SCRIPT}')
            print(jobs.job_script(table, row, jobs.row_dir(args.work_dir, row), opts))
        return 0
    failed = 0
    for index, (row, status) in enumerate(todo, 1):
        how = 'resuming' if status.state == 'failed' else 'starting'
        log = osp.join(jobs.row_dir(args.work_dir, row), jobs.LOG)
        if args.launcher == 'slurm':
            job_id = jobs.submit_slurm(table, row, args.work_dir, opts)
            print(f'[{index}/{len(todo)}] {row.name}: submitted as Slurm job {job_id} ({how}; log: {log})')
            continue
        print(f'[{index}/{len(todo)}] {row.name}: {how} ({row.config}; log: {log})', flush=True)
        started = time.time()
        code = jobs.run_local(table, row, args.work_dir, opts)
        minutes = (time.time() - started) / 60
        if code == 0:
            print(f'[{index}/{len(todo)}] {row.name}: done in {minutes:.1f} min', flush=True)
        else:
            failed += 1
            print(f'[{index}/{len(todo)}] {row.name}: failed after {minutes:.1f} min (exit status {code}): '
                  f'{jobs.last_error(log)}', flush=True)
    return 1 if failed else 0


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    if args.list:
        list_tables()
        return 0
    table = TABLES[args.table]
    if args.action == 'status':
        print_status(table, args.selected, args.work_dir)
        return 0
    if args.action == 'collect':
        from mmpetl.reproduce.collect import collect, to_markdown, write_results
        result = collect(table, args.work_dir, args.selected)
        os.makedirs(args.out_dir, exist_ok=True)
        paths = write_results(result, args.out_dir)
        print(to_markdown(result))
        print('written: ' + ', '.join(paths.values()))
        return 0
    return launch(parser, args, table)


if __name__ == '__main__':
    sys.exit(main())
