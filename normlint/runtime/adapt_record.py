"""Keep the data each ``Normalization`` layer was adapted on, so the checks can recompute its statistics.

``adapt()`` accepts arrays, tensors, ``tf.data.Dataset``s, ``PyDataset``s and iterables of batches. Arrays
are kept as they are. A dataset is read again after ``adapt()`` (batch by batch, as Keras reads it) and
kept only when it is small enough and reads the same twice: a pipeline with random augmentation gives
other values on every pass, and comparing the layer's statistics with those would report errors that
are not there. A generator is used up by ``adapt()`` itself and cannot be read again.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

MAX_VALUES = 1 << 23  # 8 Mi values (64 MB as float64): bigger adapt data is not recomputed
NOTE = "_normlint_adapt_note"  # on the layer: why its adapt data was not kept, if it was not


def record_adapt_calls() -> dict[int, np.ndarray]:
    """Wrap Normalization.adapt so that the data each layer was adapted on is kept for the checks."""
    import keras

    records: dict[int, np.ndarray] = {}
    original = keras.layers.Normalization.adapt
    if getattr(original, "_normlint_wrapped", False):
        return original._normlint_records  # type: ignore[attr-defined]

    def adapt(self, data, *args, **kwargs):
        result = original(self, data, *args, **kwargs)
        object.__setattr__(self, "_normlint_adapted", True)
        kept, note = adapt_data(data)
        if kept is not None:
            records[id(self)] = kept
            object.__setattr__(self, NOTE, None)
        else:
            records.pop(id(self), None)
            object.__setattr__(self, NOTE, note)
        return result

    adapt._normlint_wrapped = True  # type: ignore[attr-defined]
    adapt._normlint_records = records  # type: ignore[attr-defined]
    keras.layers.Normalization.adapt = adapt
    return records


def adapt_data(data: Any) -> tuple[np.ndarray | None, str]:
    """(the adapt data as one array, "") or (None, why it was not kept)."""
    if isinstance(data, np.ndarray):
        return data, ""
    if _is_tensor(data):  # a TensorFlow, JAX or torch tensor, on any device
        return _to_numpy(data), ""
    batches = _batches(data)
    if batches is None:
        return None, "adapt data not kept: an iterator or generator is used up by adapt()"
    first = _collect(batches())
    if isinstance(first, str):
        return None, first
    second = _collect(batches())
    if isinstance(second, str) or first.shape != second.shape or not np.array_equal(first, second):
        return None, "adapt data not kept: the dataset gives other values on each pass (random augmentation?)"
    return first, ""


def _is_tensor(data: Any) -> bool:
    """A tensor of the backend or of another framework (a tf.Tensor under JAX); never a dataset."""
    import keras

    try:
        if keras.ops.is_tensor(data):
            return True
    except Exception:
        pass
    framework = type(data).__module__.split(".")[0] in ("jax", "jaxlib", "torch", "tensorflow")
    return framework and hasattr(data, "shape") and hasattr(data, "dtype")


def _to_numpy(batch: Any) -> np.ndarray:
    if isinstance(batch, np.ndarray):
        return batch
    import keras

    try:
        return np.asarray(keras.ops.convert_to_numpy(batch))
    except Exception:  # a tensor of another framework than the backend's (a tf tensor under jax, say)
        return np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch)


def _batches(data: Any):
    """A function that reads ``data`` anew, batch by batch, or None when it cannot be read twice.

    TensorFlow is looked at only when the user's code already imported it (a ``tf.data.Dataset`` cannot
    exist otherwise), so adapt() records on the JAX and torch backends without TensorFlow installed."""
    import sys

    import keras

    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(data, getattr(getattr(tf, "data", None), "Dataset", ())):
        spec = data.element_spec
        x_spec = spec[0] if isinstance(spec, tuple) else spec
        if len(x_spec.shape) == 1:
            data = data.batch(128)  # as Keras's adapt() does with a dataset of scalars
        return lambda: (_to_numpy(b) for b in _first_of(data))
    if isinstance(data, keras.utils.PyDataset):
        return lambda: (_to_numpy(b) for b in _first_of(data[i] for i in range(len(data))))
    if isinstance(data, (list, tuple)):
        return lambda: (_to_numpy(b) for b in _first_of(data))
    return None


def _first_of(batches: Iterable) -> Iterable:
    """The inputs of each batch: ``(x, y)`` and ``(x, y, sample_weight)`` batches give ``x``."""
    for b in batches:
        yield b[0] if isinstance(b, tuple) else b


def _collect(batches: Iterable[np.ndarray]) -> np.ndarray | str:
    parts, total = [], 0
    for b in batches:
        total += b.size
        if total > MAX_VALUES:
            return f"adapt data not kept: more than {MAX_VALUES:,} values"
        parts.append(b)
    if not parts:
        return "adapt data not kept: empty"
    try:
        return np.concatenate(parts, axis=0)
    except ValueError:
        return "adapt data not kept: batches of different shapes"
