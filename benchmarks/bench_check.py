"""Runtime-check cost: what the checks add over importing TensorFlow and building the model.

Usage:  python benchmarks/bench_check.py [MODEL_FILE] [--repeat 3]
Default model: fixtures/runtime/good_lenet5_norm.py (LeNet-5 with Normalization + 4 BatchNormalization).
Target (issues 3 and 9): checks <= 2 s on LeNet-5; the ResNet-50-size figure is recorded, not judged
(benchmarks/resnet50_model.py; pass --batch-size 4 to keep its probe small).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", default=str(ROOT / "fixtures" / "runtime" / "good_lenet5_norm.py"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    rows = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "normlint", "check", "--format", "json", "--no-lint",
                              "--batch-size", str(args.batch_size), "--timeout", str(args.timeout), args.model],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        doc = json.loads(out.stdout)
        rows.append((wall, doc["timings"]))
    best = min(rows, key=lambda r: r[1]["checks"])
    t = best[1]
    layers = sum(1 for m in doc["models"] for la in m["layers"] if not la["layer"].endswith("(whole model)"))
    print(f"model: {args.model} ({layers} normalization layers, probe batch {args.batch_size}), best of {args.repeat}")
    print(f"  import Keras + backend  {t['import_keras']:6.2f} s")
    print(f"  import file + build     {t['import_and_build']:6.2f} s")
    print(f"  normlint checks         {t['checks']:6.2f} s   (target <= 2 s)")
    print(f"  whole command (wall)    {best[0]:6.2f} s   (static lint, child process, report)")
    if "good_lenet5_norm" not in args.model:
        print("(recorded, not judged)")
        return 0
    ok = t["checks"] <= 2.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
