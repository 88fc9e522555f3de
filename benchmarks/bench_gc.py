"""What CPython's cyclic garbage collector costs a lint run: its time, its passes and what it collects.

Usage:  python benchmarks/bench_gc.py [CORPUS_DIR] [--repeat N]      (default: the installed keras package)

Each round is a fresh ``normlint lint CORPUS -j 1`` process (in one process, so that everything is
counted) with a ``gc.callbacks`` hook: process time inside the collector, the number of collections and
of objects they freed, and the run's process time, best and median of N rounds (default 5). A file's
analysis should be freed by reference counting when its findings are made; what the collector frees is
what was left in reference cycles, and each of its passes first walks every object it tracks
(tests/test_reference_cycles.py). Run it with ``PYTHONPATH`` set to another checkout to compare.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from corpus import corpus_and_repeat

DRIVER = r"""
import gc, json, os, sys, time
spent = [0.0, 0, 0, 0.0]
def hook(phase, info):
    if phase == "start":
        spent[3] = time.process_time()
    else:
        spent[0] += time.process_time() - spent[3]
        spent[1] += 1
        spent[2] += info["collected"]
gc.callbacks.append(hook)
from normlint import cli
exit_now = os._exit
def report(code):
    print(json.dumps({"gc": spent[0], "collections": spent[1], "collected": spent[2], "cpu": time.process_time()}),
          file=sys.stderr, flush=True)
    exit_now(code)
os._exit = report  # normlint's command leaves through os._exit
sys.argv = ["normlint", "lint", sys.argv[1], "-j", "1", "-q"]
cli.run()
"""


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    rounds = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-c", DRIVER, corpus], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=False)
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        if not last.startswith("{"):
            print(f"the run failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
            return 1
        rounds.append(json.loads(last))
    print(f"corpus: {corpus}, {repeat} rounds of normlint lint -j 1, process time")
    for key, unit in (("gc", "s"), ("collections", ""), ("collected", "objects"), ("cpu", "s")):
        values = [r[key] for r in rounds]
        fmt = "{:.4f}" if unit == "s" else "{:.0f}"
        print(f"  {key:12s} best {fmt.format(min(values)):>9s}  median {fmt.format(statistics.median(values)):>9s} {unit}")
    share = statistics.median(r["gc"] / r["cpu"] for r in rounds)
    print(f"the cyclic collector: {share:.1%} of the run's process time (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
