"""--fix on code nobody here wrote: how many fixable findings go, files broken, new findings, idempotence.

Usage:
    python benchmarks/bench_fix.py [PATHS...] [--safe-only]

PATHS default to ../shared/corpus/models and ../shared/corpus/notebooks. The files are copied to a
temporary folder (the corpus is never written), fixed in process with `--unsafe-fixes` (or the safe fixes
only), and each fixed file is checked: it compiles, it has no finding whose code it did not have as
often before, a second fix changes nothing. Prints the counts and every problem.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from normlint.config import Config
from normlint.lint.autofix import fix_file_text, wanted
from normlint.lint.files import discover, lint_text, read_source
from normlint.lint.notebook import read_notebook
from normlint.lint.rules import OPT_IN

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "corpus"


def compiles(text: str, path: str) -> bool:
    source = read_notebook(text).source if path.endswith(".ipynb") else text
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return path.endswith(".ipynb")  # a notebook's own broken cells (Python 2) were broken before
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--safe-only", action="store_true")
    args = parser.parse_args()
    unsafe = not args.safe_only
    paths = args.paths or [str(SHARED / "models"), str(SHARED / "notebooks")]
    config = Config(extend_select=tuple(OPT_IN))
    totals: Counter = Counter()
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        copies = []
        for p in paths:
            dest = Path(tmp) / Path(p).name
            shutil.copytree(p, dest) if os.path.isdir(p) else shutil.copy(p, dest)
            copies.append(str(dest))
        start = time.perf_counter()
        for path in discover(copies).files:
            text = read_source(path)
            before = lint_text(text, path, config)
            fixable_before = Counter(f.code for f in before if wanted(f, unsafe))
            totals["files"] += 1
            totals["fixable before"] += sum(fixable_before.values())
            if not fixable_before:
                continue
            result = fix_file_text(text, path, config, unsafe)
            after = lint_text(result.text, path, config)
            fixable_after = Counter(f.code for f in after if wanted(f, unsafe))
            totals["fixable after"] += sum(fixable_after.values())
            totals["files changed"] += result.text != text
            totals["dropped"] += len(result.dropped)
            rel = os.path.relpath(path, tmp)
            if not compiles(result.text, path):
                problems.append(f"{rel}: the fixed file does not compile")
            new = Counter(f.code for f in after) - Counter(f.code for f in before)
            if new:
                problems.append(f"{rel}: new findings {dict(new)}")
            if fix_file_text(result.text, path, config, unsafe).text != result.text:
                problems.append(f"{rel}: a second --fix changes it again")
            for f in after:
                if wanted(f, unsafe):
                    problems.append(f"{rel}:{f.line}: still fixable {f.code} ({f.fix.message if f.fix else ''})")
        seconds = time.perf_counter() - start
    gone = totals["fixable before"] - totals["fixable after"]
    share = gone / totals["fixable before"] if totals["fixable before"] else 1.0
    print(f"{totals['files']} files, {'safe' if args.safe_only else 'safe + unsafe'} fixes: "
          f"{totals['fixable before']} fixable findings, {gone} removed ({share:.1%}), "
          f"{totals['files changed']} files changed, {totals['dropped']} fixes dropped, "
          f"{len(problems)} problems [{seconds:.1f} s]")
    for line in problems:
        print("  " + line)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
