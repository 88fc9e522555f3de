"""Instructions, not seconds: what a lint run executes, counted by valgrind (cachegrind, no cache model).

Usage:  python benchmarks/bench_instructions.py [CORPUS_DIR] [--against CHECKOUT]   (default: the keras package)

The count of a run does not depend on what else the machine is doing, so two versions compare in one run
each where wall-clock rounds on this machine need dozens (bench_ab.py). Printed, in millions of
instructions: Python's start with and without ``site`` (this environment's ``.pth`` files run there),
``normlint lint`` on one small file (the start and normlint's imports), ``normlint lint -j 1`` on the
corpus, and the floor: Python reading and ``compile()``-ing every file of the corpus. ``--against DIR``:
the corpus run of another checkout (``git worktree add /tmp/old REV``, byte-compiled here first) too, and the ratio. Hash
randomization is off (PYTHONHASHSEED=0) so that set and dict orders repeat. What a count does not see:
memory (page faults, cache misses; a change that only frees memory earlier counts the same) and the
cost of each instruction, which is what a busy machine raises. Needs valgrind (``apt install valgrind``);
each corpus run takes ~20x its normal time.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from corpus import bytecode, corpus_or_exit, floor_command

ROOT = Path(__file__).resolve().parent.parent
ONE_FILE = ROOT / "fixtures" / "rules" / "NL101_positive.py"


def instructions(command: list[str], checkout: Path, cwd: str) -> int:
    """Instructions executed by ``command`` and its threads (not its forked children: run -j 1)."""
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONHASHSEED="0")
    out = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                          *command], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if found is None:
        raise SystemExit(f"valgrind gave no count for {' '.join(command)}: {out.stderr.strip()[-300:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description="instructions executed by normlint lint")
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--against", help="another checkout whose corpus run is counted too")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind)", file=sys.stderr)
        return 2
    corpus = str(Path(corpus_or_exit(args.corpus)).resolve())
    print(bytecode())
    python = sys.executable
    lint = [python, "-m", "normlint", "lint", "-j", "1"]
    rows: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory() as cwd:  # never a checkout: Python puts the current folder first
        rows.append(("python -c pass", instructions([python, "-c", "pass"], ROOT, cwd)))
        rows.append(("python -S -c pass (no site)", instructions([python, "-S", "-c", "pass"], ROOT, cwd)))
        rows.append(("normlint lint ONE_FILE", instructions([*lint, str(ONE_FILE)], ROOT, cwd)))
        rows.append(("normlint lint -j 1 CORPUS", instructions([*lint, corpus], ROOT, cwd)))
        rows.append(("floor: compile() of every file", instructions(floor_command(corpus, jobs=1), ROOT, cwd)))
        if args.against:
            other = Path(args.against).resolve()
            # byte-compiled as this checkout is (corpus.bytecode): under PYTHONDONTWRITEBYTECODE=1 a checkout
            # without bytecode compiles every module at every start, ~15 % of this corpus's count
            compileall.compile_dir(str(other / "normlint"), quiet=1)
            rows.append((f"  {other}: lint -j 1 CORPUS", instructions([*lint, corpus], other, cwd)))
    print(f"corpus: {corpus}; millions of instructions (cachegrind), Python start included in each")
    for label, count in rows:
        print(f"  {label:44s} {count / 1e6:10.1f} M")
    if args.against:
        print(f"this checkout / {args.against}: {rows[3][1] / rows[-1][1]:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
