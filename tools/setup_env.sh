#!/usr/bin/env bash
# Create or update .venv with the OpenMMLab 2.x stack pinned in requirements/pins.txt, and mmpetl in editable mode.
# Idempotent: when nothing changed it checks the imports and exits in seconds. Used by `make demo` and `make test`.
#
# Environment: PYTHON (interpreter for the venv, default python3), MMPETL_VENV (default <repo>/.venv),
# MMPETL_CACHE (built mmcv wheels, default ~/.cache/mmpetl), MAX_JOBS (mmcv build jobs, default nproc),
# MMPETL_CUDA (mmcv's CUDA ops: auto, the default, builds them when torch is a CUDA build and sees a GPU; 1 whenever
# torch is a CUDA build and nvcc exists, GPU or not, as on a cluster's login node; 0 never),
# TORCH_CUDA_ARCH_LIST (GPU architectures of a CUDA build; default: the visible GPU's, else tools/build_mmcv.sh's list
# as far as nvcc knows them), CUDA_HOME (the toolkit; default: found from nvcc, even through a wrapper script).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMPETL_VENV:-$ROOT/.venv}
PINS=$ROOT/requirements/pins.txt
CACHE=${MMPETL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmpetl}
PYTHON=${PYTHON:-python3}
STAMP=$VENV/.mmpetl-setup
LOG=$VENV/setup.log

step() { echo "[setup] $*"; }
fail() {
    echo "[setup] FAILED at step '$1'" >&2
    [ -f "$LOG" ] && { echo "[setup] last lines of $LOG:" >&2; tail -n 25 "$LOG" >&2; }
    echo "[setup] what to do: $2" >&2
    exit 1
}
pin() { sed -nE "s/^$1==([^ ]+).*/\1/p" "$PINS" | head -n 1; }
pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check "$@" >>"$LOG" 2>&1; }

# mmcv's build (finding the CUDA toolkit, the C++20 patch, the wheel): tools/build_mmcv.sh
source "$ROOT/tools/build_mmcv.sh"
# Whether to build mmcv's CUDA ops (MMPETL_CUDA); how to build them is tools/build_mmcv.sh's mmcv_cuda_env.
want_cuda_ops() {
    local mode=${MMPETL_CUDA:-auto} torch_cuda
    case "$mode" in auto|1|0) ;; *) fail "MMPETL_CUDA" "MMPETL_CUDA=$mode is not valid: use auto (default), 1 or 0";; esac
    [ "$mode" = 0 ] && return 1
    torch_cuda=$("$VPY" -c 'import torch; print(torch.version.cuda or "")')
    if [ "$mode" = auto ]; then
        [ -n "$torch_cuda" ] && command -v nvcc >/dev/null 2>&1 \
            && "$VPY" -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1
        return
    fi
    [ -n "$torch_cuda" ] || fail "CUDA ops" "MMPETL_CUDA=1, but torch $TORCH is a CPU build: install a CUDA build of torch $TORCH into $VENV (the wheel for your toolkit's CUDA version, https://pytorch.org/get-started/previous-versions/), or use MMPETL_CUDA=0"
    command -v nvcc >/dev/null 2>&1 || fail "CUDA ops" "MMPETL_CUDA=1, but there is no nvcc on the PATH: load the CUDA $torch_cuda toolkit (module load cuda/$torch_cuda on a cluster) or put its bin/ on the PATH"
}
fingerprint=$(cat "$PINS" "$ROOT/setup.py" "${BASH_SOURCE[0]}" "$ROOT/tools/build_mmcv.sh" | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$fingerprint" ] \
    && "$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmseg, mmpretrain, mmpetl' >/dev/null 2>&1; then
    exit 0
fi

# 1. Python
"$PYTHON" -c 'import sys; sys.exit(not ((3, 8) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null \
    || fail python "mmcv 2.1.0 builds for Python 3.8-3.12 (3.11 is verified); run again with PYTHON=/path/to/python3.11"

# 2. The virtualenv (reuses a torch the interpreter already has: a cluster's CUDA build, for example)
if [ ! -x "$VENV/bin/python" ]; then
    step "creating $VENV"
    venv_flags=()
    if "$PYTHON" -c 'import torch, torchvision' >/dev/null 2>&1; then
        step "reusing the torch of $PYTHON ($("$PYTHON" -c 'import torch; print(torch.__version__)'))"
        venv_flags=(--system-site-packages)
    fi
    "$PYTHON" -m venv "${venv_flags[@]}" "$VENV" || fail venv "install the venv module (Debian: apt-get install python3-venv)"
fi
: >"$LOG"
VPY=$VENV/bin/python

# 3. Build tools (setuptools < 81 keeps pkg_resources, which mmcv's setup.py, mmengine and openmim import)
step "build tools"
pip_install "setuptools$(sed -nE 's/^setuptools(.*)/\1/p' "$PINS")" wheel ninja \
    || fail "build tools" "check that PyPI is reachable (pip install wheel ninja)"

# 4. torch
if ! "$VPY" -c 'import torch, torchvision' >/dev/null 2>&1; then
    step "installing torch==$(pin torch) torchvision==$(pin torchvision) (about a minute)"
    pip_install "torch==$(pin torch)" "torchvision==$(pin torchvision)" \
        || fail torch "install a torch/torchvision pair by hand into $VENV (see docs/training.md, 'Your own environment')"
fi
TORCH=$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')
CONSTRAINTS=$VENV/constraints.txt
# (without the local label: torch==2.14.1 matches 2.14.1+cu130, the reverse does not)
"$VPY" -c 'import torch, torchvision as tv; [print(f"{n}=={v.split(chr(43))[0]}") for n, v in (("torch", torch.__version__), ("torchvision", tv.__version__))]' >"$CONSTRAINTS"

# 5. mmcv with compiled ops, built once per python/torch/mmcv/device and cached outside the repository
MMCV=$(pin mmcv)
if ! "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" >/dev/null 2>&1; then
    DEVICE=cpu
    if want_cuda_ops; then
        # exports CUDA_HOME, CPATH, FORCE_CUDA, TORCH_CUDA_ARCH_LIST (default: the visible GPU's, else
        # MMCV_DEFAULT_CUDA_ARCHS as far as nvcc knows them)
        mmcv_cuda_env "$VPY" || fail "$MMCV_ERROR_STEP" "$MMCV_ERROR"
        DEVICE=$MMCV_CUDA_TAG
    fi
    PYTAG=$("$VPY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
    WHEELS=$CACHE/wheels/mmcv-$MMCV-$PYTAG-torch$TORCH-$DEVICE
    wheel=$(ls "$WHEELS"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        build=$(mktemp -d)
        step "downloading the mmcv $MMCV sdist"
        (cd "$build" && "$VPY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
            --no-build-isolation "mmcv==$MMCV" -d . >>"$LOG" 2>&1) || fail "mmcv download" "check that PyPI is reachable"
        [ "$DEVICE" = cpu ] && took="~11 min on 2 cores" || took="~40 min on 2 cores for one architecture"
        step "building mmcv $MMCV with ops for $PYTAG torch $TORCH $DEVICE (once; $took); log: $LOG"
        mmcv_build_wheel "$VPY" "$build/mmcv-$MMCV.tar.gz" "$WHEELS" >>"$LOG" 2>&1 || fail "$MMCV_ERROR_STEP" "$MMCV_ERROR"
        rm -rf "$build"
        wheel=$MMCV_WHEEL
    fi
    step "installing $(basename "$wheel")"
    pip_install -c "$CONSTRAINTS" "$wheel" || fail "mmcv install" "remove $WHEELS and run again to rebuild it"
fi

# 6. The OpenMMLab libraries and the test tools, then mmpetl itself
step "installing the pinned OpenMMLab stack"
grep -vE '^(torch|torchvision|mmcv|setuptools|openmim)[=<>]' "$PINS" | grep -vE '^\s*(#|$)' >"$VENV/requirements.txt"
pip_install -c "$CONSTRAINTS" -r "$VENV/requirements.txt" || fail "OpenMMLab stack" "read the log above: no network to PyPI, or a version conflict with your torch"
pip_install --no-deps "openmim==$(pin openmim)" \
    && pip_install -c "$CONSTRAINTS" click colorama model-index pandas requests rich tabulate \
    || fail openmim "pip install --no-deps openmim==$(pin openmim), then its dependencies listed in requirements/pins.txt"
pip_install --no-deps --no-build-isolation -e "$ROOT" || fail "mmpetl" "pip install -e . failed; see the log"
"$VPY" -c 'import mmcv.ops, mmdet.models, mmseg.models, mmpretrain.models, mmrotate.models, mmpetl.models' >>"$LOG" 2>&1 \
    || fail "import check" "an OpenMMLab package does not import; see the log and docs/training.md 'Known breakages'"
echo "$fingerprint" >"$STAMP"
step "ready: $VENV (torch $TORCH, mmcv $MMCV)"
