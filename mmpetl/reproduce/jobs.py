"""Running a table's rows: one work directory per row, a job script per row (the same script whether it runs here,
over N local GPUs or as a Slurm job), and the state of each row read back from its work directory.

A row's work directory ``<root>/<row>`` holds, besides what the Runner writes there:

- ``reproduce.json``: what was launched (table, row, config, options, launcher, command, pid or Slurm job id, time);
- ``reproduce_job.sh``: the job script; it trains with ``tools/train.py --resume`` (so a relaunch continues from the
  newest complete checkpoint) and, when training ends, writes its exit status to ``exit_code``;
- ``reproduce.log``: the job's standard output and error.
"""
import json
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional

from ..utils.atomic import atomic_write
from .tables import ROOT, Row, Table

STATE = 'reproduce.json'
SCRIPT = 'reproduce_job.sh'
LOG = 'reproduce.log'
EXIT_CODE = 'exit_code'
LAUNCHERS = ('local', 'dist', 'slurm')
#: A line of a log that says what went wrong, searched from the end (the last error is the one that stopped the run).
ERROR_LINE = re.compile(r'(Error|Exception|error:|Killed|CANCELLED|DUE TO TIME LIMIT|Traceback)')


class ReproduceError(Exception):
    """A problem with the user's request (an unknown row, a missing file, a work directory of another config): the
    tool exits with status 2 and this message, before anything is launched."""


@dataclass
class RowStatus:
    """``state``: pending, running, failed or done; ``detail``: the job, or the log's last error."""
    row: str
    state: str
    detail: str = ''
    work_dir: str = ''


def row_dir(root: str, row: Row) -> str:
    return osp.join(root, row.name.replace('/', '_'))


def read_state(work_dir: str) -> Optional[dict]:
    path = osp.join(work_dir, STATE)
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as file:
        return json.load(file)


def check_work_dir(work_dir: str, table: Table, row: Row) -> None:
    """Refuse a work directory that holds another config's run: the one recorded in ``reproduce.json``, or a config
    the Runner dumped there (``<config name>.py``)."""
    state = read_state(work_dir)
    if state is not None and (state.get('config') != row.config or state.get('row_options') != _jsonable(
            row.cfg_options)):
        raise ReproduceError(
            f'{work_dir} holds a run of {state.get("config")} (table {state.get("table")}, row {state.get("row")}), '
            f'not of row {row.name} of table {table.name} ({row.config}): give another --work-dir, or move that '
            'directory away; nothing there is overwritten')
    if osp.isdir(work_dir):
        name = osp.basename(row.config)
        dumped = [f for f in os.listdir(work_dir) if f.endswith('.py') and f != name]
        if dumped and state is None:
            raise ReproduceError(f'{work_dir} holds the config {dumped[0]} of another run, not {name}: give another '
                                 '--work-dir, or move that directory away; nothing there is overwritten')


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def last_error(log: str) -> str:
    """The last line of ``log`` that says what went wrong, else its last non-empty line."""
    if not osp.isfile(log):
        return f'no log ({log})'
    with open(log, encoding='utf-8', errors='replace') as file:
        lines = [line.strip() for line in file.read().splitlines() if line.strip()]
    for line in reversed(lines):
        if ERROR_LINE.search(line):
            return line[:300]
    return lines[-1][:300] if lines else 'the log is empty'


def _slurm_state(job_id: str) -> Optional[str]:
    """The job's state in the Slurm queue (PENDING, RUNNING, ...), '' when it left the queue, None without squeue."""
    if shutil.which('squeue') is None:
        return None
    result = subprocess.run(['squeue', '-h', '-j', str(job_id), '-o', '%T'], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else ''


def row_status(root: str, row: Row) -> RowStatus:
    work_dir = row_dir(root, row)
    state = read_state(work_dir)
    if state is None:
        return RowStatus(row.name, 'pending', '', work_dir)
    code_file = osp.join(work_dir, EXIT_CODE)
    log = osp.join(work_dir, LOG)
    if osp.isfile(code_file):
        with open(code_file) as file:
            code = file.read().strip()
        if code == '0':
            return RowStatus(row.name, 'done', '', work_dir)
        return RowStatus(row.name, 'failed', f'exit status {code}: {last_error(log)}', work_dir)
    if state.get('job_id'):
        queue = _slurm_state(state['job_id'])
        if queue is None:
            return RowStatus(row.name, 'running', f'Slurm job {state["job_id"]} (no squeue here to check it)',
                             work_dir)
        if queue:
            return RowStatus(row.name, 'running', f'Slurm job {state["job_id"]}: {queue}', work_dir)
        return RowStatus(row.name, 'failed', f'Slurm job {state["job_id"]} left the queue without an exit status '
                         f'(cancelled, out of time or killed): {last_error(log)}', work_dir)
    if state.get('pid') and _pid_alive(int(state['pid'])):
        return RowStatus(row.name, 'running', f'pid {state["pid"]} on {state.get("host", "?")}', work_dir)
    return RowStatus(row.name, 'failed', f'interrupted (pid {state.get("pid")} ended without an exit status): '
                     f'{last_error(log)}', work_dir)


@dataclass
class LaunchOptions:
    launcher: str = 'local'
    gpus: Optional[int] = None  # dist/slurm: GPUs of a row (default: its reference's, Table.gpus_of)
    gpus_per_node: int = 8
    cpus_per_task: int = 5
    partition: Optional[str] = None
    time: Optional[str] = None
    slurm_args: str = ''
    cfg_options: Optional[Dict[str, object]] = None
    python: str = sys.executable


def _cfg_option_args(options: Dict[str, object]) -> List[str]:
    if not options:
        return []
    return ['--cfg-options'] + [f'{key}={_option_text(value)}' for key, value in options.items()]


def _option_text(value) -> str:
    """A value as mmengine's DictAction parses it back (None, numbers, strings, lists)."""
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_option_text(v) for v in value) + ']'
    return 'None' if value is None else str(value)


def train_command(row: Row, work_dir: str, opts: LaunchOptions, table: Table) -> List[str]:
    """The training command of ``row`` (as the job script runs it; the paths are absolute)."""
    config = osp.join(ROOT, row.config)
    args = [config, '--work-dir', work_dir, '--resume'] + _cfg_option_args({**row.cfg_options,
                                                                          **(opts.cfg_options or {})})
    if opts.launcher == 'local':
        return [opts.python, osp.join(ROOT, 'tools/train.py')] + args
    if opts.launcher == 'dist':
        gpus = opts.gpus or table.gpus_of(row)
        return ['bash', osp.join(ROOT, 'tools/dist_train.sh'), args[0], str(gpus)] + args[1:]
    return ['srun', '--kill-on-bad-exit=1', opts.python, '-u', osp.join(ROOT, 'tools/train.py')] + args + [
        '--launcher', 'slurm']


def job_script(table: Table, row: Row, work_dir: str, opts: LaunchOptions) -> str:
    """The job script: Slurm headers for ``slurm``; then train, and write the exit status."""
    lines = ['#!/usr/bin/env bash']
    if opts.launcher == 'slurm':
        gpus = opts.gpus or table.gpus_of(row)
        per_node = min(gpus, opts.gpus_per_node)
        lines += [f'#SBATCH --job-name=mmpetl-{table.name}-{row.name.replace("/", "-")}',
                  f'#SBATCH --output={osp.join(work_dir, LOG)}',
                  f'#SBATCH --nodes={-(-gpus // per_node)}',
                  f'#SBATCH --ntasks={gpus}',
                  f'#SBATCH --ntasks-per-node={per_node}',
                  f'#SBATCH --gres=gpu:{per_node}',
                  f'#SBATCH --cpus-per-task={opts.cpus_per_task}']
        if opts.partition:
            lines.append(f'#SBATCH --partition={opts.partition}')
        if opts.time:
            lines.append(f'#SBATCH --time={opts.time}')
        lines += [f'#SBATCH {arg}' for arg in shlex.split(opts.slurm_args)]
    lines += [
        f'# mmpetl reproduce: table {table.name}, row {row.name}',
        f'cd {shlex.quote(os.getcwd())}',
        f'export PYTHONPATH={shlex.quote(ROOT)}${{PYTHONPATH:+:$PYTHONPATH}}',
        f'export PYTHON={shlex.quote(opts.python)}',  # the interpreter of tools/dist_train.sh
        shlex.join(train_command(row, work_dir, opts, table)),
        'code=$?',
        # written atomically: status reads a complete number or none
        f'echo $code > {shlex.quote(osp.join(work_dir, EXIT_CODE))}.tmp && '
        f'mv {shlex.quote(osp.join(work_dir, EXIT_CODE))}.tmp {shlex.quote(osp.join(work_dir, EXIT_CODE))}',
        'exit $code',
    ]
    return '\n'.join(lines) + '\n'


def atomic_write_text(path: str, text: str) -> None:
    with atomic_write(path, 'w', encoding='utf-8') as file:
        file.write(text)


def _write_state(work_dir: str, state: dict) -> None:
    atomic_write_text(osp.join(work_dir, STATE), json.dumps(state, indent=2) + '\n')


def prepare_row(table: Table, row: Row, root: str, opts: LaunchOptions) -> str:
    """Write the row's job script (the work directory is created); return its path. A relaunch clears the previous
    attempt's exit status; the log is appended to, the checkpoints are kept."""
    work_dir = row_dir(root, row)
    os.makedirs(work_dir, exist_ok=True)
    script = osp.join(work_dir, SCRIPT)
    atomic_write_text(script, job_script(table, row, work_dir, opts))
    os.chmod(script, 0o755)
    if osp.isfile(osp.join(work_dir, EXIT_CODE)):
        os.remove(osp.join(work_dir, EXIT_CODE))
    return script


def _base_state(table: Table, row: Row, opts: LaunchOptions, script: str) -> dict:
    return dict(table=table.name, row=row.name, config=row.config, row_options=_jsonable(row.cfg_options),
                cfg_options=_jsonable(opts.cfg_options or {}), launcher=opts.launcher, script=script,
                gpus=None if opts.launcher == 'local' else (opts.gpus or table.gpus_of(row)),
                host=os.uname().nodename,
                launched=time.strftime('%Y-%m-%d %H:%M:%S'))


def run_local(table: Table, row: Row, root: str, opts: LaunchOptions) -> int:
    """Run the row's job script here (``local`` or ``dist``) and wait; return its exit status."""
    script = prepare_row(table, row, root, opts)
    work_dir = row_dir(root, row)
    with open(osp.join(work_dir, LOG), 'a', encoding='utf-8') as log:
        process = subprocess.Popen(['bash', script], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _write_state(work_dir, {**_base_state(table, row, opts, script), 'pid': process.pid})
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait()
            raise


def submit_slurm(table: Table, row: Row, root: str, opts: LaunchOptions) -> str:
    """``sbatch`` the row's job script; return the Slurm job id."""
    script = prepare_row(table, row, root, opts)
    work_dir = row_dir(root, row)
    result = subprocess.run(['sbatch', '--parsable', script], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'sbatch {script} failed (exit status {result.returncode}): '
                           f'{(result.stderr or result.stdout).strip()}')
    job_id = result.stdout.strip().split(';')[0]
    _write_state(work_dir, {**_base_state(table, row, opts, script), 'job_id': job_id})
    return job_id
