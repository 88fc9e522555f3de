"""What the lint benchmarks share: the corpus (a folder named on the command line, else the installed
keras package), normlint byte-compiled as installed, the ruff executable, a timed run of a command."""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import math
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "normlint"


def corpus_or_exit(given: str | None) -> str:
    """``given``, or the keras package's source folder; exits 2 with a message when neither exists."""
    if given is not None:
        return given
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        print("no corpus given and keras is not installed", file=sys.stderr)
        raise SystemExit(2)
    return spec.submodule_search_locations[0]


def bytecode(source_only: bool = False) -> str:
    """normlint as an installed copy runs: byte-compiled (``pip install`` compiles a package's modules; an
    editable checkout under PYTHONDONTWRITEBYTECODE=1, as on this machine, would compile every module again
    at every start, ~0.05 s, while flake8, libcst and the rest were compiled when installed).
    ``source_only``: normlint's bytecode removed instead, to measure that case. Says which."""
    if source_only:
        for cache in PACKAGE.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        return "normlint: from source, no bytecode (--source-only)"
    compileall.compile_dir(str(PACKAGE), quiet=1)
    return "normlint: byte-compiled, as installed (--source-only to measure without)"


def corpus_and_repeat() -> tuple[str, int]:
    """``[CORPUS_DIR] [--repeat N] [--source-only]`` from the command line (default N: 5), the corpus
    resolved; normlint byte-compiled (or its bytecode removed: ``bytecode``), which is printed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source-only", action="store_true", help="measure normlint without its bytecode")
    args = parser.parse_args()
    print(bytecode(args.source_only))
    return corpus_or_exit(args.corpus), args.repeat


def ruff_executable() -> str | None:
    """The ruff executable itself: the one installed beside this Python first. A launcher found on PATH
    (pyenv's shims are bash scripts that run ``pyenv exec``) costs ~0.05 s a run that normlint, started
    as ``sys.executable -m normlint``, does not pay: such a comparison flatters normlint."""
    beside = os.path.join(sysconfig.get_path("scripts"), "ruff" + (".exe" if os.name == "nt" else ""))
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    return shutil.which("ruff")


def timed_run(cmd: list[str], env: dict | None = None) -> float:
    """Wall-clock seconds of one run of ``cmd`` (its output discarded, its exit status not judged)."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    return time.perf_counter() - start


# What no Python linter that reports every file's syntax errors can go under: start Python, read every
# file and compile() it (CPython's parser and compiler), in as many forked processes as normlint uses
# (argv[2]; 1: in the process itself, where an instruction count sees it).
FLOOR = """
import os, sys
def work(paths):
    for p in paths:
        with open(p, "rb") as fh:
            data = fh.read()
        try:
            compile(data, p, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            pass
files = [os.path.join(r, n) for r, _, ns in os.walk(sys.argv[1]) for n in ns if n.endswith(".py")]
jobs = int(sys.argv[2])
if jobs == 1:
    work(files)
else:
    pids = []
    for i in range(jobs):
        pid = os.fork()
        if pid == 0:
            work(files[i::jobs])
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
"""


def floor_command(corpus: str, jobs: int | None = None) -> list[str]:
    """The floor program (FLOOR) on ``corpus``, in ``jobs`` processes (default: as many as normlint's workers)."""
    return [sys.executable, "-c", FLOOR, corpus, str(jobs or min(8, len(os.sched_getaffinity(0))))]


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free interval for the median of ``values`` (the sign test's order statistics): the
    k-th smallest and k-th largest value, k the largest for which the chance that fewer than k of n values
    fall below the true median is at most (1 - confidence) / 2. None when n is too small for one (n < 6
    at 95 %). It assumes only that the rounds are independent draws: it says how far the median of this
    many rounds may be from the ratio that many more rounds would settle on."""
    n = len(values)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below: P(Binomial(n, 1/2) <= k - 1)
    while k < n // 2:
        below_next = below + math.comb(n, k) / 2 ** n
        if below_next > tail:
            break
        k, below = k + 1, below_next
    if k == 0:
        return None
    ordered = sorted(values)
    return ordered[k - 1], ordered[n - k]


def verdict(values: list[float], target: float) -> tuple[str, str]:
    """("PASS" | "UNDECIDED" | "FAIL", words): PASS when the 95 % interval of the median lies at or under
    ``target``, FAIL when the median is over it, UNDECIDED between (more rounds decide)."""
    median = statistics.median(values)
    interval = median_interval(values)
    if interval is None:
        words = f"no 95 % interval from {len(values)} rounds (6 or more give one)"
        return ("PASS" if median <= target else "FAIL"), words
    low, high = interval
    words = f"95 % interval of the median {low:.3f}-{high:.3f}"
    if high <= target:
        return "PASS", words
    return ("UNDECIDED" if median <= target else "FAIL"), words
