"""Time spent inside the normlint flake8 plugin during one flake8 run (steadier than the ratio of two runs).

Usage:  python benchmarks/bench_plugin_time.py [CORPUS_DIR]     (default: the installed keras package)
"""

from __future__ import annotations

import sys
import time

from corpus import corpus_or_exit
from normlint.lint import flake8_plugin

_run = flake8_plugin.Plugin.run
_spent = [0.0, 0]


def _timed_run(self):
    start = time.perf_counter()
    results = list(_run(self))
    _spent[0] += time.perf_counter() - start
    _spent[1] += 1
    return iter(results)


def main() -> int:
    corpus = corpus_or_exit(sys.argv[1] if len(sys.argv) > 1 else None)
    flake8_plugin.Plugin.run = _timed_run
    from flake8.main.application import Application

    app = Application()
    start = time.perf_counter()
    app.run(["-j1", "--exit-zero", "--format", "quiet-nothing", corpus])
    total = time.perf_counter() - start
    # the ratio target compares with flake8 alone, the run less the plugin's own time: that is the base
    # (loading the plugin and its options costs nothing measurable: flake8 with normlint's run() emptied
    # measured 0.992x flake8 without it: benchmarks/bench_plugin_idle.py, docs/benchmarks.md, eleventh round)
    print(f"flake8 total {total:.2f} s; inside the normlint plugin {_spent[0]:.2f} s over {_spent[1]} files "
          f"({100 * _spent[0] / total:.1f} % of the run; {_spent[0] / (total - _spent[0]):.3f} of the run "
          f"without it: flake8 with/without ~{total / (total - _spent[0]):.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
