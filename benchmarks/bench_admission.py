"""What the prefilter lets through, and what it costs: per rule, the files only that rule's text triggers
admit (without it they would not be analysed), the analysis time of those files and what they find.

Usage:  python benchmarks/bench_admission.py [CORPUS_DIR] [--repeat N]   (default: the installed keras package)

Each .py file is read and parsed with ``ast`` beforehand (flake8 does that, not the plugin); a file some
rule's prefilter passes is linted as the flake8 plugin lints it (``lint_source`` with the tree given,
default selection), process time, the best of N (default 5). A file admitted by several rules counts
for each rule family it needs ("NL70": the input-preprocessing rules) when that family alone admits it.
This says where a sharper prefilter would pay: a family that admits many files alone and finds nothing
in them. It cannot say whether a sharper trigger would be sound: that is the rule's to argue.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from collections import Counter
from pathlib import Path

from corpus import corpus_and_repeat
from normlint.config import Config
from normlint.lint import engine


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    config = Config()
    seconds: Counter[str] = Counter()
    files: Counter[str] = Counter()
    found: Counter[str] = Counter()
    total, analysed, scanned = 0.0, 0, 0
    gc.disable()
    for path in sorted(Path(corpus).rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        scanned += 1
        rules = engine.active_rules(source, config, str(path))
        if not rules:
            continue
        best = float("inf")
        for _ in range(repeat):
            start = time.process_time()
            findings = engine.lint_source(source, str(path), config, fixes=False, tree=tree)
            best = min(best, time.process_time() - start)
        total += best
        analysed += 1
        keys = [rules[0].code] if len(rules) == 1 else []
        families = {r.code[:4] for r in rules}
        if len(families) == 1:
            keys.append(families.pop() + "x")
        for key in keys:
            seconds[key] += best
            files[key] += 1
            found[key] += len(findings)
    gc.enable()
    print(f"corpus: {corpus} ({scanned} files parsed, {analysed} analysed, {total:.3f} s analysis in all), "
          f"best of {repeat}, process time")
    print("  admitted by one rule or one family alone: files, their analysis time, their findings")
    for key, spent in seconds.most_common():
        print(f"  {key:7s} {files[key]:4d} files {spent:7.3f} s {found[key]:5d} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
