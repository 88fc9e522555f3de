"""What flake8 pays for normlint being installed, apart from what its analysis costs.

Usage:  python benchmarks/bench_plugin_idle.py [CORPUS_DIR] [--repeat N]   (default: the installed keras package)

Three cases per round, interleaved (in reverse order every other round), each a fresh process running ``flake8 -j1`` on the corpus: without
normlint (its distribution hidden from flake8, as bench_lint.py does), with normlint loaded and its
options registered but ``Plugin.run`` returning nothing at once ("idle"), and with normlint as installed.
The judged figures are the medians of the per-round CPU-time ratios: idle / without is the price of
loading the plugin (imports, options, flake8 calling it per file), with / without the whole cost.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench_lint import run
from corpus import corpus_and_repeat

HERE = Path(__file__).resolve().parent

IDLE = """
import sys
from normlint.lint import flake8_plugin
flake8_plugin.Plugin.run = lambda self: iter(())
from flake8.main.cli import main
sys.exit(main())
"""


def main() -> int:
    corpus, repeat = corpus_and_repeat()
    py = sys.executable
    flake8 = ["-j1", "--exit-zero", corpus]
    cases = {
        "without normlint": [py, str(HERE / "flake8_without_normlint.py"), *flake8],
        "normlint idle": [py, "-c", IDLE, *flake8],
        "with normlint": [py, "-m", "flake8", *flake8],
    }
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for i in range(repeat):  # in reverse order every other round: running first or last falls on each case alike
        for name, cmd in (cases.items() if i % 2 == 0 else reversed(cases.items())):
            cpu[name].append(run(cmd)[2])
    print(f"corpus: {corpus}, {repeat} rounds; flake8 -j1 CPU time (user + system), median per case")
    for name, values in cpu.items():
        print(f"  {name:<18} {statistics.median(values):6.2f} s")
    base = cpu["without normlint"]
    for name in ("normlint idle", "with normlint"):
        ratio = statistics.median(a / b for a, b in zip(cpu[name], base))
        print(f"{name} / without: {ratio:.3f}x (median of {repeat} paired rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
