"""What NL000 (every file's syntax checked by the running interpreter) costs, and what else could do it.

Usage:  python benchmarks/bench_syntax_check.py [CORPUS_DIR] [--repeat N]   (default: the installed keras package)

The files are split as the prefilter splits them: those some rule analyses (normlint needs their
``ast`` tree anyway) and the rest. For each group, process time (best of N, default 5) of:
``compile(source)`` (what the skipped files cost: parser, symbol table and code generation),
``ast.parse`` (parser + Python objects), ``compile(tree)`` of an ``ast.parse`` tree (what the analysed
files cost on top of their parse: the tree converted back, symbol table, code generation) and
``symtable.symtable`` (parser + symbol table, no code generation: cheaper, but it misses the errors only
the code generator raises, ``return`` or ``await`` outside a function, ``break`` outside a loop, so it
cannot decide NL000). Last, ``compile(tree)`` of the analysed files whose fast tree's builder saw something
the compiler could reject (normlint.lint.compiler_checks): the only analysed files the engine compiles.
"""

from __future__ import annotations

import ast
import gc
import symtable
import sys
import time
from pathlib import Path
from typing import Callable

from corpus import corpus_and_repeat
from normlint.config import Config
from normlint.lint import ast_tree, engine


def _best(repeat: int, files: list[tuple[str, str]], step: Callable[[str, str], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for path, source in files:
            try:
                step(source, path)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                pass
        best = min(best, time.process_time() - start)
    return best


def _unsafe(source: str, tree: ast.Module) -> bool:
    """The fast tree's builder saw something CPython's compiler could reject (normlint.lint.compiler_checks):
    the engine compiles that tree; the others it does not."""
    try:
        builder = ast_tree.builder(source, tree)
        builder.module(tree)
    except Exception:  # noqa: BLE001 - not built: compiled
        return True
    return builder.unsafe is not None


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    config = Config()
    analysed: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for path in sorted(Path(corpus).rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        (analysed if engine.active_rules(source, config, str(path)) else skipped).append((str(path), source))
    trees = {}
    for path, source in analysed:
        try:
            trees[path] = ast.parse(source, path)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    steps: dict[str, Callable[[str, str], object]] = {
        "compile(source)": lambda s, p: compile(s, p, "exec", dont_inherit=True),
        "ast.parse": lambda s, p: ast.parse(s, p),
        "symtable.symtable": lambda s, p: symtable.symtable(s, p, "exec"),
    }
    gc.disable()
    print(f"corpus: {corpus}, best of {repeat}, process time")
    for name, files in (("analysed", analysed), ("skipped", skipped)):
        size = sum(len(s) for _, s in files) / 1024
        print(f"  {name}: {len(files)} files, {size:.0f} KiB")
        for label, step in steps.items():
            print(f"    {label:28s} {_best(repeat, files, step):6.3f} s")
        if name == "analysed":
            with_tree = [(p, s) for p, s in files if p in trees]
            seconds = _best(repeat, with_tree, lambda s, p: compile(trees[p], p, "exec", dont_inherit=True))
            print(f"    {'compile(tree), tree given':28s} {seconds:6.3f} s")
            unsafe = [(p, s) for p, s in with_tree if _unsafe(s, trees[p])]
            seconds = _best(repeat, unsafe, lambda s, p: compile(trees[p], p, "exec", dont_inherit=True))
            print(f"    {'compile(tree) of the unsafe':28s} {seconds:6.3f} s  ({len(unsafe)} of {len(with_tree)} files: "
                  f"what the compiler checks leave)")
    gc.enable()
    return 0


if __name__ == "__main__":
    sys.exit(main())
