"""The lint benchmarks' corpus: a folder named on the command line, else the installed keras package."""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import shutil
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "normlint"


def corpus_or_exit(given: str | None) -> str:
    """``given``, or the keras package's source folder; exits 2 with a message when neither exists."""
    if given is not None:
        return given
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        print("no corpus given and keras is not installed", file=sys.stderr)
        raise SystemExit(2)
    return spec.submodule_search_locations[0]


def bytecode(source_only: bool = False) -> str:
    """normlint as an installed copy runs: byte-compiled (``pip install`` compiles a package's modules; an
    editable checkout under PYTHONDONTWRITEBYTECODE=1, as on this machine, would compile every module again
    at every start, ~0.05 s, while flake8, libcst and the rest were compiled when installed).
    ``source_only``: normlint's bytecode removed instead, to measure that case. Says which."""
    if source_only:
        for cache in PACKAGE.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        return "normlint: from source, no bytecode (--source-only)"
    compileall.compile_dir(str(PACKAGE), quiet=1)
    return "normlint: byte-compiled, as installed (--source-only to measure without)"


def corpus_and_repeat() -> tuple[str, int]:
    """``[CORPUS_DIR] [--repeat N] [--source-only]`` from the command line (default N: 5), the corpus
    resolved; normlint byte-compiled (or its bytecode removed: ``bytecode``), which is printed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source-only", action="store_true", help="measure normlint without its bytecode")
    args = parser.parse_args()
    print(bytecode(args.source_only))
    return corpus_or_exit(args.corpus), args.repeat
