"""Run flake8 exactly as installed, but with the normlint plugin hidden: the benchmark's baseline.

flake8 finds plugins through importlib.metadata entry points; this drops normlint's distribution
from that list and then calls flake8's own main().
"""

import importlib.metadata as md
import sys

_real = md.distributions


def _without_normlint(**kwargs):
    for dist in _real(**kwargs):
        if (dist.metadata["Name"] or "").lower() != "normlint":
            yield dist


md.distributions = _without_normlint

from flake8.main.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
