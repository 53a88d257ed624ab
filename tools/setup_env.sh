#!/usr/bin/env bash
# Create or update .venv with the OpenMMLab 2.x stack pinned in requirements/pins.txt, and mmpetl in editable mode.
# Idempotent: when nothing changed it checks the imports and exits in seconds. Used by `make demo` and `make test`.
#
# Environment: PYTHON (interpreter for the venv, default python3), MMPETL_VENV (default <repo>/.venv),
# MMPETL_CACHE (built mmcv wheels, default ~/.cache/mmpetl), MAX_JOBS (mmcv build jobs, default nproc).
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

fingerprint=$(cat "$PINS" "$ROOT/setup.py" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
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
        || fail torch "install a torch/torchvision pair by hand into $VENV (see README, 'Your own environment')"
fi
TORCH=$("$VPY" -c 'import torch; print(torch.__version__.split("+")[0])')
CONSTRAINTS=$VENV/constraints.txt
# (without the local label: torch==2.14.1 matches 2.14.1+cu130, the reverse does not)
"$VPY" -c 'import torch, torchvision as tv; [print(f"{n}=={v.split(chr(43))[0]}") for n, v in (("torch", torch.__version__), ("torchvision", tv.__version__))]' >"$CONSTRAINTS"

# 5. mmcv with compiled ops, built once per python/torch/mmcv/device and cached outside the repository
MMCV=$(pin mmcv)
if ! "$VPY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV'" >/dev/null 2>&1; then
    DEVICE=cpu
    if command -v nvcc >/dev/null 2>&1 && "$VPY" -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
        DEVICE=cu$("$VPY" -c 'import torch; print(torch.version.cuda.replace(".", ""))')
        export FORCE_CUDA=1
        export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$("$VPY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}
    fi
    PYTAG=$("$VPY" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
    WHEELS=$CACHE/wheels/mmcv-$MMCV-$PYTAG-torch$TORCH-$DEVICE
    wheel=$(ls "$WHEELS"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        command -v "${CXX:-g++}" >/dev/null 2>&1 || fail "mmcv build" "install a C++ compiler (Debian: apt-get install g++)"
        build=$(mktemp -d)
        step "downloading the mmcv $MMCV sdist"
        (cd "$build" && "$VPY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
            --no-build-isolation "mmcv==$MMCV" -d . >>"$LOG" 2>&1) || fail "mmcv download" "check that PyPI is reachable"
        tar -xzf "$build/mmcv-$MMCV.tar.gz" -C "$build"
        # torch >= 2.5's headers need C++20; mmcv 2.1.0 hard-codes -std=c++14/17.
        sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$build/mmcv-$MMCV/setup.py"
        step "building mmcv $MMCV with ops for $PYTAG torch $TORCH $DEVICE (once; ~11 min on 2 cores); log: $LOG"
        MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$VPY" -m pip wheel --disable-pip-version-check --no-deps \
            --no-build-isolation -w "$build/dist" "$build/mmcv-$MMCV" >>"$LOG" 2>&1 \
            || fail "mmcv build" "read the log above; the compiler must accept -std=c++20 (gcc >= 10)"
        mkdir -p "$WHEELS"
        cp "$build"/dist/mmcv-*.whl "$WHEELS/"
        rm -rf "$build"
        wheel=$(ls "$WHEELS"/mmcv-*.whl | head -n 1)
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
    || fail "import check" "an OpenMMLab package does not import; see the log and README 'Known breakages'"
echo "$fingerprint" >"$STAMP"
step "ready: $VENV (torch $TORCH, mmcv $MMCV)"
