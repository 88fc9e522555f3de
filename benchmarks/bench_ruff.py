"""`normlint lint` (default options) against `ruff check --select ALL --no-cache`, cold, paired rounds.

Usage:  python benchmarks/bench_ruff.py [CORPUS_DIR] [--repeat N]
Default corpus: the installed keras package's sources. Each round runs both tools once as fresh processes,
in alternating order (ruff first in odd rounds), nothing cached between runs (normlint keeps no cache
unless --cache-dir is given; ruff's is off with --no-cache). Printed: each tool's best and median wall-clock,
and the median of the per-round ratios normlint / ruff (target <= 1.00), with each tool's CPU time (user +
system, its child processes and threads included): a tool that needs more CPU than the other loses more
wall time when the machine is busy; and the floor under any Python
linter that reports every file's syntax errors as normlint does (NL000): Python started, every file read
and compiled, in as many forked processes. Then, separately, the warm
figure: `normlint lint --cache-dir` run twice on the same files (the second run reads the cache), with ruff's
own cache warm for comparison. Ruff must be installed (`pip install ruff`): it is a benchmark tool, not a
dependency of normlint. The ruff executable beside this Python is run, not a launcher found on PATH (a
pyenv shim is a bash script that costs ~0.05 s a run); the path is printed.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile

from corpus import corpus_and_repeat, floor_command, ruff_executable, timed_run


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    ruff = ruff_executable()
    if ruff is None:
        print("ruff is not installed (pip install ruff)", file=sys.stderr)
        return 2
    version = subprocess.run([ruff, "--version"], capture_output=True, text=True).stdout.strip()
    normlint = [sys.executable, "-m", "normlint", "lint", corpus]
    ruff_cmd = [ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "--quiet", corpus]
    floor_cmd = floor_command(corpus)
    commands = {"ruff": ruff_cmd, "normlint": normlint, "floor": floor_cmd}
    times: dict[str, list[float]] = {"ruff": [], "normlint": [], "floor": []}
    cpu: dict[str, list[float]] = {"ruff": [], "normlint": [], "floor": []}
    ratios, floor_ratios = [], []
    for i in range(repeat):
        order = ["ruff", "normlint", "floor"] if i % 2 == 0 else ["floor", "normlint", "ruff"]
        got = {}
        for name in order:
            before = _cpu()
            got[name] = timed_run(commands[name])
            cpu[name].append(_cpu() - before)
        for name, t in got.items():
            times[name].append(t)
        ratios.append(got["normlint"] / got["ruff"])
        floor_ratios.append(got["floor"] / got["ruff"])
    files = sum(1 for root, _, names in os.walk(corpus) for n in names if n.endswith((".py", ".ipynb")))
    print(f"corpus: {corpus} ({files} files), {repeat} paired rounds, {version} ({ruff}), {os.cpu_count()} CPUs")
    for name, label in (("ruff", "ruff check --select ALL --no-cache"), ("normlint", "normlint lint")):
        print(f"  {label:38s} {min(times[name]):6.2f} s (median {statistics.median(times[name]):6.2f}), "
              f"CPU {statistics.median(cpu[name]):.2f} s median")
    print(f"  {'floor: Python + compile() of each file':38s} {min(times['floor']):6.2f} s (median "
          f"{statistics.median(times['floor']):6.2f}), {statistics.median(floor_ratios):.2f}x ruff: what NL000 on "
          f"every file costs before any analysis")
    ratio = statistics.median(ratios)
    print(f"normlint / ruff (cold): {ratio:.2f}x median of {repeat} paired rounds  (target <= 1.00x)  "
          f"{'PASS' if ratio <= 1.0 else 'FAIL'}")
    with tempfile.TemporaryDirectory() as cache:
        warm_cmd = [*normlint[:4], "--cache-dir", cache, corpus]
        timed_run(warm_cmd)  # fills the cache
        warm = [timed_run(warm_cmd) for _ in range(repeat)]
    with tempfile.TemporaryDirectory() as ruff_cache:
        ruff_warm_cmd = [ruff, "check", "--select", "ALL", "--cache-dir", ruff_cache, "--exit-zero", "--quiet", corpus]
        timed_run(ruff_warm_cmd)
        ruff_warm = [timed_run(ruff_warm_cmd) for _ in range(repeat)]
    print(f"warm (results cached): normlint lint --cache-dir {statistics.median(warm):.2f} s median, "
          f"ruff with its cache {statistics.median(ruff_warm):.2f} s median")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
