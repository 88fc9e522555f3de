"""The lint benchmarks' corpus: a folder named on the command line, else the installed keras package."""

from __future__ import annotations

import argparse
import importlib.util
import sys


def corpus_or_exit(given: str | None) -> str:
    """``given``, or the keras package's source folder; exits 2 with a message when neither exists."""
    if given is not None:
        return given
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        print("no corpus given and keras is not installed", file=sys.stderr)
        raise SystemExit(2)
    return spec.submodule_search_locations[0]


def corpus_and_repeat() -> tuple[str, int]:
    """``[CORPUS_DIR] [--repeat N]`` from the command line (default N: 5), the corpus resolved."""
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus", nargs="?")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    return corpus_or_exit(args.corpus), args.repeat
