"""Findings on real code nobody here wrote: counts per code, and what changed against an earlier version.

Usage:
    python benchmarks/bench_findings.py [PATHS...] [--before REF] [--opt-in] [--list]

PATHS default to ../shared/corpus/models and ../shared/corpus/notebooks (354 .py files from 20 public
repositories and 181 notebooks from 5; their sources are listed in ../shared/corpus/README.md).
``--before REF`` also lints with the normlint of git revision REF of this repository (exported to a
temporary folder, run with the same Python) and prints the findings that appeared and disappeared, so
each can be judged; ``--opt-in`` selects the opt-in rules too (both sides); ``--list`` prints every finding.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "corpus"


def lint(paths: list[str], pythonpath: str, opt_in: bool) -> tuple[dict, float]:
    cmd = [sys.executable, "-m", "normlint", "lint", "-j", "2", "--format", "json", *paths]
    if opt_in:
        cmd[4:4] = ["--extend-select", "NL103"]
    env = dict(os.environ, PYTHONPATH=pythonpath)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=pythonpath)  # -m puts cwd first
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"normlint exited {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return json.loads(proc.stdout), elapsed


def export(ref: str, into: Path) -> None:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref, "normlint"],
                             capture_output=True, check=True).stdout
    tar = into / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")


def key(f: dict) -> tuple:
    where = f"cell {f['cell']}:{f['line']}" if f.get("cell") else str(f["line"])
    return (os.path.relpath(f["path"], ROOT), where, f["code"])


def summary(doc: dict) -> str:
    counts = Counter(f["code"] for f in doc["findings"])
    files = len({f["path"] for f in doc["findings"]})
    by_code = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
    return f"{doc['summary']['files']} files linted, {len(doc['findings'])} findings in {files} files ({by_code})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--before", help="a git revision of this repository to compare with")
    parser.add_argument("--opt-in", action="store_true", help="select the opt-in rules (NL103) too")
    parser.add_argument("--list", action="store_true", help="print every finding")
    args = parser.parse_args()
    paths = [os.path.abspath(p) for p in args.paths] or [str(SHARED / "models"), str(SHARED / "notebooks")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise SystemExit(f"no such path: {', '.join(missing)} (the corpus is ../shared/corpus beside the checkout)")
    now, seconds = lint(paths, str(ROOT), args.opt_in)
    print(f"now:    {summary(now)} [{seconds:.1f} s]")
    for p in paths:
        sub = {"summary": {"files": "-"}, "findings": [f for f in now["findings"] if f["path"].startswith(p)]}
        print(f"  {os.path.relpath(p, ROOT)}: {summary(sub).split(' files linted, ', 1)[1]}")
    if args.list:
        for f in now["findings"]:
            print("  ", *key(f), f["message"][:110])
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            export(args.before, Path(tmp))
            before, seconds = lint(paths, tmp, args.opt_in and _knows_extend_select(Path(tmp)))
        print(f"before ({args.before}): {summary(before)} [{seconds:.1f} s]")
        # by place and code: a finding reported once where it was reported three times has not disappeared
        old = {key(f) for f in before["findings"]}
        new = {key(f) for f in now["findings"]}
        messages = {key(f): f["message"] for f in before["findings"] + now["findings"]}
        for title, diff in (("appeared", new - old), ("disappeared", old - new)):
            print(f"{title}: {len(diff)}")
            for k in sorted(diff):
                print("  ", *k, messages[k][:110])
    return 0


def _knows_extend_select(tree: Path) -> bool:
    return "extend_select" in (tree / "normlint" / "cli.py").read_text(encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
