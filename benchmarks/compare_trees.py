"""The fast tree (CPython's ast) against libcst's: the same findings on every file, and the time of each.

Usage:  python benchmarks/compare_trees.py PATH... [--all-rules]

Each .py file under the PATHs is linted twice in process: without fixes (the tree normlint.lint.ast_tree
builds, as the text report and flake8 get it) and with fixes (libcst's tree, as JSON, SARIF and --fix get
it). Findings, positions, messages and fix labels must be equal; every difference is printed. The fast
tree is set to raise instead of falling back to libcst, so a shape it gets wrong is an error here.
``--all-rules``: no prefilter, every rule on every file. Exit status 1 when any file differs or errs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from normlint.config import Config
from normlint.lint import engine


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prefilter = "--all-rules" not in sys.argv
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    engine.STRICT = True
    files = [f for a in args for f in ([Path(a)] if Path(a).is_file() else sorted(Path(a).rglob("*.py")))]
    config, differ, errors, count, spent = Config(), 0, 0, 0, {"fast": 0.0, "libcst": 0.0}
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        count += 1
        got = {}
        for name, fixes in (("fast", False), ("libcst", True)):
            start = time.process_time()
            try:
                found = engine.lint_source(source, str(path), config, fixes=fixes, prefilter=prefilter)
            except Exception as exc:  # the fast tree raising: a bug to fix
                print(f"ERROR {path} ({name}): {type(exc).__name__}: {exc}")
                errors += 1
                break
            spent[name] += time.process_time() - start
            got[name] = [(f, f.fix and (f.fix.message, f.fix.applicability)) for f in found]
        if len(got) == 2 and got["fast"] != got["libcst"]:
            differ += 1
            print(f"DIFF {path}")
            for f, fix in sorted(set(got["fast"]) - set(got["libcst"]), key=str):
                print(f"  fast only:   {f.line}:{f.col} {f.message} {fix or ''}")
            for f, fix in sorted(set(got["libcst"]) - set(got["fast"]), key=str):
                print(f"  libcst only: {f.line}:{f.col} {f.message} {fix or ''}")
    print(f"{count} files, {differ} differ, {errors} errors; fast tree {spent['fast']:.2f} s, libcst {spent['libcst']:.2f} s")
    return 1 if differ or errors else 0


if __name__ == "__main__":
    sys.exit(main())
