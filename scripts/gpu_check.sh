#!/usr/bin/env bash
# The prepared GPU check: run it as it is whenever a GPU is at hand (under 8 minutes on one GPU).
#
#   bash scripts/gpu_check.sh [OUT]          (OUT defaults to gpu-check-out)
#
# Steps, each logged to OUT/<step>.log and summed up in OUT/summary.txt:
#   install           a fresh venv in OUT/venv with the project and its dev extras
#                     (CONTRASTLAB_VENV=PATH reuses an existing venv instead;
#                      CONTRASTLAB_WHEELS=DIR installs offline from a folder of wheels)
#   device            torch, CUDA and the device's name and memory (OUT/device.txt)
#   pytest_gpu        pytest -m gpu: the CUDA tests of tests/gpu (OUT/pytest-gpu.xml)
#   bench_loss        contrastlab bench loss --device cuda at B = 4096 and 16,384: ratios to the
#                     CUDA product floor and peak memory against the dense path, lightly's
#                     NT-Xent beside the cosine rows (OUT/bench-loss/)
#   bench_rld         contrastlab bench rld --device cuda at N = 50,000 (OUT/bench-rld/)
#   train_cifar10     one epoch of configs/cifar10_cosine.yaml on random CIFAR-shaped data
#                     (50,000 images of 32 x 32 x 3) with autocast, final kNN only
#                     (OUT/train-cifar10-cosine/)
# Without CUDA the GPU steps are reported as skipped and the script still ends with 0, so it can
# be checked end to end on any machine. Exit code: 1 when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-gpu-check-out}" && cd "${1:-gpu-check-out}" && pwd)
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
FAILED=0

step() {  # step NAME COMMAND...: run, log, time and record one step
    local name=$1 start rc
    shift
    start=$(date +%s)
    "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    printf '%-16s %s (%ss)\n' "$name" "$([ $rc -eq 0 ] && echo passed || echo "FAILED rc=$rc")" \
        "$(($(date +%s) - start))" | tee -a "$SUMMARY"
    [ $rc -eq 0 ] || FAILED=1
    return $rc
}

skip() {
    printf '%-16s skipped (%s)\n' "$1" "$2" | tee -a "$SUMMARY"
}

install() {
    if [ -n "${CONTRASTLAB_VENV:-}" ]; then
        echo "reusing the venv $CONTRASTLAB_VENV"
        return 0
    fi
    python3 -m venv "$OUT/venv" || return 1
    local pip=("$OUT/venv/bin/python" -m pip install -q)
    if [ -n "${CONTRASTLAB_WHEELS:-}" ]; then
        pip+=(--no-index --find-links "$CONTRASTLAB_WHEELS")
    fi
    "${pip[@]}" -e '.[dev]'
}

echo "gpu check: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    | tee -a "$SUMMARY"
step install install || { echo "install failed: see $OUT/install.log"; exit 1; }
VENV=${CONTRASTLAB_VENV:-$OUT/venv}
# a reused venv may hold another checkout's editable install: test this tree's code
[ -n "${CONTRASTLAB_VENV:-}" ] && export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
PY="$VENV/bin/python"
CLI="$VENV/bin/contrastlab"

device_info() {
    "$PY" - <<'PYTHON'
import torch
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, available {torch.cuda.is_available()}")
for i in range(torch.cuda.device_count()):
    p = torch.cuda.get_device_properties(i)
    print(f"cuda:{i} {p.name}, {p.total_memory / 2**30:.1f} GiB, capability {p.major}.{p.minor}")
try:
    import faiss
    print(f"faiss {faiss.__version__}, GPUs seen by faiss: {faiss.get_num_gpus()}")
except Exception as err:  # the check reports, it does not stop
    print(f"faiss: {err}")
PYTHON
}
step device device_info && cp "$OUT/device.log" "$OUT/device.txt"
HAS_CUDA=$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)

step pytest_gpu "$PY" -m pytest -q -m gpu tests/gpu -rs -p no:cacheprovider \
    --junitxml "$OUT/pytest-gpu.xml"

random_cifar() {
    "$PY" - "$OUT/random-cifar10.npz" <<'PYTHON'
import sys
import numpy as np
rng = np.random.default_rng(0)
np.savez(sys.argv[1],
         images=rng.integers(0, 256, (50_000, 32, 32, 3), dtype=np.uint8),
         labels=rng.integers(0, 10, 50_000),
         test_images=rng.integers(0, 256, (10_000, 32, 32, 3), dtype=np.uint8),
         test_labels=rng.integers(0, 10, 10_000))
print("random CIFAR-shaped data written")
PYTHON
}

if [ "$HAS_CUDA" = 1 ]; then
    # cosine (lightly's NT-Xent beside it), the Gaussian and the Student-t kernel: one process
    # each per batch size, so the time stays in budget (every kernel is checked by pytest_gpu)
    step bench_loss "$CLI" bench loss --device cuda --kernels cosine,gaussian,student_t \
        --batches 4096,16384 --repeats 3 --out "$OUT/bench-loss"
    step bench_rld "$CLI" bench rld --device cuda --n 50000 --out "$OUT/bench-rld"
    step random_data random_cifar &&
        step train_cifar10 "$CLI" train --config cifar10_cosine \
            --data "npz:$OUT/random-cifar10.npz" --epochs 1 --set train.progress=false \
            --set eval.linear_probe=false --set eval.raw_baseline=false \
            --out "$OUT/train-cifar10-cosine"
else
    for name in bench_loss bench_rld train_cifar10; do skip "$name" "no CUDA device"; done
fi

echo "results under $OUT (summary.txt)"
exit $FAILED
