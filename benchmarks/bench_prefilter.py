"""Cost of the text prefilter alone: every rule's ``may_match`` over every file of a corpus, in process.

Usage:  python benchmarks/bench_prefilter.py [CORPUS_DIR] [--repeat N]   (default: the installed keras package)
Prints the best-of-N total and the rules that take more than 10 ms, and how many files pass for any rule.
"""

from __future__ import annotations

import sys
import time

from corpus import corpus_and_repeat
from normlint.lint.files import discover, read_source
from normlint.lint.rules import ALL_RULES


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    sources = [read_source(p) for p in discover([corpus]).files]
    best: dict[str, float] = {}
    for _ in range(repeat):
        for rule in ALL_RULES:
            start = time.perf_counter()
            for source in sources:
                rule.may_match(source)
            best[rule.code] = min(best.get(rule.code, float("inf")), time.perf_counter() - start)
    passing = sum(1 for s in sources if any(rule.may_match(s) for rule in ALL_RULES))
    slow = ", ".join(f"{code} {seconds * 1000:.0f} ms" for code, seconds in best.items() if seconds > 0.01)
    print(f"{len(sources)} files, {passing} pass the prefilter of some rule; prefilter total "
          f"{sum(best.values()):.3f} s (best of {repeat}); over 10 ms: {slow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
