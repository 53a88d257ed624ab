"""tools/analysis_tools/reproduce.py: the paper tables, a toy table launched, followed and collected end to end on the
CPU through the real tools/train.py, the Slurm path with a fake ``sbatch`` (its scripts checked, not run), and the
refusals of bad input (exit status 2, nothing launched, nothing overwritten)."""
import importlib.util
import json
import os
import os.path as osp
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from conftest import ROOT
from mmpetl.datasets import make_toy_imagenet
from mmpetl.models import methods
from mmpetl.reproduce.tables import TABLES, V_PETL

TOOL = osp.join(ROOT, 'tools/analysis_tools/reproduce.py')
PAPER_TABLES = ('coco-swin-b', 'ade20k-swin-l', 'voc-swin-l', 'mona-cls', 'hst-vtab1k', 'star-swin-b')


def _load_tool():
    spec = importlib.util.spec_from_file_location('reproduce_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REPRODUCE = _load_tool()


@pytest.fixture
def tool(capsys, monkeypatch):
    """The tool's ``main`` in this process, from the repository root (its jobs still run as subprocesses):
    ``tool(*args, env={...})`` returns its exit status and output as ``returncode``, ``stdout``, ``stderr``."""
    def run(*args, env=None):
        monkeypatch.chdir(ROOT)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        try:
            code = REPRODUCE.main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=captured.out, stderr=captured.err)
    return run


@pytest.fixture(scope='module')
def toy_cls(tmp_path_factory):
    """The toy transfer classification data (6 classes), small: 4 training and 2 validation images per class."""
    root = str(tmp_path_factory.mktemp('toy_shapes_cls'))
    make_toy_imagenet(root, num_train=4, num_val=2, size=64, seed=1, styles=('filled', 'outline'))
    return root + '/'


def data_options(root):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']


def test_help_answers():
    result = subprocess.run([sys.executable, TOOL, '--help'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and 'launch' in result.stdout and 'collect' in result.stdout


def test_the_paper_tables_and_their_configs(tool):
    assert set(PAPER_TABLES) <= set(TABLES)
    for name in PAPER_TABLES:
        table = TABLES[name]
        assert table.rows and table.metrics and table.source
        assert len({row.name for row in table.rows}) == len(table.rows), f'{name}: two rows with one name'
        for row in table.rows:
            assert osp.isfile(osp.join(ROOT, row.config)), f'{name}/{row.name}: no config {row.config}'
            assert set(row.paper) <= {m.label for m in table.metrics}, (name, row.name, row.paper)
    result = tool('--list')
    assert result.returncode == 0, result.stderr
    for name in PAPER_TABLES:
        assert name in result.stdout


def test_v_petl_bench_figures_agree_with_the_methods_own():
    """The tables' V-PETL Bench figures are the ones each method class carries (``reported``), not a second copy
    that could drift: '<params> / <box> / <mask>' on COCO, '<VOC AP> / <ADE20K mIoU>' on Swin-L."""
    names = {'full': 'Full', 'fixed': 'Fixed', 'bitfit': 'BitFit', 'lntune': 'LNTune', 'partial1': 'Partial1',
             'adapter': 'Adapter', 'lora': 'LoRA', 'adaptformer': 'AdaptFormer', 'lorand': 'LoRand', 'e3va': 'E3VA',
             'mona': 'Mona'}
    for method, (params, box, mask, voc, miou) in V_PETL.items():
        reported = getattr(methods, names[method]).reported
        assert reported['coco'].value == f'{params[0]} / {box} / {mask}', method
        assert reported['swin_l'].value == f'{voc} / {miou:.2f}', method


def test_colin_rows_carry_the_methods_own_figures_and_their_source():
    """CoLin is not in V-PETL Bench: its rows' figures are the ones ``CoLin.reported`` carries ('n/a / <box> / <mask>'
    on COCO, '<VOC AP> / <ADE20K mIoU>' on Swin-L), and every table with a colin row names their third-party source."""
    reported = methods.CoLin.reported
    coco, voc, ade = (TABLES[name].row('colin').paper for name in ('coco-swin-b', 'voc-swin-l', 'ade20k-swin-l'))
    assert reported['coco'].value == f"n/a / {coco['box AP']} / {coco['mask AP']}"
    assert reported['swin_l'].value == f"{voc['AP']} / {ade['mIoU']:.2f}"
    for name in ('coco-swin-b', 'voc-swin-l', 'ade20k-swin-l', 'star-swin-b', 'mona-cls'):
        rows = [row for row in TABLES[name].rows if row.name.split('/')[0] == 'colin']
        assert rows, f'{name}: no colin row'
        assert all(osp.basename(osp.dirname(row.config)) == 'colin' for row in rows), name
        assert reported['coco'].source in TABLES[name].source, name
    assert TABLES['mona-cls'].row('colin/flowers102').paper == {'top-1': 99.66}
    assert TABLES['star-swin-b'].row('colin').paper == {'mAP': 39.22}


def test_toy_table_end_to_end(tmp_path, toy_cls, tool):
    """Launch, status, relaunch after a failure and after an interruption, and collect, on two toy rows."""
    work = str(tmp_path / 'runs')
    result = tool('status', 'toy', '--work-dir', work)
    assert result.returncode == 0 and re.search(r'fixed\s+pending', result.stdout), result.stdout

    # a row that fails: reported with the log's last error; the other row is still pending
    result = tool('launch', 'toy', '--rows', 'fixed', '--work-dir', work, *data_options(toy_cls),
                  'model.backbone.method.type=NoSuchMethod')
    assert result.returncode == 1 and '[1/1] fixed: failed' in result.stdout, result.stdout + result.stderr
    result = tool('status', 'toy', '--work-dir', work)
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith('fixed'))
    assert 'failed' in line and 'NoSuchMethod' in line, result.stdout
    assert re.search(r'mona\s+pending', result.stdout)

    # the whole table: the failed row runs again in its work directory, the pending one starts
    result = tool('launch', 'toy', '--work-dir', work, *data_options(toy_cls))
    assert result.returncode == 0, result.stdout + result.stderr
    assert '[1/2] fixed: resuming' in result.stdout and '[2/2] mona: starting' in result.stdout, result.stdout
    assert '[2/2] mona: done' in result.stdout, result.stdout
    result = tool('status', 'toy', '--work-dir', work)
    assert re.search(r'fixed\s+done', result.stdout) and re.search(r'mona\s+done', result.stdout), result.stdout
    with open(osp.join(work, 'fixed', 'reproduce.log')) as file:
        assert 'NoSuchMethod' in file.read(), 'the failed attempt\'s log was not kept'

    # a second launch trains nothing: both rows are done
    result = tool('launch', 'toy', '--work-dir', work, *data_options(toy_cls))
    assert result.returncode == 0 and 'fixed: done, skipped' in result.stdout and 'starting' not in result.stdout

    # a run whose process ended without an exit status (killed) is failed, and resumes from its last checkpoint
    os.remove(osp.join(work, 'mona', 'exit_code'))
    result = tool('status', 'toy', '--work-dir', work)
    assert re.search(r'mona\s+failed\s+interrupted', result.stdout), result.stdout
    result = tool('launch', 'toy', '--rows', 'mona', '--work-dir', work, *data_options(toy_cls))
    assert result.returncode == 0 and 'mona: resuming' in result.stdout, result.stdout + result.stderr
    with open(osp.join(work, 'mona', 'reproduce.log')) as file:
        assert re.search(r'resumed epoch: \d+, iter: 4', file.read()), 'did not resume from iter_4.pth'

    out = str(tmp_path / 'results')
    result = tool('collect', 'toy', '--work-dir', work, '--out-dir', out)
    assert result.returncode == 0, result.stderr
    with open(osp.join(out, 'toy.json')) as file:
        collected = json.load(file)
    rows = {row['row']: row for row in collected['rows']}
    for name in ('fixed', 'mona'):
        row = rows[name]
        assert row['status'] == 'done'
        assert 0.0 <= row['ours']['top-1'] <= 100.0
        assert row['time_per_iter'] > 0 and row['iterations_logged'] == 4
        assert row['paper']['top-1'] is None and 'top-1' not in row['difference']
    # Fixed trains the head and neck only, Mona its adapters too: the parameter report of each run
    assert rows['fixed']['params']['backbone_trainable'] == 0
    assert rows['mona']['params']['backbone_trainable'] > 0
    assert osp.getsize(osp.join(out, 'toy.png')) > 1000
    with open(osp.join(out, 'toy.md')) as file:
        markdown = file.read()
    assert '| fixed | done |' in markdown and 'Paper-reported' in markdown


@pytest.fixture
def fake_slurm(tmp_path):
    """``sbatch`` and ``squeue`` on the PATH that record their arguments and submit nothing."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    calls = tmp_path / 'sbatch_calls.txt'
    (bin_dir / 'sbatch').write_text(
        '#!/usr/bin/env bash\necho "$@" >> ' + str(calls) + '\necho $((4000 + $(wc -l < ' + str(calls) + ')))\n')
    (bin_dir / 'squeue').write_text('#!/usr/bin/env bash\necho RUNNING\n')
    for name in ('sbatch', 'squeue'):
        os.chmod(bin_dir / name, 0o755)
    return dict(PATH=f'{bin_dir}:{os.environ["PATH"]}'), calls


def test_slurm_submits_one_job_per_row(tmp_path, toy_cls, fake_slurm, tool):
    env, calls = fake_slurm
    work = str(tmp_path / 'runs')
    result = tool('launch', 'toy', '--launcher', 'slurm', '--partition', 'gpu-a100', '--gpus', '16', '--time',
                  '2-00:00:00', '--slurm-args=--qos=high', '--work-dir', work, *data_options(toy_cls), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'fixed: submitted as Slurm job 4001' in result.stdout and 'mona: submitted as Slurm job 4002' in \
        result.stdout, result.stdout
    submitted = calls.read_text().splitlines()
    assert len(submitted) == 2
    for name, job_id in (('fixed', '4001'), ('mona', '4002')):
        script_path = osp.join(work, name, 'reproduce_job.sh')
        assert submitted[int(job_id) - 4001] == f'--parsable {script_path}'
        script = open(script_path).read()
        for line in ('#SBATCH --partition=gpu-a100', '#SBATCH --time=2-00:00:00', '#SBATCH --ntasks=16',
                     '#SBATCH --nodes=2', '#SBATCH --ntasks-per-node=8', '#SBATCH --gres=gpu:8', '#SBATCH --qos=high',
                     f'#SBATCH --output={osp.join(work, name, "reproduce.log")}'):
            assert line in script.splitlines(), (line, script)
        command = next(line for line in script.splitlines() if line.startswith('srun'))
        assert osp.join(ROOT, 'tools/train.py') in command and '--launcher slurm' in command
        assert osp.join(ROOT, 'configs/transfer/swin-mini_toy-shapes-cls.py') in command
        assert f'--work-dir {osp.join(work, name)} --resume' in command
        assert f"model.backbone.method.type={'Fixed' if name == 'fixed' else 'Mona'}" in command
        with open(osp.join(work, name, 'reproduce.json')) as file:
            assert json.load(file)['job_id'] == job_id
    result = tool('status', 'toy', '--work-dir', work, env=env)
    assert re.search(r'mona\s+running\s+Slurm job 4002: RUNNING', result.stdout), result.stdout
    # submitted rows are not submitted again
    result = tool('launch', 'toy', '--launcher', 'slurm', '--work-dir', work, *data_options(toy_cls), env=env)
    assert result.returncode == 0 and 'running, skipped' in result.stdout and len(calls.read_text().splitlines()) == 2
    # a job that left the queue without writing its exit status failed
    (tmp_path / 'bin' / 'squeue').write_text('#!/usr/bin/env bash\nexit 0\n')
    result = tool('status', 'toy', '--work-dir', work, env=env)
    assert re.search(r'fixed\s+failed\s+Slurm job 4001 left the queue', result.stdout), result.stdout


def test_dist_dry_run_prints_the_scripts(tmp_path, toy_cls, tool):
    work = str(tmp_path / 'runs')
    result = tool('launch', 'toy', '--launcher', 'dist', '--gpus', '4', '--dry-run', '--work-dir', work,
                  *data_options(toy_cls))
    assert result.returncode == 0, result.stderr
    assert f"tools/dist_train.sh {osp.join(ROOT, 'configs/transfer/swin-mini_toy-shapes-cls.py')} 4" in result.stdout
    assert 'the reference runs used 1 GPUs' in result.stdout
    assert not osp.exists(work), 'a dry run wrote files'


def test_dist_trains_a_row_over_two_processes(tmp_path, toy_cls, tool):
    """tools/dist_train.sh with the tool's interpreter (not whatever `python` the PATH has), two processes (gloo on
    the CPU)."""
    work = str(tmp_path / 'runs')
    result = tool('launch', 'toy', '--rows', 'mona', '--launcher', 'dist', '--gpus', '2', '--work-dir', work,
                  *data_options(toy_cls), env=dict(PATH='/usr/bin:/bin'))
    assert result.returncode == 0 and '[1/1] mona: done' in result.stdout, result.stdout + result.stderr
    with open(osp.join(work, 'mona', 'reproduce.log')) as file:
        log = file.read()
    assert 'Distributed training: True' in log and log.count('the distributed backend is gloo') == 2


@pytest.mark.parametrize('args, message', [
    (('launch', 'no-such-table'), "unknown table 'no-such-table'; the tables: coco-swin-b"),
    (('status', 'coco-swin-b', '--rows', 'mona', 'vpt'), "table coco-swin-b has no row 'vpt'; its rows: full, fixed"),
    (('launch', ), 'give an action and a table'),
    (('launch', 'toy', '--launcher', 'slurm'), 'no sbatch on the PATH'),
])
def test_bad_requests_exit_2_with_the_choices(args, message, tool):
    result = tool(*args, env=dict(PATH=osp.dirname(sys.executable) + ':/usr/bin:/bin'))
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_missing_data_is_named_before_anything_starts(tmp_path, tool):
    work = str(tmp_path / 'runs')
    missing = str(tmp_path / 'nowhere') + '/'
    result = tool('launch', 'toy', '--work-dir', work, '--cfg-options', f'train_dataloader.dataset.data_root={missing}',
                  f'val_dataloader.dataset.data_root={missing}', 'model.backbone.backbone.init_cfg.checkpoint='
                  + str(tmp_path / 'none.pth'))
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'nothing was launched' in result.stderr
    for row in ('fixed', 'mona'):
        assert f'{row}: missing train_dataloader.dataset.data_root: {missing}' in result.stderr
        assert f'{row}: missing model.backbone.backbone.init_cfg.checkpoint: {tmp_path}/none.pth' in result.stderr
    assert not osp.exists(work)


def test_the_work_dir_of_another_config_is_refused(tmp_path, toy_cls, tool):
    work = tmp_path / 'runs'
    (work / 'fixed').mkdir(parents=True)
    other = dict(table='coco-swin-b', row='mona', config='configs/mona/cascade-mask-rcnn_swin-b-mona_fpn_3x_coco.py',
                 row_options={})
    (work / 'fixed' / 'reproduce.json').write_text(json.dumps(other))
    (work / 'fixed' / 'epoch_12.pth').write_bytes(b'trained weights')
    (work / 'mona').mkdir()
    (work / 'mona' / 'upernet_swin-l-mona_8xb2-160k_ade20k-512x512.py').write_text('# dumped by a Runner')
    result = tool('launch', 'toy', '--work-dir', str(work), *data_options(toy_cls))
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'holds a run of configs/mona/cascade-mask-rcnn_swin-b-mona_fpn_3x_coco.py' in result.stderr
    assert 'holds the config upernet_swin-l-mona_8xb2-160k_ade20k-512x512.py of another run' in result.stderr
    assert (work / 'fixed' / 'epoch_12.pth').read_bytes() == b'trained weights'
    assert json.loads((work / 'fixed' / 'reproduce.json').read_text()) == other
    assert sorted(os.listdir(work / 'fixed')) == ['epoch_12.pth', 'reproduce.json']
