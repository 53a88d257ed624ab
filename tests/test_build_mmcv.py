"""tools/build_mmcv.sh, the one build of mmcv (tools/setup_env.sh sources it, .ci/gpu/ runs it).

The CUDA settings are checked against a stand-in ``nvcc`` that answers what the script asks (``--version``,
``--dryrun``, ``--list-gpu-arch``), as the wrapper script in /usr/local/bin does on this machine kind, so that the
toolkit must be found from ``--dryrun``'s TOP; the compiler itself never runs (a real CUDA build takes 40 minutes on
2 cores). The wheel build runs for real on a small sdist that stands in for mmcv's: its setup.py fails unless the
C++20 patch and the build settings reached it.
"""
import glob
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile

import pytest
import torch

from conftest import ROOT

BUILD_MMCV = osp.join(ROOT, 'tools/build_mmcv.sh')
BASH = shutil.which('bash')
needs_cuda_torch = pytest.mark.skipif(not torch.version.cuda, reason='the CUDA settings need a CUDA build of torch')


def fake_nvcc(tmp_path, release, archs=('80', '90')):
    """A folder with an ``nvcc`` of CUDA ``release`` knowing ``compute_<arch>`` for ``archs``, and its toolkit."""
    toolkit = tmp_path / 'cuda'
    (toolkit / 'include').mkdir(parents=True)
    (toolkit / 'include' / 'cuda_runtime_api.h').write_text('')
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    nvcc = bindir / 'nvcc'
    nvcc.write_text('#!/bin/sh\ncase "$1" in\n'
                    f'  --version) echo "Cuda compilation tools, release {release}, V{release}.1";;\n'
                    f'  --dryrun) echo "#$ TOP={toolkit}" >&2;;\n'
                    f'  --list-gpu-arch) printf "compute_%s\\n" {" ".join(archs)};;\n'
                    '  *) exit 1;;\nesac\n')
    nvcc.chmod(0o755)
    return str(bindir), str(toolkit)


def cuda_environ(bindir, **extra):
    """This process's environment with the stand-in nvcc first on the PATH, no GPU visible and no CUDA settings."""
    env = {k: v for k, v in os.environ.items() if k not in ('CUDA_HOME', 'TORCH_CUDA_ARCH_LIST', 'CPATH')}
    return dict(env, PATH=bindir + os.pathsep + env['PATH'], CUDA_VISIBLE_DEVICES='', **extra)


def torch_nvidia_headers():
    places = {osp.dirname(osp.dirname(torch.__file__))}
    return sorted({d for p in places for d in glob.glob(osp.join(p, 'nvidia', '*', 'include'))})


def print_env(env, *args):
    return subprocess.run([BASH, BUILD_MMCV, '--python', sys.executable, '--cuda', *args, '--print-env'],
                          env=env, capture_output=True, text=True, timeout=120)


@needs_cuda_torch
def test_cuda_settings_found_from_nvcc(tmp_path):
    bindir, toolkit = fake_nvcc(tmp_path, torch.version.cuda)
    out = print_env(cuda_environ(bindir), '--archs', '7.0 9.0')
    assert out.returncode == 0, out.stderr
    settings = dict(line.split('=', 1) for line in out.stdout.splitlines())
    assert settings['CUDA_HOME'] == toolkit and settings['FORCE_CUDA'] == '1'
    # no GPU visible: the default architectures, less those this nvcc does not know
    assert settings['TORCH_CUDA_ARCH_LIST'] == '9.0' and 'leaving out architecture 7.0' in out.stderr
    assert set(torch_nvidia_headers()) <= set(settings['CPATH'].split(':'))
    # given architectures are kept, and torch's headers are added once to a CPATH that has them already
    given = print_env(cuda_environ(bindir, TORCH_CUDA_ARCH_LIST='8.0;9.0+PTX', CPATH=settings['CPATH']))
    again = dict(line.split('=', 1) for line in given.stdout.splitlines())
    assert again['TORCH_CUDA_ARCH_LIST'] == '8.0;9.0+PTX' and again['CPATH'] == settings['CPATH']


@needs_cuda_torch
def test_cuda_settings_refused_with_the_reason(tmp_path):
    other = f'{int(torch.version.cuda.split(".")[0]) - 1}.4'
    bindir, _ = fake_nvcc(tmp_path / 'old', other)
    out = print_env(cuda_environ(bindir))
    assert out.returncode == 1 and f'is CUDA {other}' in out.stderr and f'CUDA {torch.version.cuda}' in out.stderr
    bindir, _ = fake_nvcc(tmp_path / 'new', torch.version.cuda)
    out = print_env(cuda_environ(bindir, TORCH_CUDA_ARCH_LIST='5.0'))
    assert out.returncode == 1 and 'does not know 5.0' in out.stderr and 'compute_90' in out.stderr
    out = print_env(cuda_environ(bindir), '--archs', '5.0 6.0')
    assert out.returncode == 1 and 'knows none of 5.0 6.0' in out.stderr
    empty = tmp_path / 'empty'
    empty.mkdir()
    out = print_env(dict(cuda_environ(str(empty)), PATH=str(empty)))  # bash is called by its full path
    assert out.returncode == 1 and 'no nvcc' in out.stderr


@needs_cuda_torch
def test_acceptance_run_takes_its_cuda_settings_from_the_script(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location('gpu_acceptance', osp.join(ROOT, '.ci/gpu/acceptance.py'))
    acceptance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(acceptance)
    bindir, toolkit = fake_nvcc(tmp_path, torch.version.cuda)
    for key, value in cuda_environ(bindir).items():
        monkeypatch.setenv(key, value)
    for key in ('CUDA_HOME', 'TORCH_CUDA_ARCH_LIST', 'CPATH'):
        monkeypatch.delenv(key, raising=False)
    run = acceptance.Acceptance(acceptance.parse_args(['--results', str(tmp_path / 'results')]))
    settings, problem = run.cuda_build_env()
    assert problem is None
    assert settings['CUDA_HOME'] == toolkit and settings['TORCH_CUDA_ARCH_LIST'] == '9.0'  # the H200's, no GPU here
    monkeypatch.setenv('TORCH_CUDA_ARCH_LIST', '5.0')  # read when the run starts
    run = acceptance.Acceptance(acceptance.parse_args(['--results', str(tmp_path / 'results')]))
    settings, problem = run.cuda_build_env()
    assert settings == {} and 'does not know 5.0' in problem


def test_wheel_built_from_the_patched_sdist(tmp_path):
    """The sdist is unpacked, its -std=c++14/17 become -std=c++20, and the wheel is built with the ops against this
    interpreter (no build isolation: the ops need the interpreter's torch) and copied into --out."""
    source = tmp_path / 'mmcv-2.1.0'
    source.mkdir()
    (source / 'setup.py').write_text(
        'import os, sys\n'
        'from setuptools import setup\n'
        "flags = ['-std=c++14', '-std=c++17']\n"
        "assert flags == ['-std=c++20', '-std=c++20'], flags\n"
        "assert os.environ['MMCV_WITH_OPS'] == '1' and os.environ['MAX_JOBS'] == '3'\n"
        'import torch  # seen only without build isolation\n'
        "setup(name='mmcv', version='2.1.0', py_modules=[])\n")
    sdist = tmp_path / 'mmcv-2.1.0.tar.gz'
    with tarfile.open(sdist, 'w:gz') as tar:
        tar.add(source, arcname='mmcv-2.1.0')
    out = subprocess.run([BASH, BUILD_MMCV, '--python', sys.executable, '--sdist', str(sdist), '--out',
                          str(tmp_path / 'wheels')], env=dict(os.environ, MAX_JOBS='3'), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    assert [osp.basename(w) for w in glob.glob(str(tmp_path / 'wheels' / '*.whl'))] == \
        ['mmcv-2.1.0-py3-none-any.whl']
    broken = subprocess.run([BASH, BUILD_MMCV, '--python', sys.executable, '--sdist', str(sdist), '--out',
                             str(tmp_path / 'broken')], env=dict(os.environ, MAX_JOBS='1'), capture_output=True,
                            text=True, timeout=300)
    assert broken.returncode == 1 and 'FAILED (mmcv build)' in broken.stderr  # setup.py's assertion on MAX_JOBS
    assert not os.path.exists(tmp_path / 'broken')
    missing = subprocess.run([BASH, BUILD_MMCV, '--sdist', str(tmp_path / 'nothing.tar.gz'), '--out',
                              str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and 'nothing.tar.gz does not exist' in missing.stderr


def test_help_and_bad_arguments():
    helped = subprocess.run([BASH, BUILD_MMCV, '--help'], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and '--print-env' in helped.stdout and '--sdist FILE' in helped.stdout
    for bad, reason in ((['--nonsense'], 'unknown argument: --nonsense'), (['--print-env'], 'goes with --cuda'),
                        (['--sdist', 'x.tar.gz'], 'give --sdist and --out')):
        refused = subprocess.run([BASH, BUILD_MMCV, *bad], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and reason in refused.stderr


def test_acceptance_run_hides_a_transformers_that_mmpretrain_cannot_import(tmp_path):
    """The GPU image's recent ``transformers`` breaks ``import mmpretrain.models``: after the install step, the site
    at the front of the path makes mmpretrain's own check answer that none is there, even where one is installed
    behind it (here: the metadata of a ``transformers`` 9.9.9)."""
    spec = importlib.util.spec_from_file_location('gpu_acceptance', osp.join(ROOT, '.ci/gpu/acceptance.py'))
    acceptance = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(acceptance)
    installed = tmp_path / 'image' / 'transformers-9.9.9.dist-info'
    installed.mkdir(parents=True)
    (installed / 'METADATA').write_text('Metadata-Version: 2.1\nName: transformers\nVersion: 9.9.9\n')
    site = tmp_path / 'site'
    run = acceptance.Acceptance(acceptance.parse_args(['--results', str(tmp_path / 'results'), '--site', str(site)]))
    code = ('from mmpretrain.utils.dependency import WITH_MULTIMODAL, satisfy_requirement; '
            "print(satisfy_requirement('transformers>=4.28.0'), WITH_MULTIMODAL)")

    def check(*path):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, path)))
        return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                              check=True).stdout.split()

    assert check(tmp_path / 'image')[0] == 'True'  # the image's transformers, as mmpretrain sees it
    site.mkdir()
    run.hide_transformers()
    assert check(site, tmp_path / 'image') == ['False', 'False']
