"""Runtime-check cost: what the checks add over importing TensorFlow and building the model.

Usage:  python benchmarks/bench_check.py [MODEL_FILE] [--repeat 3]
Default model: fixtures/runtime/good_lenet5_norm.py (LeNet-5 with Normalization + 4 BatchNormalization).
Target (issue 3): checks <= 2 s on LeNet-5.
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
    args = parser.parse_args()
    rows = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "normlint", "check", "--format", "json", args.model],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t
        doc = json.loads(out.stdout)
        rows.append((wall, doc["timings"]))
    best = min(rows, key=lambda r: r[1]["checks"])
    t = best[1]
    layers = sum(len(m["layers"]) for m in doc["models"])
    print(f"model: {args.model} ({layers} normalization layers), best of {args.repeat}")
    print(f"  import Keras + backend  {t['import_keras']:6.2f} s")
    print(f"  import file + build     {t['import_and_build']:6.2f} s")
    print(f"  normlint checks         {t['checks']:6.2f} s   (target <= 2 s)")
    print(f"  whole command (wall)    {best[0]:6.2f} s   (static lint, child process, report)")
    ok = t["checks"] <= 2.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
