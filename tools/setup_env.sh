#!/usr/bin/env bash
# Create or update .venv with the OpenMMLab 2.x stack pinned in requirements/pins.txt, and mmpetl in editable mode.
# Idempotent: when nothing changed it checks the imports and exits in seconds. Used by `make demo` and `make test`.
#
# Environment: PYTHON (interpreter for the venv, default python3), MMPETL_VENV (default <repo>/.venv),
# MMPETL_CACHE (built mmcv wheels, default ~/.cache/mmpetl), MAX_JOBS (mmcv build jobs, default nproc),
# MMPETL_CUDA (mmcv's CUDA ops: auto, the default, builds them when torch is a CUDA build and sees a GPU; 1 whenever
# torch is a CUDA build and nvcc exists, GPU or not, as on a cluster's login node; 0 never),
# TORCH_CUDA_ARCH_LIST (GPU architectures of a CUDA build; default: the visible GPU's, else DEFAULT_CUDA_ARCHS below
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

# The CUDA build of mmcv's ops. Data-centre GPUs people train on: Ampere (8.0, 8.6), Ada (8.9), Hopper (9.0),
# Blackwell (10.0, 12.0); those this nvcc does not know are left out.
DEFAULT_CUDA_ARCHS="8.0 8.6 8.9 9.0 10.0 12.0"
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
cuda_build_env() {
    local torch_cuda nvcc_cuda probe top arch archs code known nvidia
    torch_cuda=$("$VPY" -c 'import torch; print(torch.version.cuda)')
    nvcc_cuda=$(nvcc --version | sed -nE 's/.*release ([0-9]+\.[0-9]+).*/\1/p')
    [ "${nvcc_cuda%%.*}" = "${torch_cuda%%.*}" ] || fail "CUDA version" "nvcc ($(command -v nvcc)) is CUDA $nvcc_cuda, torch $TORCH was built for CUDA $torch_cuda: load a CUDA ${torch_cuda%%.*}.x toolkit, or install the torch $TORCH wheel built for CUDA ${nvcc_cuda%%.*}.x into $VENV"
    # The toolkit itself: nvcc on the PATH may be a wrapper script or a symlink, from which torch's extension builder
    # guesses a wrong CUDA_HOME (and misses the toolkit's headers); nvcc --dryrun names its real top folder.
    if [ -z "${CUDA_HOME:-}" ]; then
        probe=$(mktemp -d)
        echo 'int main() { return 0; }' >"$probe/probe.cu"
        top=$(nvcc --dryrun -c "$probe/probe.cu" -o "$probe/probe.o" 2>&1 | sed -nE 's/^#\$ TOP=(.*)$/\1/p' | head -n 1)
        rm -rf "$probe"
        CUDA_HOME=$(cd "${top:-$(dirname "$(readlink -f "$(command -v nvcc)")")/..}" 2>/dev/null && pwd -P || true)
    fi
    [ -f "${CUDA_HOME:-}/include/cuda_runtime_api.h" ] || fail "CUDA toolkit" "no include/cuda_runtime_api.h under CUDA_HOME=${CUDA_HOME:-?} (found from nvcc): set CUDA_HOME to the toolkit's folder"
    export CUDA_HOME
    # Headers a minimal toolkit lacks (cusparse.h, ...) but torch's pip nvidia packages carry: searched after the
    # toolkit's own (torch's builder passes those with -I, which CPATH follows).
    nvidia=$("$VPY" -c 'import glob, os, site; print(":".join(sorted(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "include")))))')
    [ -n "$nvidia" ] && export CPATH=${CPATH:+$CPATH:}$nvidia
    # The architectures: those given, else the visible GPU's, else the default list; each checked against this nvcc
    known=" $(nvcc --list-gpu-arch 2>/dev/null | tr '\n' ' ') "
    if [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
        for arch in ${TORCH_CUDA_ARCH_LIST//;/ }; do
            code=${arch%+PTX}
            [[ "$known" == *" compute_${code//./} "* ]] || fail "CUDA architectures" "TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST: nvcc $nvcc_cuda does not know $arch (it knows:$known); give some of those, as 8.0;9.0, or unset it for the default"
        done
    else
        archs=$("$VPY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability() if torch.cuda.is_available() else "")')
        for arch in ${archs:-$DEFAULT_CUDA_ARCHS}; do
            if [[ "$known" == *" compute_${arch//./} "* ]]; then
                TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:+$TORCH_CUDA_ARCH_LIST;}$arch
            else
                step "leaving out architecture $arch: nvcc $nvcc_cuda does not know compute_${arch//./}"
            fi
        done
        [ -n "${TORCH_CUDA_ARCH_LIST:-}" ] || fail "CUDA architectures" "nvcc $nvcc_cuda knows none of ${archs:-$DEFAULT_CUDA_ARCHS} (it knows:$known); set TORCH_CUDA_ARCH_LIST to some of those"
    fi
    export TORCH_CUDA_ARCH_LIST FORCE_CUDA=1
    DEVICE=cu${torch_cuda//./}-sm$(echo "$TORCH_CUDA_ARCH_LIST" | tr -d '.' | tr ';+' '_p')
    step "CUDA ops: nvcc $nvcc_cuda, CUDA_HOME=$CUDA_HOME, architectures $TORCH_CUDA_ARCH_LIST"
}

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
    if want_cuda_ops; then
        cuda_build_env  # exports CUDA_HOME, CPATH, FORCE_CUDA, TORCH_CUDA_ARCH_LIST; sets DEVICE (cuXY-<archs>)
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
        [ "$DEVICE" = cpu ] && took="~11 min on 2 cores" || took="~40 min on 2 cores for one architecture"
        step "building mmcv $MMCV with ops for $PYTAG torch $TORCH $DEVICE (once; $took); log: $LOG"
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
