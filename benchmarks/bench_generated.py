"""Large generated model files: `normlint lint` time and peak memory per output format.

Usage:  python benchmarks/bench_generated.py [--repeat N]

Four files of generated model code, each under or near the default max-file-size (512 KiB), each with
hundreds to thousands of findings: the shapes where work per finding or per layer once grew with the
file (a scan per finding is quadratic on them). Each is linted as a fresh process in the text format
(the fast tree, what flake8 gets too) and the JSON format (libcst's tree, every fix placed), best of N
wall-clock seconds, and the peak RSS of that process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def keras_add_chain(size: int) -> str:
    lines, i = ["from keras import layers", "import keras", "model = keras.Sequential()"], 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append(f"model.add(layers.Conv2D({i % 512 + 1}, 3, activation='relu', name='conv_{i}'))")
        if i % 11 == 0:
            lines += [f"model.add(layers.Dropout(0.5, name='do_{i}'))", f"model.add(layers.BatchNormalization(name='bn_{i}'))"]
        i += 1
    return "\n".join(lines) + "\n"


def keras_functional(layers: int) -> str:
    lines = ["from keras import layers, Model, Input", "x = inp = Input((32, 32, 3))"]
    for i in range(layers):
        lines.append(f"x = layers.Conv2D({i % 64 + 1}, 3, padding='same')(x)")
        if i % 7 == 0:
            lines += ["x = layers.Dropout(0.3)(x)", "x = layers.BatchNormalization()(x)"]
    return "\n".join(lines + ["model = Model(inp, x)"]) + "\n"


def torch_sequential(pairs: int) -> str:
    modules = "".join("    nn.Conv2d(8, 8, 3),\n    nn.Dropout(0.3),\n    nn.BatchNorm2d(8),\n" for _ in range(pairs))
    return f"import torch.nn as nn\n\nnet = nn.Sequential(\n{modules})\n"


def torch_module(layers: int) -> str:
    attrs = "".join(f"        self.c{i} = nn.Conv2d(8, 8, 3)\n        self.b{i} = nn.BatchNorm2d(8)\n" for i in range(layers))
    calls = "".join(f"        x = self.b{i}(self.c{i}(x))\n" for i in range(layers))
    return ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            f"{attrs}\n    def forward(self, x):\n{calls}        return x\n")


FILES = {
    "keras .add() chain, 500 KB": lambda: keras_add_chain(500_000),
    "keras functional chain, 6000 layers": lambda: keras_functional(6000),
    "torch nn.Sequential, 3000 pairs": lambda: torch_sequential(3000),
    "torch nn.Module, 4000 layer pairs": lambda: torch_module(4000),
}
DRIVER = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
          "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
          "print(round(time.perf_counter() - t, 2), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
          "r.stdout.count(' NL') + r.stdout.count('\"code\": \"NL'))")


def main() -> int:
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 3
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in FILES.items():
            path = Path(tmp) / "model.py"
            path.write_text(make())
            size = path.stat().st_size
            for fmt in ("text", "json"):
                runs = []
                for _ in range(repeat):
                    cmd = [sys.executable, "-m", "normlint", "lint", "--max-file-size", "0", "--format", fmt, str(path)]
                    out = subprocess.run([sys.executable, "-c", DRIVER, *cmd], capture_output=True, text=True).stdout.split()
                    runs.append((float(out[0]), int(out[1]), int(out[2])))
                best = min(runs)
                print(f"  {name:38s} {size / 1024:6.0f} KiB  {fmt:5s} {best[0]:6.2f} s  peak {best[1] / 1024:6.0f} MB"
                      f"  {best[2]} findings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
