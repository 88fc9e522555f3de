"""Cost of the text prefilter alone: every rule's ``may_match`` over every file of a corpus, in process.

Usage:  python benchmarks/bench_prefilter.py [CORPUS_DIR] [--repeat N]   (default: the installed keras package)
Prints the best-of-N total as the engine runs it (file by file, every rule: the rules share the words and
trigger regexes they look for, once a file), how many files pass for any rule, and the rules that take
more than 10 ms each alone (rule by rule over every file: nothing shared).
"""

from __future__ import annotations

import sys
import time

from corpus import corpus_and_repeat
from normlint.config import Config
from normlint.lint.engine import active_rules
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
    config = Config()
    total = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        passing = sum(1 for s in sources if active_rules(s, config, "x.py"))
        total = min(total, time.perf_counter() - start)
    slow = ", ".join(f"{code} {seconds * 1000:.0f} ms" for code, seconds in best.items() if seconds > 0.01)
    print(f"{len(sources)} files, {passing} pass the prefilter of some rule; prefilter total "
          f"{total:.3f} s (best of {repeat}, file by file); over 10 ms alone: {slow or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
