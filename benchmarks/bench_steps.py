"""Where the analysis spends its time, step by step, as the flake8 plugin runs it (flake8's tree given).

Usage:  python benchmarks/bench_steps.py [CORPUS_DIR] [--repeat N]      (default: the installed keras package)

Every .py file is read and parsed with ``ast`` beforehand (flake8 does that, not the plugin). Then, for
each round: the prefilter on every file, and for the files some rule reads, the fast tree
(normlint.lint.ast_tree), the index, names + constants + flow, and the rules. Process time per step,
the best round of N (default 5), the cyclic collector off as the engine runs it.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from pathlib import Path

from corpus import corpus_and_repeat
from normlint.config import Config
from normlint.lint import ast_tree, constants, engine
from normlint.lint.context import FileContext


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    config = Config()
    files = []
    for path in sorted(Path(corpus).rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            files.append((source, ast.parse(source), str(path)))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
    clock = time.process_time
    best: dict[str, float] = {}
    analysed = 0
    gc.disable()
    for _ in range(repeat):
        spent = dict.fromkeys(("prefilter", "fast tree", "index", "names, constants, flow", "rules"), 0.0)
        analysed = 0
        for source, tree, path in files:
            start = clock()
            rules = engine.active_rules(source, config, path)
            spent["prefilter"] += clock() - start
            if not rules:
                continue
            analysed += 1
            start = clock()
            module = ast_tree.build(source, tree)
            spent["fast tree"] += clock() - start
            ctx = FileContext(module, source, path, dict(config.options))
            start = clock()
            ctx.index
            spent["index"] += clock() - start
            start = clock()
            ctx.names, ctx.constants, ctx.flow
            spent["names, constants, flow"] += clock() - start
            start = clock()
            with constants.current(lambda: ctx.constants):
                for rule in rules:
                    list(rule().check(ctx))
            spent["rules"] += clock() - start
        best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
    gc.enable()
    print(f"corpus: {corpus} ({len(files)} files, {analysed} analysed), best of {repeat} rounds, process time")
    for step, seconds in best.items():
        print(f"  {step:24s} {seconds:6.3f} s")
    print(f"  {'total':24s} {sum(best.values()):6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
