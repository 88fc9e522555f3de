"""Which Keras 3 backend runs the runtime commands, and on which device.

``normlint check`` and ``normlint smoke`` run on whatever backend ``KERAS_BACKEND`` names (tensorflow, jax
or torch; Keras's own default is tensorflow). Nothing here imports TensorFlow unless it is the backend.
"""

from __future__ import annotations

import importlib.util
import os

BACKENDS = ("tensorflow", "jax", "torch")
EXTRAS = {"tensorflow": "runtime", "jax": "jax", "torch": "torch"}
_PACKAGE = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


class BackendError(Exception):
    """A one-line reason the runtime commands cannot run here."""


def requested_backend() -> str:
    """The backend Keras will load: ``KERAS_BACKEND``, else keras.json's, else tensorflow."""
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
        try:
            import json

            with open(config, encoding="utf-8") as fh:
                name = json.load(fh).get("backend")
        except (OSError, ValueError, AttributeError):
            name = None
    return name or "tensorflow"


def import_keras(command: str):
    """``keras``, imported on the requested backend, or a BackendError saying what to install."""
    backend = requested_backend()
    if backend not in BACKENDS:
        raise BackendError(
            f"normlint {command}: KERAS_BACKEND={backend!r} is not supported; use one of {', '.join(BACKENDS)}"
        )
    missing = [p for p in ("keras", _PACKAGE[backend]) if importlib.util.find_spec(p) is None]
    if missing:
        hint = f"pip install 'normlint[{EXTRAS[backend]}]'"
        if backend == "tensorflow":
            hint += ", or set KERAS_BACKEND=jax or torch where one of those is installed"
        raise BackendError(
            f"normlint {command} needs Keras 3 with the {backend} backend, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {hint}"
        )
    try:
        import keras
    except Exception as exc:  # a broken backend install: say so in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"normlint {command}: Keras failed to load the {backend} backend: {first}") from None
    if not hasattr(keras, "ops"):
        raise BackendError(f"normlint {command} needs Keras 3 (found keras {keras.__version__}): pip install 'keras>=3'")
    return keras


def require_module(name: str, package: str, command: str, why: str) -> None:
    """A BackendError when ``name`` cannot be imported (pillow for images, matplotlib for plots)."""
    if importlib.util.find_spec(name) is None:
        raise BackendError(f"normlint {command} {why} needs {package}, which is not installed: pip install {package}")


def backend_name() -> str:
    import keras

    return keras.backend.backend()


def device_name() -> str:
    """``GPU (NVIDIA H200)`` or ``CPU (16 cores)``, as the running backend sees it."""
    backend = backend_name()
    cpu = f"CPU ({os.cpu_count()} cores)"
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"GPU ({details.get('device_name', gpus[0].name)})"
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform in ("gpu", "cuda", "rocm"):
                return f"GPU ({dev.device_kind})"
            if dev.platform == "tpu":
                return f"TPU ({dev.device_kind})"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU ({torch.cuda.get_device_name(0)})"
            mps = getattr(torch.backends, "mps", None)
            if mps is not None and mps.is_available():
                return "GPU (Apple MPS)"
    except Exception:  # a device query must never end the run; the CPU is always there
        pass
    return cpu


def is_accelerated(device: str) -> bool:
    return not device.startswith("CPU")


__all__ = ["BACKENDS", "BackendError", "backend_name", "device_name", "import_keras", "requested_backend", "require_module"]
