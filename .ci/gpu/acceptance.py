"""The GPU acceptance run: on a GPU machine without network, build mmpetl's environment from a carried folder, then
run the CUDA tests, the efficiency benchmark and a short --amp training, and write every figure and log into one
results folder (docs/gpu.md).

Runs with the machine's own Python and torch (a CUDA build; nothing here imports torch or mmpetl: every step is a
subprocess, with its own timeout and log; a failed step is recorded and the run goes on):

  setup (not counted in the budget; a second call on the same machine reuses it):
    environment  GPU, driver, Python, torch, nvcc, the bundle's manifest              -> environment.txt
    install      the bundle's wheels into --site (pip --no-index --no-deps --target)
    mmcv         mmcv 2.1.0 with its CUDA ops: already importable, a carried wheel that loads, or built here from the
                 carried sdist by tools/build_mmcv.sh (the toolkit found from nvcc, the GPU's architecture, C++20)
    imports      mmcv.ops, mmdet, mmseg, mmpretrain, mmpetl import; CUDA version mmcv was compiled with
  run (within --budget-s, 480 s by default; each step's timeout is cut to what is left):
    test_cuda    pytest tests/test_cuda.py                                            -> logs/test_cuda.log
    benchmark    tools/analysis_tools/benchmark_petl.py: Swin-B Cascade Mask R-CNN, 1024x1024, Full, Fixed, Mona,
                 Mona:fused=False (the reference formulation), Mona and LoRA with lean frozen blocks, E3VA
                                                                                        -> benchmark/*.md|json|png
    train_amp    tools/train.py --amp: the demo config (Mona, Cascade Mask R-CNN) on toy COCO, its 80 iterations,
                 then CocoMetric                                                       -> train_amp/summary.json
    mona_micro   Mona's convolution path, fused against the reference                  -> benchmark/mona_micro.*
  then summary.md / summary.json, and the folder as one .tar.gz (--archive).

--device cpu --quick runs every step's plumbing on this machine kind on tiny settings (no GPU; the CPU training step
leaves out --amp: mmengine 0.10.7's AmpOptimWrapper needs a GPU).

Examples:
    python3 .ci/gpu/acceptance.py                           # on the GPU machine (carrying .ci/gpu/bundle): setup, run
    python3 .ci/gpu/acceptance.py --setup-only              # two device calls: setup first,
    python3 .ci/gpu/acceptance.py --skip-setup --archive $OUT/gpu_acceptance.tar.gz         # then the run
    .venv/bin/python .ci/gpu/acceptance.py --device cpu --quick --bundle /tmp/bundle311     # plumbing, here
    python3 .ci/gpu/acceptance.py --dry-run                 # the plan and the CUDA build settings
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))  # .ci/gpu/acceptance.py
BUILD_MMCV = osp.join(ROOT, 'tools/build_mmcv.sh')
BENCH_CONFIG = 'configs/_base_/cascade-mask-rcnn_swin-b_fpn_4conv1fc-giou_ms-crop-3x_coco.py'
DEMO_CONFIG = 'configs/demo/cascade-mask-rcnn_swin-mini-mona_fpn_toy-coco.py'  # also --quick's benchmark config
METHODS = ['Full', 'Fixed', 'Mona', 'Mona:fused=False', 'Mona@lean=None', 'LoRA@lean=None', 'E3VA']
MMCV_VERSION = '2.1.0'
#: The architecture of mmcv's CUDA build when no GPU is visible (a --dry-run here): the H200's.
FALLBACK_ARCH = '9.0'
SETUP_STEPS = ['environment', 'install', 'mmcv', 'imports']
RUN_STEPS = ['test_cuda', 'benchmark', 'train_amp', 'mona_micro']
#: The CPU demo's figures (README, `make demo`: 80 iterations, float32, 8 toy val images), for comparison.
CPU_DEMO = {'coco/bbox_mAP': 0.372, 'coco/segm_mAP': 0.450}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--bundle', default=osp.join(ROOT, '.ci/gpu/bundle'),
                        help='the carried folder made by .ci/gpu/prepare_bundle.sh (default .ci/gpu/bundle)')
    parser.add_argument('--results', default=osp.join(ROOT, 'work_dirs/gpu_acceptance'),
                        help='the results folder (default work_dirs/gpu_acceptance; emptied first)')
    parser.add_argument('--archive', help='write the results folder as this .tar.gz too (default <results>.tar.gz)')
    parser.add_argument('--site', default=osp.join(ROOT, 'work_dirs/gpu_site'),
                        help='where the wheels are installed (pip --target; default work_dirs/gpu_site, which a '
                        'device call keeps between calls on the same machine)')
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'], help='default cuda')
    parser.add_argument('--quick', action='store_true', help='tiny settings: the plumbing of every step')
    parser.add_argument('--python', default=sys.executable,
                        help='the interpreter that holds torch (default: this one)')
    parser.add_argument('--budget-s', type=float, default=480.0,
                        help='seconds for the run steps together, setup excluded (default 480: with a carried mmcv '
                        'wheel, setup and run fit one 10-minute device call)')
    parser.add_argument('--steps', help=f'a comma-separated subset of {",".join(SETUP_STEPS + RUN_STEPS)}')
    stage = parser.add_mutually_exclusive_group()
    stage.add_argument('--setup-only', action='store_true', help='only the setup steps')
    stage.add_argument('--skip-setup', action='store_true',
                       help='only the run steps (after a --setup-only call on the same machine)')
    parser.add_argument('--build-mmcv', action='store_true',
                        help='build mmcv from the carried sdist even when one is importable or carried')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the plan and the mmcv build settings; run nothing')
    args = parser.parse_args(argv)
    if args.steps:
        unknown = sorted(set(args.steps.split(',')) - set(SETUP_STEPS + RUN_STEPS))
        if unknown:
            parser.error(f'--steps: unknown {", ".join(unknown)}; choose from {", ".join(SETUP_STEPS + RUN_STEPS)}')
    args.bundle, args.results, args.site = (osp.abspath(p) for p in (args.bundle, args.results, args.site))
    if osp.realpath(ROOT).startswith(osp.realpath(args.results).rstrip('/') + '/') or \
            osp.realpath(args.results) in (osp.realpath(ROOT), '/'):
        parser.error(f'--results {args.results}: the folder is emptied first; give one of its own')
    args.archive = osp.abspath(args.archive) if args.archive else args.results.rstrip('/') + '.tar.gz'
    return args


class Acceptance:

    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.cuda = args.device == 'cuda'
        self.records = []
        self.run_started = None
        self.logs = osp.join(args.results, 'logs')
        self.work = osp.join(args.results, 'work')  # data, work dirs; left out of the archive
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join([args.site, ROOT]), PYTHONUNBUFFERED='1',
                        KINETO_LOG_LEVEL='5', MPLBACKEND='Agg')
        self.env.pop('PYTHONHOME', None)

    # -------------------------------------------------------------------------------------------------------------
    # running and recording

    def remaining(self):
        if self.run_started is None:
            return None
        return self.args.budget_s - (time.time() - self.run_started)

    def execute(self, name, cmd, timeout, log=None, env=None, cwd=ROOT):
        """Run ``cmd`` (a list) with its own timeout, output to ``log``; the whole process group is ended at the
        timeout. Returns (returncode or None on timeout, seconds)."""
        log = log or osp.join(self.logs, f'{name}.log')
        start = time.time()
        with open(log, 'a') as out:
            out.write(f'$ {" ".join(cmd)}\n')
            out.flush()
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env or self.env, cwd=cwd,
                                    start_new_session=True)
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                    try:
                        os.killpg(proc.pid, sig)
                        proc.wait(timeout=wait)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
                out.write(f'\n[acceptance] stopped at its timeout of {timeout:.0f} s\n')
                rc = None
        return rc, time.time() - start

    def record(self, name, status, seconds=0.0, timeout=None, note='', **figures):
        entry = dict(step=name, status=status, seconds=round(seconds, 1), timeout=timeout, note=note,
                     log=f'logs/{name}.log' if osp.exists(osp.join(self.logs, f'{name}.log')) else None, **figures)
        self.records.append(entry)
        print(f'[acceptance] {name}: {status} ({seconds:.0f} s){" - " + note if note else ""}', flush=True)
        self.write_summary()
        return entry

    def timed(self, name, cmd, timeout, **kwargs):
        """Run a step's command with ``timeout`` cut to the budget that is left; record it unless it succeeded
        (the caller records success with its figures). Returns (ok, seconds, timeout used)."""
        remaining = self.remaining()
        if remaining is not None:
            if remaining < 20:
                self.record(name, 'skipped', note=f'the budget of {self.args.budget_s:.0f} s is spent')
                return False, 0.0, 0
            timeout = min(timeout, remaining)
        rc, seconds = self.execute(name, cmd, timeout, **kwargs)
        if rc == 0:
            return True, seconds, round(timeout)
        status = 'timeout' if rc is None else 'failed'
        self.record(name, status, seconds, round(timeout), note=self.tail(name))
        return False, seconds, round(timeout)

    def tail(self, name, lines=3):
        try:
            with open(osp.join(self.logs, f'{name}.log'), errors='replace') as f:
                text = [line.strip() for line in f.read().splitlines() if line.strip()]
        except OSError:
            return ''
        return ' | '.join(text[-lines:])[-400:]

    def python(self, *args):
        return [self.args.python, *args]

    def probe(self, code, timeout=180):
        """Run python code in the environment; (ok, stdout)."""
        try:
            out = subprocess.run(self.python('-c', code), env=self.env, cwd=ROOT, capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return False, 'timeout'
        return out.returncode == 0, (out.stdout + ('' if out.returncode == 0 else out.stderr)).strip()

    # -------------------------------------------------------------------------------------------------------------
    # setup

    def step_environment(self):
        start = time.time()
        lines = [f'date: {time.strftime("%Y-%m-%d %H:%M:%S %Z")}', f'host: {platform.node()} {platform.machine()}',
                 f'cpus: {os.cpu_count()}', f'python: {self.args.python}', f'device: {self.args.device}',
                 f'quick: {self.quick}', f'budget_s: {self.args.budget_s}']
        commands = {
            'nvidia-smi': ['nvidia-smi', '--query-gpu=name,memory.total,driver_version,compute_cap', '--format=csv'],
            'nvcc': ['nvcc', '--version'],
            'git': ['git', '-C', ROOT, 'log', '-1', '--format=%H %cI %s'],
        }
        for label, cmd in commands.items():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                lines.append(f'{label}: {(out.stdout or out.stderr).strip()}')
            except (OSError, subprocess.TimeoutExpired) as err:
                lines.append(f'{label}: not available ({err})')
        ok, torch_info = self.probe('import sys, torch; print("python", sys.version.split()[0]); '
                                    'print("torch", torch.__version__, "cuda", torch.version.cuda, '
                                    '"available", torch.cuda.is_available()); '
                                    'print("gpu", torch.cuda.get_device_name(0) '
                                    'if torch.cuda.is_available() else None)')
        lines.append(torch_info)
        manifest = osp.join(self.args.bundle, 'MANIFEST.txt')
        if osp.exists(manifest):
            with open(manifest) as f:
                lines += ['bundle manifest:'] + ['  ' + line.rstrip() for line in f]
        else:
            lines.append(f'bundle: no {manifest}')
        with open(osp.join(self.args.results, 'environment.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        facts = dict(re.findall(r'^(torch|gpu) (.*)$', torch_info, flags=re.M))
        if not ok:
            return self.record('environment', 'failed', time.time() - start,
                               note=f'torch does not import: {torch_info}')
        if self.cuda and 'available True' not in torch_info:
            return self.record('environment', 'failed', time.time() - start,
                               note='torch sees no GPU (--device cpu runs the plumbing without one)')
        return self.record('environment', 'ok', time.time() - start, note=f'torch {facts.get("torch", "?")}; '
                           f'gpu {facts.get("gpu", "none")}')

    def bundle_wheels(self):
        return sorted(glob.glob(osp.join(self.args.bundle, 'wheels', '*.whl')))

    def step_install(self):
        wheels = [w for w in self.bundle_wheels() if not osp.basename(w).startswith('mmcv-')]
        if not wheels:
            return self.record('install', 'failed', note=f'no wheels in {self.args.bundle}/wheels: run '
                               '.ci/gpu/prepare_bundle.sh and carry its folder')
        os.makedirs(self.args.site, exist_ok=True)
        cmd = self.python('-m', 'pip', 'install', '--disable-pip-version-check', '--no-index', '--no-deps',
                          '--no-compile', '--no-cache-dir', '--upgrade', '--target', self.args.site, *wheels)
        rc, seconds = self.execute('install', cmd, 300)
        if rc != 0:
            return self.record('install', 'failed' if rc else 'timeout', seconds, 300, note=self.tail('install'))
        self.hide_transformers()
        return self.record('install', 'ok', seconds, 300, note=f'{len(wheels)} wheels into {self.args.site}')

    def hide_transformers(self):
        """Make mmpretrain see no usable ``transformers`` (a recent one breaks ``import mmpretrain.models``; the GPU
        machine's image has one). mmpretrain imports its multimodal models only
        if the ``transformers`` distribution's metadata says >= 4.28.0 (``mmpretrain.utils.dependency``); metadata
        for version 0.0.0 at the front of the path, in the site, answers first. Nothing is removed from the
        machine, and nothing in this stack imports ``transformers`` otherwise."""
        info = osp.join(self.args.site, 'transformers-0.0.0.dist-info')
        os.makedirs(info, exist_ok=True)
        with open(osp.join(info, 'METADATA'), 'w') as f:
            f.write('Metadata-Version: 2.1\nName: transformers\nVersion: 0.0.0\n'
                    'Summary: stands in for the image\'s transformers, which mmpretrain 1.2 cannot import\n')

    def mmcv_ready(self):
        """(ok, description): mmcv 2.1.0 imports with its ops (CUDA ops for --device cuda)."""
        ok, out = self.probe('import mmcv, mmcv.ops; print(mmcv.__version__, mmcv.ops.get_compiling_cuda_version())')
        if not ok:
            return False, out.splitlines()[-1] if out else 'mmcv does not import'
        version, cuda = (out.splitlines()[-1].split(maxsplit=1) + ['?', '?'])[:2]
        if version != MMCV_VERSION:
            return False, f'mmcv {version}, not {MMCV_VERSION}'
        if self.cuda and cuda == 'not available':
            return False, 'mmcv without CUDA ops'
        return True, f'mmcv {version}, ops compiled with CUDA {cuda}'

    def cuda_build_env(self):
        """The settings of mmcv's CUDA build, from tools/build_mmcv.sh (as tools/setup_env.sh builds it): the toolkit
        found from nvcc (even a wrapper script), torch's pip nvidia headers on CPATH, the architectures of the visible
        GPU (else 9.0, the H200's), nvcc's CUDA major checked against torch's. Returns (env additions, problem or
        None)."""
        cmd = ['bash', BUILD_MMCV, '--python', self.args.python, '--cuda', '--archs', FALLBACK_ARCH, '--print-env']
        try:
            out = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            return {}, 'tools/build_mmcv.sh --print-env did not answer within 180 s'
        if out.returncode != 0:
            return {}, (out.stderr.strip().splitlines() or ['tools/build_mmcv.sh failed'])[-1]
        return dict(line.split('=', 1) for line in out.stdout.splitlines() if '=' in line), None

    def step_mmcv(self):
        start = time.time()
        ready, what = self.mmcv_ready()
        if ready and not self.args.build_mmcv:
            return self.record('mmcv', 'ok', time.time() - start, note=f'already importable: {what}')
        built_dir = osp.join(osp.dirname(self.args.site), 'gpu_mmcv_wheel')  # kept between calls, like --site
        candidates = [w for w in self.bundle_wheels() if osp.basename(w).startswith('mmcv-')]
        candidates += sorted(glob.glob(osp.join(built_dir, 'mmcv-*.whl')))
        if self.args.build_mmcv:
            candidates = []
        for wheel in candidates:
            self.execute('mmcv', self.python('-m', 'pip', 'install', '--disable-pip-version-check', '--no-index',
                                             '--no-deps', '--no-compile', '--upgrade', '--target', self.args.site,
                                             wheel), 180)
            ready, what = self.mmcv_ready()
            if ready:
                return self.record('mmcv', 'ok', time.time() - start, note=f'{osp.basename(wheel)}: {what}')
        sdists = sorted(glob.glob(osp.join(self.args.bundle, 'sdist', f'mmcv-{MMCV_VERSION}.tar.gz')))
        if not sdists:
            return self.record('mmcv', 'failed', time.time() - start,
                               note=f'{what}; and no sdist/mmcv-{MMCV_VERSION}.tar.gz in the bundle to build from')
        # the build's temporary folder under the work folder, which the run removes even when a timeout ends it
        env, settings, cuda = dict(self.env, TMPDIR=self.work), {}, []
        if self.cuda:
            settings, problem = self.cuda_build_env()
            if problem:
                return self.record('mmcv', 'failed', time.time() - start, note=problem)
            env.update(settings)
            cuda = ['--cuda', '--archs', FALLBACK_ARCH]
        with open(osp.join(self.logs, 'mmcv.log'), 'a') as log:
            log.write(f'[acceptance] build settings: {json.dumps(settings) if self.cuda else "CPU ops"}\n')
        shutil.rmtree(built_dir, ignore_errors=True)
        timeout = 570 if self.cuda else 1500
        rc, _ = self.execute('mmcv', ['bash', BUILD_MMCV, '--python', self.args.python, *cuda, '--sdist', sdists[0],
                                      '--out', built_dir], timeout, env=env)
        wheels = sorted(glob.glob(osp.join(built_dir, 'mmcv-*.whl')))
        if rc != 0 or not wheels:
            return self.record('mmcv', 'failed' if rc else 'timeout', time.time() - start, timeout,
                               note=f'the build from the sdist: {self.tail("mmcv")}')
        self.execute('mmcv', self.python('-m', 'pip', 'install', '--disable-pip-version-check', '--no-index',
                                         '--no-deps', '--no-compile', '--upgrade', '--target', self.args.site,
                                         wheels[0]), 180)
        ready, what = self.mmcv_ready()
        size = osp.getsize(wheels[0]) / 2**20
        return self.record('mmcv', 'ok' if ready else 'failed', time.time() - start, timeout,
                           note=f'built from the sdist ({size:.1f} MiB wheel, '
                           f'{settings.get("TORCH_CUDA_ARCH_LIST", "cpu")}): {what}', build_seconds=time.time() - start)

    def step_imports(self):
        code = ('import mmcv, mmcv.ops, mmengine, mmdet, mmdet.models, mmseg, mmseg.models, mmpretrain, '
                'mmpretrain.models, torch, mmpetl, mmpetl.models\n'
                'print(" ".join(f"{m.__name__} {m.__version__}" for m in (torch, mmengine, mmcv, mmdet, mmseg, '
                'mmpretrain)), "| mmcv ops CUDA", mmcv.ops.get_compiling_cuda_version(), "| mmpetl from", '
                'mmpetl.__file__)')
        start = time.time()
        with open(osp.join(self.logs, 'imports.log'), 'w') as log:
            ok, out = self.probe(code, timeout=300)
            log.write(out + '\n')
        return self.record('imports', 'ok' if ok else 'failed', time.time() - start, 300,
                           note=out.splitlines()[-1][-300:] if out else '')

    # -------------------------------------------------------------------------------------------------------------
    # run

    def step_test_cuda(self):
        cmd = self.python('-m', 'pytest', 'tests/test_cuda.py', '-q', '-p', 'no:cacheprovider', '-rs',
                          '--junitxml', osp.join(self.args.results, 'test_cuda.xml'))
        ok, seconds, timeout = self.timed('test_cuda', cmd, 180)
        if not ok and not osp.exists(osp.join(self.args.results, 'test_cuda.xml')):
            return
        counts = {}
        try:
            with open(osp.join(self.args.results, 'test_cuda.xml')) as f:
                head = f.read(4000)
            for key in ('tests', 'failures', 'errors', 'skipped'):
                found = re.search(rf'\b{key}="(\d+)"', head)
                counts[key] = int(found.group(1)) if found else None
        except OSError:
            pass
        if ok:
            note = f'{counts.get("tests")} tests, {counts.get("skipped")} skipped'
            if counts.get('tests') and counts.get('tests') == counts.get('skipped'):
                note += ' (all skipped: no GPU)'
            self.record('test_cuda', 'ok', seconds, timeout, note=note, tests=counts)
        else:
            self.records[-1]['tests'] = counts

    def step_benchmark(self):
        out_dir = osp.join(self.args.results, 'benchmark')
        if self.quick:  # tiny: the methods on the demo's small Swin, 64x64, memory and FLOPs only (no timed steps)
            config, settings = DEMO_CONFIG, ['--size', '64', '--steps', '0', '--warmup', '0', '--no-rss']
        else:
            config, settings = BENCH_CONFIG, ['--size', '1024', '--steps', '5', '--warmup', '2']
        cmd = self.python('tools/analysis_tools/benchmark_petl.py', config, '--device', self.args.device,
                          '--methods', *METHODS, *settings, '--out-dir', out_dir)
        ok, seconds, timeout = self.timed('benchmark', cmd, 240 if self.quick else 330)
        if not ok:
            return
        figures = {}
        for path in glob.glob(osp.join(out_dir, '*.json')):
            try:
                with open(path) as f:
                    result = json.load(f)
            except (OSError, ValueError):
                continue
            for row in result.get('rows', []):
                if row.get('status') == 'ok':
                    mib = {k: round(row[f'{k}_bytes'] / 2**20, 1) if row.get(f'{k}_bytes') is not None else None
                           for k in ('peak', 'saved')}
                    figures[f'{row["part"]}/{row["method"]}'] = dict(
                        trainable=row.get('trainable'), peak_MiB=mib['peak'], saved_MiB=mib['saved'],
                        step_time_s=row.get('step_time'))
        self.record('benchmark', 'ok', seconds, timeout, note=f'{len(figures)} rows measured: benchmark/',
                    figures=figures)

    def step_train_amp(self):
        out_dir = osp.join(self.args.results, 'train_amp')
        data = osp.join(self.work, 'toy_coco')
        work_dir = osp.join(self.work, 'train_amp')
        os.makedirs(out_dir, exist_ok=True)
        iters = 2 if self.quick else 80  # 80: the demo's schedule (`make demo`, CPU float32: README's figures)
        config = osp.join(out_dir, 'config.py')
        with open(config, 'w') as f:
            f.write(f'''# the demo config (Mona on the shipped small Swin, Cascade Mask R-CNN) on fresh toy COCO data
_base_ = '{osp.join(ROOT, DEMO_CONFIG)}'
data_root = '{data}/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
max_iters = {iters}
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters), logger=dict(interval={1 if self.quick else 10}))
''')
        make = self.python('tools/misc/make_toy_data.py', 'coco', data)
        ok, _, _ = self.timed('train_amp', make, 120)
        if not ok:
            return
        amp = ['--amp'] if self.cuda else []
        note = '' if self.cuda else ('--amp left out on the CPU: mmengine 0.10.7\'s AmpOptimWrapper needs a GPU, and '
                                     'under CPU autocast (bfloat16) mmcv\'s CPU NMS gets bfloat16 boxes; ')
        cmd = self.python('tools/train.py', config, *amp, '--work-dir', work_dir)
        ok, seconds, timeout = self.timed('train_amp', cmd, 300 if self.quick else 240)
        summary = self.train_summary(work_dir, iters)
        summary['amp'] = bool(amp)
        with open(osp.join(out_dir, 'summary.json'), 'w') as f:
            json.dump(summary, f, indent=1)
        for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')) + \
                glob.glob(osp.join(work_dir, '*', '*.log')) + glob.glob(osp.join(work_dir, 'param_report.json')):
            shutil.copy(path, out_dir)
        if not ok:
            self.records[-1].update(train=summary)
            return
        metrics = summary.get('metrics', {})
        losses = [f'{loss:.3f}' if isinstance(loss, float) else loss
                  for loss in (summary.get('loss_first'), summary.get('loss_last'))]
        note += (f'{iters} iterations{" with --amp" if amp else ""}: loss {losses[0]} -> {losses[1]}; '
                 f'bbox mAP {metrics.get("coco/bbox_mAP")}, segm mAP '
                 f'{metrics.get("coco/segm_mAP")} (CPU demo, float32: {CPU_DEMO["coco/bbox_mAP"]}, '
                 f'{CPU_DEMO["coco/segm_mAP"]})')
        self.record('train_amp', 'ok', seconds, timeout, note=note, train=summary)

    @staticmethod
    def train_summary(work_dir, iters):
        """Losses, step times, memory and the final metrics from mmengine's scalars.json."""
        paths = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
        if not paths:
            return dict(error='no scalars.json')
        train, metrics = [], {}
        with open(paths[-1]) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if 'loss' in entry:
                    train.append(entry)
                elif any(k.startswith('coco/') for k in entry):
                    metrics = {k: v for k, v in entry.items() if k.startswith('coco/')}
        times = [e['time'] for e in train if 'time' in e]
        memory = [e['memory'] for e in train if 'memory' in e]
        return dict(iterations=iters, logged=len(train), loss_first=train[0]['loss'] if train else None,
                    loss_last=train[-1]['loss'] if train else None,
                    finite=all(isinstance(e['loss'], (int, float)) and e['loss'] == e['loss'] for e in train),
                    median_iter_time_s=round(statistics.median(times), 4) if times else None,
                    max_memory_MiB=max(memory) if memory else None, metrics=metrics)

    def step_mona_micro(self):
        shape = ['--micro-shape', '1', '8', '16', '--steps', '1', '--warmup', '0'] if self.quick else []
        cmd = self.python('tools/analysis_tools/benchmark_petl.py', '--mona-micro', '--device', self.args.device,
                          *shape, '--out-dir', osp.join(self.args.results, 'benchmark'))
        ok, seconds, timeout = self.timed('mona_micro', cmd, 120)
        if ok:
            self.record('mona_micro', 'ok', seconds, timeout, note='benchmark/mona_micro.*')

    # -------------------------------------------------------------------------------------------------------------
    # the whole run

    def steps(self):
        chosen = self.args.steps.split(',') if self.args.steps else SETUP_STEPS + RUN_STEPS
        if self.args.setup_only:
            chosen = [s for s in chosen if s in SETUP_STEPS]
        if self.args.skip_setup:  # the environment is recorded again: each call's results stand alone
            chosen = [s for s in chosen if s in RUN_STEPS or s == 'environment']
        return [s for s in SETUP_STEPS + RUN_STEPS if s in chosen]

    def dry_run(self):
        print(f'[acceptance] plan ({self.args.device}{", quick" if self.quick else ""}): {", ".join(self.steps())}')
        print(f'[acceptance] python {self.args.python}; bundle {self.args.bundle} '
              f'({len(self.bundle_wheels())} wheels); site {self.args.site}; results {self.args.results}; '
              f'archive {self.args.archive}; budget {self.args.budget_s:.0f} s for the run steps')
        ready, what = self.mmcv_ready()
        print(f'[acceptance] mmcv now: {"ready" if ready else "to install or build"} ({what})')
        if self.cuda and not ready:
            extra, problem = self.cuda_build_env()
            print(f'[acceptance] mmcv CUDA build settings: {json.dumps(extra)}' if not problem else
                  f'[acceptance] mmcv CUDA build: cannot build here: {problem}')
        return 0

    def write_summary(self):
        data = dict(device=self.args.device, quick=self.quick, budget_s=self.args.budget_s,
                    run_seconds=round(time.time() - self.run_started, 1) if self.run_started else None,
                    steps=self.records)
        with open(osp.join(self.args.results, 'summary.json'), 'w') as f:
            json.dump(data, f, indent=1)
        lines = [f'# GPU acceptance run: {self.args.device}{" (quick: plumbing only)" if self.quick else ""}', '',
                 f'Run steps: {data["run_seconds"]} s of the {self.args.budget_s:.0f} s budget (setup excluded). '
                 'Environment: environment.txt; every log: logs/.', '',
                 '| step | status | seconds | timeout | note |', '|---|---|---:|---:|---|']
        for r in self.records:
            note = str(r['note']).replace('|', '/')
            lines.append(f'| {r["step"]} | {r["status"]} | {r["seconds"]} | {r["timeout"] or ""} | {note} |')
        bench = next((r for r in self.records if r['step'] == 'benchmark' and r.get('figures')), None)
        if bench:
            lines += ['', '## Benchmark (benchmark/*.md has every figure)', '',
                      '| part/method | trainable | saved for backward, MiB | peak, MiB | step time, s |',
                      '|---|---:|---:|---:|---:|']
            for key, fig in bench['figures'].items():
                lines.append(f'| {key} | {fig["trainable"]:,} | {fig["saved_MiB"]} | {fig["peak_MiB"]} | '
                             f'{fig["step_time_s"]} |')
        with open(osp.join(self.args.results, 'summary.md'), 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def run(self):
        if self.args.dry_run:
            return self.dry_run()
        shutil.rmtree(self.args.results, ignore_errors=True)
        os.makedirs(self.logs)
        os.makedirs(self.work)
        failed = False
        for name in self.steps():
            if name in RUN_STEPS and self.run_started is None:
                self.run_started = time.time()
            try:
                getattr(self, f'step_{name}')()
            except Exception as err:  # a broken step is recorded; the others still run
                self.record(name, 'failed', note=f'{type(err).__name__}: {err}')
            failed |= self.records[-1]['status'] != 'ok' if self.records else False
        self.write_summary()
        shutil.rmtree(self.work, ignore_errors=True)  # data, checkpoints and the mmcv build: not results
        os.makedirs(osp.dirname(self.args.archive), exist_ok=True)
        with tarfile.open(self.args.archive, 'w:gz') as tar:
            tar.add(self.args.results, arcname=osp.basename(self.args.results.rstrip('/')))
        print(f'[acceptance] results: {self.args.results} (summary.md), archive {self.args.archive} '
              f'({osp.getsize(self.args.archive) / 2**20:.1f} MiB)')
        return 1 if failed else 0


def main(argv=None):
    args = parse_args(argv)
    return Acceptance(args).run()


if __name__ == '__main__':
    sys.exit(main())
