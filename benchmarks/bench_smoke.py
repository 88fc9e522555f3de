"""Smoke-train benchmark: full CIFAR-10, LeNet-5 plain vs normalized, and the harness's throughput
against a bare ``model.fit`` of the same normalized model.

Usage:  python benchmarks/bench_smoke.py [--data ../shared/data/cifar10-jpg.tar.gz] [--epochs 10]
          [--plot docs/smoke-cifar10.png] [--json out.json]
Targets (issue 4): normalized beats plain on val_acc; both within +-0.04 of the article
(plain 0.5009, normalized 0.6177 after 10 epochs); harness throughput >= 0.95x bare fit.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fit_walls(data: str, epochs: int, batch_size: int, seed: int, rounds: int = 2) -> tuple[float, float]:
    """(harness, bare) wall seconds of training the normalized model for ``epochs`` epochs with validation:
    the harness is normlint smoke's ``train()`` (its epoch callback included), bare is ``model.fit`` with
    no callbacks. Same data, same seed, a fresh model each time, the same float32 conversions inside the
    timing; the two take turns (bare first) ``rounds`` times and the best of each counts, so that warm-up
    and drift hit both alike."""
    import keras

    from normlint.runtime.data import load_cifar
    from normlint.runtime.smoke import build_normalized, compile_model, train

    ds = load_cifar(data, None, seed)
    walls: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(rounds):
        for harness in (False, True):
            keras.utils.set_random_seed(seed)
            model = compile_model(build_normalized(ds.x_train.astype("float32")))
            t = time.perf_counter()
            if harness:
                train(model, ds, epochs, batch_size, lambda row: None)
            else:
                model.fit(ds.x_train.astype("float32"), ds.y_train, batch_size=batch_size, epochs=epochs,
                          validation_data=(ds.x_test.astype("float32"), ds.y_test), verbose=0)
            walls[harness].append(time.perf_counter() - t)
    return min(walls[True]), min(walls[False])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cifar10-jpg.tar.gz"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--throughput-epochs", type=int, default=3)
    parser.add_argument("--throughput-rounds", type=int, default=2)
    parser.add_argument("--plot", default=str(ROOT / "docs" / "smoke-cifar10.png"))
    parser.add_argument("--json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    smoke = subprocess.run(
        [sys.executable, "-m", "normlint", "smoke", "--data", args.data, "--epochs", str(args.epochs),
         "--batch-size", str(args.batch_size), "--format", "json", "--plot", args.plot, "--seed", str(args.seed)],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - t0
    if smoke.returncode not in (0, 1):
        print(smoke.stderr[-3000:], file=sys.stderr)
        return 2
    doc = json.loads(smoke.stdout)
    plain = doc["models"]["plain"]["history"]
    norm = doc["models"]["normalized"]["history"]
    harness_wall, bare_wall = fit_walls(args.data, args.throughput_epochs, args.batch_size, args.seed, args.throughput_rounds)
    n_train = doc["data"]["train"]
    harness_ips = n_train * args.throughput_epochs / harness_wall
    bare_ips = n_train * args.throughput_epochs / bare_wall
    final = {"plain": plain[-1]["val_acc"], "normalized": norm[-1]["val_acc"]}
    peak = {"plain": max(r["val_acc"] for r in plain), "normalized": max(r["val_acc"] for r in norm)}
    article = doc["article"]
    checks = {
        "normalized beats plain (final val_acc)": final["normalized"] > final["plain"],
        "plain within 0.04 of the article": abs(final["plain"] - article["plain"]) <= 0.04,
        "normalized within 0.04 of the article": abs(final["normalized"] - article["normalized"]) <= 0.04,
        "harness throughput >= 0.95x bare fit": harness_ips >= 0.95 * bare_ips,
    }
    print(f"device: {doc['device']}; data: {doc['data']}; epochs {args.epochs}, batch {args.batch_size}; wall {wall:.0f} s")
    print(f"final val_acc: plain {final['plain']:.4f} (article {article['plain']}), normalized {final['normalized']:.4f} (article {article['normalized']})")
    print(f"peak  val_acc: plain {peak['plain']:.4f}, normalized {peak['normalized']:.4f} (article peak {article['normalized_peak']})")
    print(f"normalized model, {args.throughput_epochs} epochs with validation, best of {args.throughput_rounds}: "
          f"harness {harness_wall:.1f} s ({harness_ips:.0f} img/s) vs bare model.fit {bare_wall:.1f} s ({bare_ips:.0f} img/s) = {harness_ips / bare_ips:.3f}x")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        throughput = {"epochs": args.throughput_epochs, "harness_seconds": harness_wall, "bare_fit_seconds": bare_wall}
        Path(args.json).write_text(json.dumps({"smoke": doc, "throughput": throughput, "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
