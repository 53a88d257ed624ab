#!/usr/bin/env bash
# Prepare the folder that travels to a GPU machine without network, for .ci/gpu/acceptance.py (docs/gpu.md).
#
# usage: bash .ci/gpu/prepare_bundle.sh [--out DIR] [--python-version X.Y] [--mmcv-wheel FILE] [--check-only]
#
# The GPU machine brings its own Python and a CUDA build of torch (the H200 machines seen here: Python 3.12, torch
# 2.11.0+cu130, CUDA 13.0's nvcc, numpy, scipy, matplotlib, opencv-python-headless, pytest, ...); the torch wheel
# itself (GBs) cannot travel within the 64 MiB that a device call carries. This folder holds what that machine
# lacks: the OpenMMLab 2.x wheels pinned in requirements/pins.txt and their pure-Python needs, built for that Python
# (manylinux x86_64, downloaded here with pip), and the mmcv 2.1.0 sdist, which acceptance.py builds there with
# its CUDA ops against the machine's own torch (no prebuilt mmcv wheel loads under another torch or Python).
#
#   --out DIR             the folder (default: <repo>/.ci/gpu/bundle, which .gitignore leaves out, so that it
#                         travels only as a carried path; another folder inside the repository is added to
#                         .git/info/exclude)
#   --python-version X.Y  the GPU machine's Python (default 3.12)
#   --build-mmcv          also build mmcv 2.1.0 with its CUDA ops here, for that Python and --torch, strip its
#                         library (108 MB -> 24 MB; the wheel about 6 MB) and carry the wheel: the GPU machine then
#                         installs it in seconds instead of building for minutes of GPU time. Needs nvcc of torch's
#                         CUDA major and about 40 minutes on 2 cores (once: cached in ~/.cache/mmpetl/wheels)
#   --torch VERSION       the GPU machine's torch, for --build-mmcv (default 2.11.0, a CUDA 13 build on PyPI)
#   --arch LIST           TORCH_CUDA_ARCH_LIST for --build-mmcv (default 9.0: H100/H200)
#   --mmcv-wheel FILE     also carry a prebuilt mmcv wheel (it must be built for that Python and that torch, and fit)
#   --check-only          only check an existing folder: every wheel's requirements are in it or on the GPU machine,
#                         and it fits the carry limit next to the repository
#
# Environment: PYTHON (the interpreter whose pip downloads, default python3); TARGET_PYTHON (an interpreter of the
# GPU machine's Python version, for --build-mmcv; default python3.12 or pyenv's); MMPETL_CACHE (default
# ~/.cache/mmpetl). Needs PyPI (pip download).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PINS=$ROOT/requirements/pins.txt
OUT=$ROOT/.ci/gpu/bundle
PYVER=3.12
MMCV_WHEEL=
CHECK_ONLY=0
BUILD_MMCV=0
TORCH_VERSION=2.11.0
ARCH=9.0
CACHE=${MMPETL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmpetl}
PYTHON=${PYTHON:-python3}
CARRY_LIMIT=$((64 * 1024 * 1024))

# mmcv_cuda_env, mmcv_build_wheel: the build of mmcv that tools/setup_env.sh also uses
source "$ROOT/tools/build_mmcv.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
fail() { echo "[bundle] FAILED: $*" >&2; exit 1; }
step() { echo "[bundle] $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0;;
        --out) OUT=${2:?--out needs a folder}; shift 2;;
        --python-version) PYVER=${2:?--python-version needs X.Y}; shift 2;;
        --mmcv-wheel) MMCV_WHEEL=${2:?--mmcv-wheel needs a file}; shift 2;;
        --check-only) CHECK_ONLY=1; shift;;
        --build-mmcv) BUILD_MMCV=1; shift;;
        --torch) TORCH_VERSION=${2:?--torch needs a version}; shift 2;;
        --arch) ARCH=${2:?--arch needs a list, as 9.0 or 8.0;9.0}; shift 2;;
        *) echo "unknown argument: $1" >&2; usage >&2; exit 2;;
    esac
done
[[ "$PYVER" =~ ^3\.[0-9]+$ ]] || fail "--python-version $PYVER: give X.Y, as 3.12"
PYTAG=cp${PYVER/./}
pin() { sed -nE "s/^$1([=<>!~].*)?$/\1/p" "$PINS" | head -n 1; }

# What the bundle carries: the pinned OpenMMLab packages and their needs that the GPU machine's image lacks (versions
# as verified in this project's environment). Installed there with --no-deps, so this list is the whole closure:
# --check-only verifies it against every wheel's requirements and DEVICE_HAS.
PACKAGES=(
    "mmengine$(pin mmengine)" "mmdet$(pin mmdet)" "mmsegmentation$(pin mmsegmentation)" "mmpretrain$(pin mmpretrain)"
    "mmrotate-dev$(pin mmrotate-dev)" "ftfy$(pin ftfy)" "setuptools$(pin setuptools)"
    addict==2.4.0 yapf==0.43.0 platformdirs==4.14.9 termcolor==3.3.0 terminaltables==3.1.10 shapely==2.2.0
    pycocotools==2.0.11 prettytable==3.18.0 wcwidth==0.9.4 mat4py==0.6.0 model-index==0.1.11 modelindex==0.0.2
    ordered-set==4.1.0 importlib-metadata==10.2.0 lazy-importer==0.1.0
)
# The GPU machine's image has these (the device's KINDS.md package list); opencv-python-headless provides cv2, which
# mmengine and mmcv declare as opencv-python.
DEVICE_HAS="torch torchvision numpy scipy matplotlib opencv-python opencv-python-headless pyyaml rich tqdm six pillow
packaging regex einops safetensors pytest markdown click ninja wheel pip zipp colorama pandas requests tabulate"

check_bundle() {
    local repo_bytes bundle_bytes
    "$PYTHON" - "$OUT" "$PYVER" "$DEVICE_HAS" <<'EOF' || fail "the bundle is incomplete (see above)"
import glob, os, re, sys, zipfile
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

out, pyver, device_has = sys.argv[1], sys.argv[2], sys.argv[3].split()
env = dict(python_version=pyver, python_full_version=pyver + '.0', sys_platform='linux', platform_system='Linux',
           os_name='posix', platform_machine='x86_64', implementation_name='cpython',
           platform_python_implementation='CPython', extra='')
wheels = sorted(glob.glob(os.path.join(out, 'wheels', '*.whl')))
have = {canonicalize_name(re.split(r'-\d', os.path.basename(w))[0].replace('_', '-')) for w in wheels}
have |= {canonicalize_name(n) for n in device_has}
missing = []
for wheel in wheels:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))
        lines = z.read(meta).decode('utf-8', 'replace').splitlines()
    for line in lines:
        if not line.startswith('Requires-Dist:'):
            continue
        req = Requirement(line.split(':', 1)[1].strip())
        if req.marker is not None and not req.marker.evaluate(env):
            continue  # an extra, or another Python or platform
        if canonicalize_name(req.name) not in have:
            missing.append(f'{os.path.basename(wheel)} needs {req}')
if not glob.glob(os.path.join(out, 'sdist', 'mmcv-*.tar.gz')) and not any('mmcv-' in w for w in wheels):
    missing.append('no mmcv sdist (sdist/mmcv-*.tar.gz) and no mmcv wheel')
for line in missing:
    print(f'[bundle] missing: {line}', file=sys.stderr)
print(f'[bundle] requirements: {len(wheels)} wheels, every requirement in the bundle or on the GPU machine'
      if not missing else f'[bundle] {len(missing)} requirement(s) missing')
sys.exit(1 if missing else 0)
EOF
    bundle_bytes=$(du -sb "$OUT" | cut -f1)
    repo_bytes=0
    if git -C "$ROOT" rev-parse >/dev/null 2>&1; then
        # what a device call sends besides the carried paths: tracked and untracked-not-ignored files
        # (files deleted in the work tree but still tracked are skipped)
        repo_bytes=$(cd "$ROOT" && git ls-files -co --exclude-standard -z \
            | "$PYTHON" -c 'import os, sys; print(sum(os.path.getsize(p) for p in sys.stdin.read().split("\0") if os.path.isfile(p)))')
    fi
    step "size: bundle $((bundle_bytes / 1024)) KiB + repository $((repo_bytes / 1024)) KiB = $(((bundle_bytes + repo_bytes) / 1024)) KiB of the $((CARRY_LIMIT / 1024)) KiB a device call carries"
    [ $((bundle_bytes + repo_bytes)) -le $CARRY_LIMIT ] \
        || fail "bundle and repository exceed the carry limit: leave out --mmcv-wheel, or clean untracked files"
}

# mmcv 2.1.0 with its CUDA ops for the GPU machine's Python and torch, built here in a throwaway venv, its library
# stripped (symbols only: the code is the same), the wheel cached: prints the wheel's path.
build_mmcv_wheel() {
    local key dir wheel target venv work nvidia site
    key=mmcv-$(pin mmcv | tr -d '=')-py${PYVER/./}-torch$TORCH_VERSION-sm$(echo "$ARCH" | tr -d '.' | tr ';+' '_p')-stripped
    dir=$CACHE/wheels/$key
    wheel=$(ls "$dir"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$wheel" ]; then echo "$wheel"; return; fi
    target=${TARGET_PYTHON:-$(command -v "python$PYVER" 2>/dev/null || true)}
    if [ -z "$target" ] || ! "$target" -c 'pass' 2>/dev/null; then
        target=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$PYVER".*/bin/python"$PYVER" 2>/dev/null | tail -n 1 || true)
    fi
    [ -n "$target" ] && "$target" -c 'pass' 2>/dev/null || fail "--build-mmcv: no Python $PYVER here (set TARGET_PYTHON)"
    command -v nvcc >/dev/null 2>&1 || fail "--build-mmcv: no nvcc on the PATH"
    work=$(mktemp -d)
    trap 'rm -rf "${work:-}"' EXIT  # (this function runs in a subshell: $(build_mmcv_wheel)) the venv is 1.4 GB
    venv=$work/venv
    step "--build-mmcv: a Python $PYVER venv with torch $TORCH_VERSION (log: $LOG)" >&2
    "$target" -m venv "$venv" >>"$LOG" 2>&1 || fail "--build-mmcv: venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check "setuptools$(pin setuptools)" wheel ninja numpy \
        packaging pyyaml addict yapf >>"$LOG" 2>&1 || fail "--build-mmcv: build tools (see $LOG)"
    # torch without its nvidia packages (GBs): their libraries and headers are taken from an environment that has
    # those of the same CUDA major (this project's .venv), else installed
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-deps "torch==$TORCH_VERSION" >>"$LOG" 2>&1 \
        && "$venv/bin/python" -m pip install --disable-pip-version-check filelock typing-extensions sympy networkx \
            jinja2 fsspec >>"$LOG" 2>&1 || fail "--build-mmcv: torch $TORCH_VERSION for Python $PYVER (see $LOG)"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    nvidia=$(ls -d "$ROOT"/.venv/lib/python*/site-packages/nvidia 2>/dev/null | head -n 1 || true)
    if [ -n "$nvidia" ]; then
        ln -s "$nvidia" "$site/nvidia"
    fi
    if ! "$venv/bin/python" -c 'import torch' >>"$LOG" 2>&1; then
        rm -f "$site/nvidia"
        step "--build-mmcv: installing torch $TORCH_VERSION's nvidia packages (large)" >&2
        "$venv/bin/python" -m pip install --disable-pip-version-check "torch==$TORCH_VERSION" >>"$LOG" 2>&1 \
            || fail "--build-mmcv: torch's nvidia packages (see $LOG)"
    fi
    # the toolkit found from nvcc, torch's nvidia headers (the linked ones) on CPATH, the architectures checked
    export TORCH_CUDA_ARCH_LIST=$ARCH
    mmcv_cuda_env "$venv/bin/python" || fail "--build-mmcv: $MMCV_ERROR"
    step "--build-mmcv: building mmcv for CPython $PYVER, torch $TORCH_VERSION, architectures $ARCH (about 40 min on 2 cores)" >&2
    mmcv_build_wheel "$venv/bin/python" "$(ls "$OUT"/sdist/mmcv-*.tar.gz | head -n 1)" "$work/dist" >>"$LOG" 2>&1 \
        || fail "--build-mmcv: $MMCV_ERROR (see $LOG)"
    "$venv/bin/python" -m wheel unpack -d "$work/unpacked" "$work"/dist/mmcv-*.whl >>"$LOG" 2>&1
    strip --strip-unneeded "$work"/unpacked/mmcv-*/mmcv/_ext*.so
    # the stripped library loads under this torch and was compiled with its CUDA (no mmcv import: no mmengine needed)
    "$venv/bin/python" -c 'import glob, importlib.util, sys, torch
spec = importlib.util.spec_from_file_location("_ext", glob.glob(sys.argv[1] + "/mmcv-*/mmcv/_ext*.so")[0])
ext = importlib.util.module_from_spec(spec); spec.loader.exec_module(ext)
print("mmcv _ext loads under torch", torch.__version__, "compiled with CUDA", ext.get_compiling_cuda_version())' \
        "$work/unpacked" >>"$LOG" 2>&1 || fail "--build-mmcv: the built library does not load under torch $TORCH_VERSION (see $LOG)"
    mkdir -p "$dir"
    "$venv/bin/python" -m wheel pack -d "$dir" "$work"/unpacked/mmcv-*/ >>"$LOG" 2>&1 || fail "--build-mmcv: repacking"
    rm -rf "$work"
    ls "$dir"/mmcv-*.whl | head -n 1
}

if [ "$CHECK_ONLY" = 1 ]; then
    [ -d "$OUT/wheels" ] || fail "$OUT/wheels does not exist: run without --check-only first"
    check_bundle
    exit 0
fi

"$PYTHON" -m pip --version >/dev/null 2>&1 || fail "no pip for $PYTHON (set PYTHON=/path/to/python3)"
rm -rf "$OUT/wheels" "$OUT/sdist"
mkdir -p "$OUT/wheels" "$OUT/sdist"
LOG=$OUT/prepare.log
: >"$LOG"
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
           --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
step "downloading ${#PACKAGES[@]} wheels for CPython $PYVER, manylinux x86_64 (log: $LOG)"
for spec in "${PACKAGES[@]}"; do
    # one at a time, so that a failure names the package; --no-deps: the list is the closure (checked below)
    if ! "$PYTHON" -m pip download --disable-pip-version-check --no-deps --only-binary=:all: \
            --python-version "$PYVER" --implementation cp --abi "$PYTAG" --abi abi3 --abi none "${PLATFORMS[@]}" \
            -d "$OUT/wheels" "$spec" >>"$LOG" 2>&1; then
        # a pure-Python package published as an sdist only: build its wheel here (py3-none-any)
        step "$spec: no wheel for CPython $PYVER; building one from its sdist"
        tmp=$(mktemp -d)
        "$PYTHON" -m pip download --disable-pip-version-check --no-deps --no-binary=:all: -d "$tmp" "$spec" >>"$LOG" 2>&1 \
            && "$PYTHON" -m pip wheel --disable-pip-version-check --no-deps -w "$tmp/wheel" "$tmp"/*.tar.gz >>"$LOG" 2>&1 \
            && ls "$tmp"/wheel/*-py3-none-any.whl >/dev/null 2>&1 \
            || fail "$spec: neither a wheel for CPython $PYVER nor a pure-Python sdist (see $LOG)"
        cp "$tmp"/wheel/*.whl "$OUT/wheels/"
        rm -rf "$tmp"
    fi
done
step "downloading the mmcv $(pin mmcv | tr -d '=') sdist (built on the GPU machine against its torch)"
# pip reads the sdist's metadata in an isolated build environment: mmcv's setup.py imports pkg_resources, which
# setuptools >= 81 no longer has (the constraint reaches that environment too)
constraint=$(mktemp)
echo "setuptools$(pin setuptools)" >"$constraint"
PIP_CONSTRAINT=$constraint "$PYTHON" -m pip download --disable-pip-version-check --no-deps --no-binary=:all: \
    "mmcv$(pin mmcv)" -d "$OUT/sdist" >>"$LOG" 2>&1 || { rm -f "$constraint"; fail "mmcv sdist download (see $LOG)"; }
rm -f "$constraint"
if [ "$BUILD_MMCV" = 1 ]; then
    [ -z "$MMCV_WHEEL" ] || fail "give --build-mmcv or --mmcv-wheel, not both"
    MMCV_WHEEL=$(build_mmcv_wheel)
fi
if [ -n "$MMCV_WHEEL" ]; then
    [ -f "$MMCV_WHEEL" ] || fail "--mmcv-wheel $MMCV_WHEEL does not exist"
    case "$(basename "$MMCV_WHEEL")" in
        *-"$PYTAG"-"$PYTAG"-*) ;;
        *) fail "--mmcv-wheel $(basename "$MMCV_WHEEL") is not built for CPython $PYVER ($PYTAG): it would not load there";;
    esac
    step "carrying $(basename "$MMCV_WHEEL") (it loads only under the torch it was built against)"
    cp "$MMCV_WHEEL" "$OUT/wheels/"
fi

{
    echo "# made by .ci/gpu/prepare_bundle.sh on $(date -u +%Y-%m-%dT%H:%MZ), $(uname -m)"
    echo "target: CPython $PYVER, manylinux x86_64; the GPU machine's own torch (expected: a CUDA build, e.g. 2.11.0+cu130)"
    echo "device_has: $(echo $DEVICE_HAS)"
    (cd "$OUT" && find wheels sdist -type f | sort | while read -r f; do
        echo "$(sha256sum "$f" | cut -c1-16)  $(du -b "$f" | cut -f1)  $f"
    done)
} >"$OUT/MANIFEST.txt"

# inside the repository: ignored locally, so that it travels only when a device call carries it
case "$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")" in
    "$ROOT"/*)
        rel=${OUT#"$ROOT"/}
        if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$ROOT" check-ignore -q "$rel"; then
            exclude=$(git -C "$ROOT" rev-parse --git-path info/exclude)
            mkdir -p "$(dirname "$ROOT/$exclude")" 2>/dev/null || true
            case "$exclude" in /*) ;; *) exclude=$ROOT/$exclude;; esac
            echo "/$rel/" >>"$exclude"
            step "added /$rel/ to $exclude"
        fi;;
esac
check_bundle
step "ready: $OUT ($(ls "$OUT/wheels" | wc -l) wheels, $(ls "$OUT/sdist")); on the GPU machine: python3 .ci/gpu/acceptance.py --bundle ${OUT#"$ROOT"/}"
