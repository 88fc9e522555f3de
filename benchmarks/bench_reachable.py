"""How much of an analysed file "only what can matter" would leave out (issue 15's first idea, measured).

Usage:  python benchmarks/bench_reachable.py [CORPUS_DIR]     (default: the installed keras package)

For each file some rule's prefilter lets through, its top-level statements are split in two: kept are the
imports, the statements whose text holds a required word of a rule that matched (``Rule.required``, every
alternative), and then, repeated until nothing changes, the definitions a kept statement names (the issue's
"plus the definitions they reach"); "both ways" also keeps the statements that name a kept definition (a
caller of a kept helper: ``x = block(x)`` in a function whose own text names no layer). The figure is the
share of ``ast`` nodes (and of bytes) kept: what a parse and an analysis of the kept statements alone could
save at most. Nothing here changes what normlint does.
"""

from __future__ import annotations

import ast
import sys
import time
from pathlib import Path

from corpus import corpus_or_exit
from normlint.config import Config
from normlint.lint.engine import active_rules, lint_source
from normlint.lint.files import read_source


def _names(stmt: ast.stmt) -> tuple[set[str], set[str]]:
    """(names the statement binds at the top level, names it reads anywhere)."""
    bound: set[str] = set()
    used: set[str] = set()
    targets = {id(n) for n in _targets(stmt)}
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name):
            (bound if id(node) in targets else used).add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        bound.add(stmt.name)
    return bound, used


def _targets(stmt: ast.stmt) -> list[ast.AST]:
    """The nodes of the names a top-level statement binds (assignment and loop targets)."""
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return [n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return []


def kept_share(source: str, words: set[str], both_ways: bool) -> tuple[tuple[int, int, int, int], str]:
    """((nodes kept, nodes, bytes kept, bytes), the file with the statements left out blanked) of one file."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    stmts = tree.body
    texts = ["".join(lines[s.lineno - 1:s.end_lineno]) for s in stmts]  # type: ignore[index]
    sizes = [sum(1 for _ in ast.walk(s)) for s in stmts]
    names = [_names(s) for s in stmts]
    keep = [isinstance(s, (ast.Import, ast.ImportFrom)) or any(w in t for w in words) for s, t in zip(stmts, texts)]
    changed = True
    while changed:
        changed = False
        read = set().union(*(names[i][1] for i, k in enumerate(keep) if k))
        defined = set().union(*(names[i][0] for i, k in enumerate(keep) if k))
        for i, k in enumerate(keep):
            if not k and (names[i][0] & read or (both_ways and names[i][1] & defined)):
                keep[i] = changed = True
    nbytes = [len(t) for t in texts]
    ranges = [(min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])]), s.end_lineno or s.lineno)
              for s in stmts]
    blank = {i for (first, last), k in zip(ranges, keep) if not k for i in range(first, last + 1)}
    blank -= {i for (first, last), k in zip(ranges, keep) if k for i in range(first, last + 1)}  # a shared line
    reduced = "".join("\n" if i in blank else line for i, line in enumerate(lines, 1))
    return ((sum(n for n, k in zip(sizes, keep) if k), sum(sizes),
             sum(n for n, k in zip(nbytes, keep) if k), sum(nbytes)), reduced)


def _analysis(source: str, path: str, config: Config) -> tuple[float, set[tuple[int, int, str]]]:
    """(CPU seconds of the analysis alone: no NL000 compile, no fixes' edits, findings as (line, col, code))."""
    start = time.process_time()
    found = lint_source(source, path, config, fixes=False)
    return time.process_time() - start, {(f.line, f.col, f.code) for f in found}


def main() -> int:
    corpus = corpus_or_exit(sys.argv[1] if len(sys.argv) > 1 else None)
    config = Config()
    ways = {False: "trigger text + the definitions it reaches", True: "definitions reached, and their callers"}
    totals = {way: [0, 0, 0, 0] for way in ways}
    seconds = {way: 0.0 for way in ways}
    lost = {way: 0 for way in ways}
    whole_seconds = 0.0
    whole_findings = analysed = halved = 0
    for path in sorted(Path(corpus).rglob("*.py")):
        try:
            source = read_source(str(path))
            rules = active_rules(source, config, str(path))
            if not rules:
                continue
            words = {w for rule in rules for need in rule.required for w in ((need,) if isinstance(need, str) else need)}
            shares = {way: kept_share(source, words, way) for way in ways}
        except (SyntaxError, ValueError, OSError, UnicodeDecodeError):
            continue
        analysed += 1
        spent, whole = _analysis(source, str(path), config)
        whole_seconds += spent
        whole_findings += len(whole)
        for way, (share, reduced) in shares.items():
            totals[way] = [a + b for a, b in zip(totals[way], share)]
            spent, found = _analysis(reduced, str(path), config)
            seconds[way] += spent
            lost[way] += len(whole - found)
        halved += shares[False][0][0] * 2 <= shares[False][0][1]
    print(f"corpus: {corpus}: {analysed} files pass the prefilter; analysing them whole: {whole_seconds:.3f} s CPU, "
          f"{whole_findings} findings")
    for way, (nodes_kept, nodes, bytes_kept, nbytes) in totals.items():
        print(f"  {ways[way]:<44} nodes kept {100 * nodes_kept / max(nodes, 1):5.1f} %  "
              f"bytes kept {100 * bytes_kept / max(nbytes, 1):5.1f} %  analysis {seconds[way]:.3f} s CPU, "
              f"findings lost {lost[way]}")
    print(f"  files where the first would leave out half the nodes or more: {halved} of {analysed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
