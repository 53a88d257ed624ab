#!/usr/bin/env bash
# Build an mmcv wheel with its compiled ops from mmcv's sdist, against the torch of a given Python: the one place that
# knows how (tools/setup_env.sh sources it for its functions; .ci/gpu/ sources or runs it).
#
# usage: bash tools/build_mmcv.sh --sdist FILE --out DIR [--python PY] [--cuda [--archs LIST] [--print-env]]
#
#   --sdist FILE   mmcv's source distribution (mmcv-X.Y.Z.tar.gz, from `pip download --no-binary :all: mmcv==X.Y.Z`)
#   --out DIR      where the wheel is written
#   --python PY    the interpreter whose torch the ops are built against (default python3); it needs wheel, ninja and
#                  setuptools < 81 (mmcv's setup.py imports pkg_resources)
#   --cuda         build the CUDA ops too (else CPU ops only). Needs nvcc of torch's CUDA major, on the PATH or in
#                  CUDA_HOME/bin. The toolkit is found from nvcc (CUDA_HOME overrides), torch's pip nvidia headers are
#                  added to CPATH, the architectures are TORCH_CUDA_ARCH_LIST, else the visible GPU's, else --archs,
#                  each checked against what nvcc knows
#   --archs LIST   the architectures when neither TORCH_CUDA_ARCH_LIST nor a visible GPU gives them (default
#                  "8.0 8.6 8.9 9.0 10.0 12.0"; those this nvcc does not know are left out)
#   --print-env    with --cuda: print the CUDA build's settings as KEY=VALUE lines and build nothing
#
# Environment: MAX_JOBS (compile jobs, default nproc), CXX (default g++), CUDA_HOME, TORCH_CUDA_ARCH_LIST, CPATH.
# The compiler's output goes to stdout, progress and errors to stderr; exit status 1 when the build cannot run or fails.
#
# Sourced, it defines mmcv_cuda_env and mmcv_build_wheel (below) and changes nothing else.

# Data-centre GPUs people train on: Ampere (8.0, 8.6), Ada (8.9), Hopper (9.0), Blackwell (10.0, 12.0).
MMCV_DEFAULT_CUDA_ARCHS="8.0 8.6 8.9 9.0 10.0 12.0"

# On failure the functions return 1 with MMCV_ERROR_STEP (what failed) and MMCV_ERROR (why, and what to do) set. They
# check every command themselves: a caller's `set -e` is off inside a function called as `f || handle`.
mmcv_error() { MMCV_ERROR_STEP=$1; MMCV_ERROR=$2; return 1; }
mmcv_say() { echo "[mmcv] $*" >&2; }

# mmcv_cuda_env PY [ARCHS]: export the settings of a CUDA build against PY's torch (CUDA_HOME, CPATH,
# TORCH_CUDA_ARCH_LIST, FORCE_CUDA=1) and set MMCV_CUDA_TAG (cuXY-smAB_CD, which names a cached wheel).
mmcv_cuda_env() {
    local py=$1 default_archs=${2:-$MMCV_DEFAULT_CUDA_ARCHS} nvcc facts torch_cuda capability nvidia nvcc_cuda
    local probe top known arch code dir
    nvcc=$(command -v nvcc || true)
    if [ -z "$nvcc" ] && [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
        nvcc=$CUDA_HOME/bin/nvcc
    fi
    [ -n "$nvcc" ] || { mmcv_error "CUDA toolkit" "no nvcc on the PATH (and none in CUDA_HOME/bin): load the CUDA toolkit of torch's CUDA version (module load cuda/X.Y on a cluster) or put its bin/ on the PATH"; return 1; }
    # torch's CUDA version, the visible GPU's architecture, and the headers of torch's pip nvidia packages (wherever
    # torch is installed: a venv, the user site, a --target folder on PYTHONPATH)
    facts=$("$py" -c 'import glob, os, site, torch
print(torch.version.cuda or "")
print("%d.%d" % torch.cuda.get_device_capability() if torch.cuda.is_available() else "")
places = site.getsitepackages() + [os.path.dirname(os.path.dirname(torch.__file__))]
print(os.pathsep.join(sorted({d for p in places for d in glob.glob(os.path.join(p, "nvidia", "*", "include"))})))' \
        2>/dev/null) || { mmcv_error torch "torch does not import with $py (see: $py -c 'import torch')"; return 1; }
    { read -r torch_cuda; read -r capability; read -r nvidia; } <<<"$facts"
    [ -n "$torch_cuda" ] || { mmcv_error "CUDA ops" "the torch of $py is a CPU build: the CUDA ops need a CUDA build of torch"; return 1; }
    nvcc_cuda=$("$nvcc" --version | sed -nE 's/.*release ([0-9]+\.[0-9]+).*/\1/p')
    [ "${nvcc_cuda%%.*}" = "${torch_cuda%%.*}" ] || { mmcv_error "CUDA version" "nvcc ($nvcc) is CUDA ${nvcc_cuda:-?}, the torch of $py was built for CUDA $torch_cuda: load a CUDA ${torch_cuda%%.*}.x toolkit, or install the torch wheel built for CUDA ${nvcc_cuda%%.*}.x"; return 1; }
    # The toolkit itself: nvcc on the PATH may be a wrapper script or a symlink, from which torch's extension builder
    # guesses a wrong CUDA_HOME (and misses the toolkit's headers); nvcc --dryrun names its real top folder.
    if [ -z "${CUDA_HOME:-}" ]; then
        probe=$(mktemp -d)
        echo 'int main() { return 0; }' >"$probe/probe.cu"
        top=$("$nvcc" --dryrun -c "$probe/probe.cu" -o "$probe/probe.o" 2>&1 | sed -nE 's/^#\$ TOP=(.*)$/\1/p' | head -n 1)
        rm -rf "$probe"
        CUDA_HOME=$(cd "${top:-$(dirname "$(readlink -f "$nvcc")")/..}" 2>/dev/null && pwd -P || true)
    fi
    [ -f "${CUDA_HOME:-}/include/cuda_runtime_api.h" ] || { mmcv_error "CUDA toolkit" "no include/cuda_runtime_api.h under CUDA_HOME=${CUDA_HOME:-?} (found from nvcc): set CUDA_HOME to the toolkit's folder"; return 1; }
    export CUDA_HOME
    # Headers a minimal toolkit lacks (cusparse.h, ...) but torch's pip nvidia packages carry: searched after the
    # toolkit's own (torch's builder passes those with -I, which CPATH follows); each folder once.
    while IFS= read -r dir; do
        [ -z "$dir" ] || [[ ":${CPATH:-}:" == *":$dir:"* ]] || CPATH=${CPATH:+$CPATH:}$dir
    done <<<"${nvidia//:/$'\n'}"
    [ -n "${CPATH:-}" ] && export CPATH
    # The architectures: those given, else the visible GPU's, else the defaults; each checked against this nvcc
    known=" $("$nvcc" --list-gpu-arch 2>/dev/null | tr '\n' ' ') "
    if [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
        for arch in ${TORCH_CUDA_ARCH_LIST//;/ }; do
            code=${arch%+PTX}
            [[ "$known" == *" compute_${code//./} "* ]] || { mmcv_error "CUDA architectures" "TORCH_CUDA_ARCH_LIST=$TORCH_CUDA_ARCH_LIST: nvcc $nvcc_cuda does not know $arch (it knows:$known); give some of those, as 8.0;9.0, or unset it for the default"; return 1; }
        done
    else
        for arch in ${capability:-$default_archs}; do
            if [[ "$known" == *" compute_${arch//./} "* ]]; then
                TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:+$TORCH_CUDA_ARCH_LIST;}$arch
            else
                mmcv_say "leaving out architecture $arch: nvcc $nvcc_cuda does not know compute_${arch//./}"
            fi
        done
        [ -n "${TORCH_CUDA_ARCH_LIST:-}" ] || { mmcv_error "CUDA architectures" "nvcc $nvcc_cuda knows none of ${capability:-$default_archs} (it knows:$known); set TORCH_CUDA_ARCH_LIST to some of those"; return 1; }
    fi
    export TORCH_CUDA_ARCH_LIST FORCE_CUDA=1
    MMCV_CUDA_TAG=cu${torch_cuda//./}-sm$(echo "$TORCH_CUDA_ARCH_LIST" | tr -d '.' | tr ';+' '_p')
    mmcv_say "CUDA ops: nvcc $nvcc_cuda, CUDA_HOME=$CUDA_HOME, architectures $TORCH_CUDA_ARCH_LIST"
}

# mmcv_build_wheel PY SDIST OUT: unpack the sdist, make it compile with C++20, build the wheel with its ops against PY's
# torch (CPU ops; CUDA ops too after mmcv_cuda_env) and copy it into OUT; sets MMCV_WHEEL to its path there. The
# compiler's output goes to stdout.
mmcv_build_wheel() {
    local py=$1 sdist=$2 out=$3 work src
    [ -f "$sdist" ] || { mmcv_error "mmcv sdist" "$sdist does not exist"; return 1; }
    command -v "${CXX:-g++}" >/dev/null 2>&1 || { mmcv_error "mmcv build" "no C++ compiler ${CXX:-g++}: install one (Debian: apt-get install g++)"; return 1; }
    work=$(mktemp -d)
    tar -xzf "$sdist" -C "$work" || { rm -rf "$work"; mmcv_error "mmcv sdist" "$sdist does not unpack"; return 1; }
    src=$(ls -d "$work"/mmcv-*/ | head -n 1)
    # torch >= 2.5's headers need C++20; mmcv 2.1.0's setup.py hard-codes -std=c++14/17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    # --no-build-isolation: an isolated build cannot see torch and silently leaves the ops out
    if ! MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} "$py" -m pip wheel --disable-pip-version-check --no-index \
            --no-deps --no-build-isolation -w "$work/dist" "$src"; then
        rm -rf "$work"
        mmcv_error "mmcv build" "see the compiler's output; the compiler must accept -std=c++20 (gcc >= 10)"
        return 1
    fi
    mkdir -p "$out" && cp "$work"/dist/mmcv-*.whl "$out/" \
        || { rm -rf "$work"; mmcv_error "mmcv build" "cannot write the wheel into $out"; return 1; }
    MMCV_WHEEL=$out/$(basename "$(ls "$work"/dist/mmcv-*.whl | head -n 1)")
    rm -rf "$work"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    usage() { sed -n '2,/^# Sourced/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }
    py=python3 sdist= out= cuda=0 archs=$MMCV_DEFAULT_CUDA_ARCHS print_env=0
    while [ $# -gt 0 ]; do
        case "$1" in
            -h|--help) usage; exit 0;;
            --python) py=${2:?--python needs an interpreter}; shift 2;;
            --sdist) sdist=${2:?--sdist needs a file}; shift 2;;
            --out) out=${2:?--out needs a folder}; shift 2;;
            --cuda) cuda=1; shift;;
            --archs) archs=${2:?--archs needs a list, as "8.0 9.0"}; shift 2;;
            --print-env) print_env=1; shift;;
            *) echo "unknown argument: $1" >&2; usage >&2; exit 2;;
        esac
    done
    [ "$print_env" = 0 ] || [ "$cuda" = 1 ] || { echo "--print-env goes with --cuda" >&2; exit 2; }
    if [ "$cuda" = 1 ]; then
        mmcv_cuda_env "$py" "$archs" || { echo "[mmcv] FAILED ($MMCV_ERROR_STEP): $MMCV_ERROR" >&2; exit 1; }
        if [ "$print_env" = 1 ]; then
            for key in CUDA_HOME CPATH TORCH_CUDA_ARCH_LIST FORCE_CUDA; do echo "$key=${!key}"; done
            exit 0
        fi
    fi
    [ -n "$sdist" ] && [ -n "$out" ] || { echo "give --sdist and --out" >&2; usage >&2; exit 2; }
    mmcv_say "building $(basename "$sdist") with its $([ "$cuda" = 1 ] && echo CUDA || echo CPU) ops against the torch of $py"
    mmcv_build_wheel "$py" "$sdist" "$out" || { echo "[mmcv] FAILED ($MMCV_ERROR_STEP): $MMCV_ERROR" >&2; exit 1; }
    mmcv_say "built $MMCV_WHEEL"
fi
