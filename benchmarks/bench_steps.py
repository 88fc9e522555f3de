"""Where the analysis spends its time, step by step, as the flake8 plugin runs it (flake8's tree given).

Usage:  python benchmarks/bench_steps.py [CORPUS_DIR] [--repeat N]      (default: the installed keras package)

Every .py file is read and parsed with ``ast`` beforehand (flake8 does that, not the plugin). Then, for
each round: the prefilter on every file, and for the files some rule reads, the fast tree
(normlint.lint.ast_tree), the index, names + constants, and the rules with the flow as the engine
runs them: the flow is computed when the first rule asks for it, and its time is its own step (a file
no rule asks it of pays none; the count of files that did is printed). Process time per step, the best
round of N (default 5), the cyclic collector off as the engine runs it.
"""

from __future__ import annotations

import ast
import gc
import sys
import time
from pathlib import Path

from corpus import corpus_and_repeat
from normlint.config import Config
from normlint.lint import ast_tree, constants, context, engine
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
    flows = [0, 0.0]  # files whose flow was computed, its time in the current round
    analyze = context.analyze

    def timed_analyze(*args):
        start = clock()
        try:
            return analyze(*args)
        finally:
            flows[0] += 1
            flows[1] += clock() - start

    context.analyze = timed_analyze  # FileContext.flow calls it on first use
    gc.disable()
    for _ in range(repeat):
        spent = dict.fromkeys(("prefilter", "fast tree", "index", "names, constants", "flow", "rules"), 0.0)
        analysed = flows[0] = 0
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
            ctx.names, ctx.constants
            spent["names, constants"] += clock() - start
            flows[1] = 0.0
            start = clock()
            with constants.current(lambda: ctx.constants):
                for rule in rules:
                    list(rule().check(ctx))
            spent["flow"] += flows[1]
            spent["rules"] += clock() - start - flows[1]
        best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
    gc.enable()
    context.analyze = analyze
    print(f"corpus: {corpus} ({len(files)} files, {analysed} analysed, {flows[0]} with the flow a rule asked for), "
          f"best of {repeat} rounds, process time")
    for step, seconds in best.items():
        print(f"  {step:24s} {seconds:6.3f} s")
    print(f"  {'total':24s} {sum(best.values()):6.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
