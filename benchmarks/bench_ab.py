"""Two versions of normlint on one corpus, run alternately: is B faster than A, beyond this machine's noise?

Usage:  python benchmarks/bench_ab.py A_DIR B_DIR [CORPUS_DIR] [--repeat N]   (default corpus: the keras package)

A_DIR and B_DIR are checkouts (``git worktree add /tmp/old REV``): each run is
``python -m normlint lint CORPUS`` with ``PYTHONPATH`` set to one of them, started from an empty
temporary folder, never from a checkout (Python puts the current folder first on ``sys.path``: started
from a checkout, both sides import that checkout's normlint). N rounds (default 25), A then B in one
round and B then A in the next; printed: best, first quartile and median of each, and the median of the
per-round ratios B/A, for the wall-clock time and for the CPU time (user + system, the workers
included: what a busy machine makes each side pay). ``--jobs N`` passes ``-j N``, ``--format F`` passes
``--format F`` (``sarif`` and ``json`` place fixes' edits: another path through the engine). Both checkouts are
byte-compiled first (as an install would be). Run A against itself first to see what "no difference"
looks like here.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import corpus_or_exit


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(checkout: str, corpus: str, cwd: str, options: list[str]) -> tuple[float, float]:
    """(wall-clock, CPU) seconds of one ``normlint lint`` run."""
    env = dict(os.environ, PYTHONPATH=checkout)
    cpu = _cpu()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "normlint", "lint", *options, corpus], env=env, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, _cpu() - cpu


def _imports_from(checkout: str, cwd: str) -> str:
    env = dict(os.environ, PYTHONPATH=checkout)
    out = subprocess.run([sys.executable, "-c", "import normlint; print(normlint.__file__)"], env=env, cwd=cwd,
                         capture_output=True, text=True, check=False)
    return out.stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description="normlint A against normlint B, alternately")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--jobs", type=int, default=None, help="pass -j N to both (default: normlint's own)")
    parser.add_argument("--format", default=None, help="pass --format F to both (default: text)")
    args = parser.parse_args()
    a_dir, b_dir = (str(Path(d).resolve()) for d in (args.a, args.b))
    corpus, repeat = str(Path(corpus_or_exit(args.corpus)).resolve()), args.repeat
    options = ["-j", str(args.jobs)] if args.jobs is not None else []
    options += ["--format", args.format] if args.format is not None else []
    for checkout in (a_dir, b_dir):  # both as installed: byte-compiled
        compileall.compile_dir(os.path.join(checkout, "normlint"), quiet=1)
    with tempfile.TemporaryDirectory() as cwd:
        for name, checkout in (("A", a_dir), ("B", b_dir)):
            print(f"{name}: {checkout} (normlint from {_imports_from(checkout, cwd)})")
        times: dict[str, list[float]] = {"A": [], "B": []}
        cpu: dict[str, list[float]] = {"A": [], "B": []}
        for i in range(repeat):
            for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
                wall, used = _run(a_dir if name == "A" else b_dir, corpus, cwd, options)
                times[name].append(wall)
                cpu[name].append(used)
    print(f"corpus: {corpus}, {repeat} rounds, {os.cpu_count()} CPUs{', ' + ' '.join(options) if options else ''}")
    for name, values in times.items():
        q1 = statistics.quantiles(values, n=4)[0]
        print(f"  {name}  best {min(values):.3f} s  first quartile {q1:.3f} s  median {statistics.median(values):.3f} s"
              f"  CPU median {statistics.median(cpu[name]):.3f} s")
    ratio = statistics.median(b / a for a, b in zip(times["A"], times["B"]))
    cpu_ratio = statistics.median(b / a for a, b in zip(cpu["A"], cpu["B"]))
    print(f"B / A: {ratio:.3f} (median of the per-round ratios; CPU time {cpu_ratio:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
