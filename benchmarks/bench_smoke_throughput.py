"""Steady-state training throughput of ``normlint smoke``'s harness against a bare ``model.fit``, on whatever
backend KERAS_BACKEND names and whatever device it finds.

Usage:  [KERAS_BACKEND=jax] python benchmarks/bench_smoke_throughput.py [--data ../shared/data/cifar10-jpg.tar.gz]
            [--epochs 3] [--rounds 3] [--json out.json]

One normalized LeNet-5 is compiled once and warmed up by one epoch (so XLA/torch compile time is left out of
both sides); then, round after round, a bare ``model.fit`` (no callbacks) and the harness's ``train()`` (its
per-epoch callback, the same float32 arrays) each train ``--epochs`` epochs with validation from freshly
re-initialized weights, bare first. Target (issue 12): harness images/s >= 1/1.1 of bare on a GPU, >= 0.95 on a
CPU, judged on the median of the paired rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cifar10-jpg.tar.gz"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--json")
    args = parser.parse_args()

    from normlint.runtime.data import load_cifar

    ds = load_cifar(args.data)
    from normlint.runtime.backend import device_name, import_keras
    from normlint.runtime.smoke import build_normalized, compile_model, eval_batch_size, full_batches, reinitialize, train

    keras = import_keras("benchmark")
    device, backend = device_name(), keras.backend.backend()
    n = full_batches(len(ds.x_train), args.batch_size)  # as normlint smoke trains: whole batches only
    x_train, y_train, x_test = ds.x_train[:n].astype("float32"), ds.y_train[:n], ds.x_test.astype("float32")
    eval_batch = eval_batch_size(len(x_test), args.batch_size)
    keras.utils.set_random_seed(0)
    model = compile_model(build_normalized(x_train))
    t = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=1, validation_data=(x_test, ds.y_test),
              validation_batch_size=eval_batch, verbose=0)
    warmup = time.perf_counter() - t
    ratios, rows = [], []
    for r in range(args.rounds):
        walls = {}
        for harness in (False, True):
            reinitialize(model, build_normalized())
            t = time.perf_counter()
            if harness:
                train(model, ds, args.epochs, args.batch_size, lambda row: None, (x_train, x_test))
            else:
                model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                          validation_data=(x_test, ds.y_test), validation_batch_size=eval_batch, verbose=0)
            walls[harness] = time.perf_counter() - t
        ratio = walls[False] / walls[True]  # harness throughput / bare throughput
        ratios.append(ratio)
        rows.append({"bare_seconds": walls[False], "harness_seconds": walls[True], "ratio": ratio})
        n = len(x_train) * args.epochs
        print(f"round {r + 1}: bare {walls[False]:.2f} s ({n / walls[False]:.0f} img/s), harness {walls[True]:.2f} s "
              f"({n / walls[True]:.0f} img/s): {ratio:.3f}x", flush=True)
    target = 1 / 1.1 if not device.startswith("CPU") else 0.95
    ok = median(ratios) >= target
    print(f"{device} on {backend}; warm-up epoch (compile) {warmup:.1f} s; harness/bare throughput median "
          f"{median(ratios):.3f}x over {args.rounds} rounds (target >= {target:.3f}): {'PASS' if ok else 'FAIL'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": device, "backend": backend, "warmup_seconds": warmup,
                                               "rounds": rows, "median_ratio": median(ratios), "pass": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
