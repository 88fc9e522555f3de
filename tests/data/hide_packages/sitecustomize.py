"""On PYTHONPATH, hides packages as if they were not installed: ``import tensorflow`` raises
ModuleNotFoundError and ``importlib.util.find_spec("tensorflow")`` is None (torch and Keras probe that way).

Hides TensorFlow (and tf_keras, tensorboard) by default, or the top-level packages listed in
``NORMLINT_TEST_HIDE`` (comma-separated). Used by the backend tests: normlint's runtime on the JAX and
torch backends must never import TensorFlow, and a missing backend or package is a one-line error.
"""

import importlib.machinery
import os

_HIDDEN = tuple(p.strip() for p in os.environ.get("NORMLINT_TEST_HIDE", "tensorflow,tf_keras,tensorboard").split(",") if p.strip())
_find_spec = importlib.machinery.PathFinder.find_spec


def _hiding_find_spec(cls, fullname, path=None, target=None):
    if fullname.split(".")[0] in _HIDDEN:
        return None
    return _find_spec(fullname, path, target)


importlib.machinery.PathFinder.find_spec = classmethod(_hiding_find_spec)
