"""What a run on a few files costs before any linting: Python's start and normlint's imports, against ruff.

Usage:  python benchmarks/bench_startup.py [FILE] [--repeat N]
(default FILE: fixtures/rules/NL101_positive.py, a small model file with findings)

The pre-commit case: a hook lints the few files a commit touches, and a cold `normlint lint` over a few
hundred files spends this much before its workers start. Paired rounds (default 9), each command a fresh
process, in alternating order; best and median wall-clock of:

  python -c pass                   Python's own start (site and this environment's .pth files)
  python -c "import <lint path>"   + normlint's imports (what `normlint lint` loads before linting)
  python -m normlint lint FILE     the whole run on one file
  ruff check --select ALL FILE     the same file, ruff's executable (--no-cache)

Then normlint's imports split (one process, ``-X importtime`` self times, which add their own overhead):
the stdlib modules they pull in, normlint's own modules, and within those the dataclasses created
(``dataclasses`` generates and compiles each one's methods at import) and the node classes generated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from corpus import bytecode, ruff_executable, timed_run

ROOT = Path(__file__).resolve().parent.parent
LINT_PATH = "import normlint.cli, normlint.config, normlint.lint.files, normlint.lint.parallel, normlint.report"

# in a fresh process: the imports' wall-clock, the time spent creating dataclasses and generating node classes
SPLIT = """
import json, sys, time
start = time.perf_counter()
import dataclasses
spent = {"dataclasses": 0.0, "dataclass_count": 0}
real = dataclasses._process_class
def timed(cls, *args, **kwargs):
    t = time.perf_counter()
    try:
        return real(cls, *args, **kwargs)
    finally:
        spent["dataclasses"] += time.perf_counter() - t
        spent["dataclass_count"] += 1
dataclasses._process_class = timed
t = time.perf_counter()
import normlint.lint.nodes
spent["nodes"] = time.perf_counter() - t
exec(sys.argv[1])
spent["total"] = time.perf_counter() - start
print(json.dumps(spent))
"""


def _importtime_split() -> tuple[float, float]:
    """(normlint's own modules, everything else they import), self times in seconds under -X importtime."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", LINT_PATH], capture_output=True, text=True).stderr
    ours = other = 0.0
    started = False
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:"):
            continue
        name = parts[2].strip()
        if name == "site":  # what came before is Python's own start
            started = True
            continue
        if not started or not parts[0].split(":")[1].strip().isdigit():
            continue
        micro = int(parts[0].split(":")[1])
        if name.startswith("normlint"):
            ours += micro / 1e6
        else:
            other += micro / 1e6
    return ours, other


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", nargs="?", default=str(ROOT / "fixtures" / "rules" / "NL101_positive.py"))
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    print(bytecode())
    ruff = ruff_executable()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "+ normlint's imports": [sys.executable, "-c", LINT_PATH],
        "normlint lint FILE": [sys.executable, "-m", "normlint", "lint", args.file],
    }
    if ruff:
        commands["ruff check --select ALL FILE"] = [ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero",
                                                    "--quiet", args.file]
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(args.repeat):
        for name in (list(commands) if i % 2 == 0 else list(reversed(commands))):
            times[name].append(timed_run(commands[name]))
    print(f"{args.file}, {args.repeat} paired rounds, {os.cpu_count()} CPUs" + ("" if ruff else " (ruff not installed)"))
    for name, got in times.items():
        print(f"  {name:30s} {min(got):6.3f} s (median {statistics.median(got):6.3f})")
    split = [json.loads(subprocess.run([sys.executable, "-c", SPLIT, LINT_PATH], capture_output=True, text=True,
                                       check=True).stdout) for _ in range(args.repeat)]
    best = min(split, key=lambda s: s["total"])
    ours, other = _importtime_split()
    print(f"normlint's imports, best of {args.repeat}: {best['total'] * 1e3:.1f} ms; of which "
          f"{best['dataclass_count']} dataclasses created {best['dataclasses'] * 1e3:.1f} ms, "
          f"normlint.lint.nodes {best['nodes'] * 1e3:.1f} ms")
    print(f"-X importtime self times: normlint's modules {ours * 1e3:.1f} ms, the modules they import {other * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
