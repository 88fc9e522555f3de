#!/bin/bash
# The GPU measurements of issue 12 in one device run (figures recorded in docs/benchmarks.md).
#
#   here:            bash ../shared/gpu/device-smoke.sh prepare      # fills .gpu-carry/ (git-ignored)
#   on the GPU box:  bash benchmarks/gpu_run.sh [STEP...]            # in the project root, with .gpu-carry/
#
# Steps (default: all, in this order):
#   device-smoke  the shared script on JAX: normlint check on fixtures/runtime/*.py, then normlint smoke on the
#                 full CIFAR-10, 10 epochs, the GPU's default seeds, cold decode cache (smoke.json, curves.png)
#   jax1          one seed, 10 epochs, twice with a fresh cache folder: cold (decode and XLA compiles), then
#                 warm (decoded arrays and compiled steps reused): the <= 30 s wall target
#   throughput    harness vs bare model.fit on JAX (benchmarks/bench_smoke_throughput.py)
#   torch         the torch backend, one seed, 10 epochs
set -uo pipefail
export OUT=${OUT:-/tmp/out} NORMLINT_CACHE_DIR=/tmp/normlint-cache PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
mkdir -p "$OUT"
data=.gpu-carry/cifar10-jpg.tar.gz
steps=${*:-device-smoke jax1 throughput torch}
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
timings() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print({k: round(v, 2) for k, v in d['timings'].items()}, d['verdict'])" "$1"; }
if [[ " $steps " == *" device-smoke "* ]]; then
  bash .gpu-carry/device-smoke.sh jax
  timings "$OUT/smoke.json" | tee -a "$OUT/log.txt"
else
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu-carry/*.whl || exit 3
fi
export PYTHONPATH=/tmp/site:$PWD
{
  if [[ " $steps " == *" jax1 "* ]]; then
    for run in cold warm; do
      s=$(date +%s%N)
      NORMLINT_CACHE_DIR=/tmp/normlint-cache-jax1 KERAS_BACKEND=jax python3 -m normlint smoke --data "$data" --epochs 10 --seeds 1 --format json > "$OUT/smoke-jax-1seed-$run.json"
      echo "== jax, 1 seed, 10 epochs, $run run: rc=$? wall=$(ms "$s") ms"
      timings "$OUT/smoke-jax-1seed-$run.json"
    done
  fi
  if [[ " $steps " == *" throughput "* ]]; then
    echo "== throughput, jax"
    KERAS_BACKEND=jax python3 benchmarks/bench_smoke_throughput.py --data "$data" --epochs 3 --rounds 3 --json "$OUT/throughput-jax.json"
  fi
  if [[ " $steps " == *" torch "* ]]; then
    s=$(date +%s%N)
    KERAS_BACKEND=torch timeout 200 python3 -m normlint smoke --data "$data" --epochs 10 --seeds 1 --format json --plot "$OUT/curves-torch.png" > "$OUT/smoke-torch.json"
    echo "== torch, 1 seed, 10 epochs: rc=$? wall=$(ms "$s") ms"
    timings "$OUT/smoke-torch.json"
  fi
} 2>&1 | grep -v "^\[" | tee -a "$OUT/log.txt"
