"""NumPy reference implementations of what each normalization layer should compute (float64).

No TensorFlow here: these are the formulas the runtime checks compare Keras's outputs with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RTOL = 1e-3
ATOL = 1e-3


def kept_axes(rank: int, axis) -> tuple[int, ...]:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return tuple(sorted({int(a) % rank for a in axes}))


def other_axes(rank: int, kept: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a for a in range(rank) if a not in kept)


def _broadcast(param, rank: int, axes: tuple[int, ...], shape: tuple[int, ...]):
    """Reshape a per-axes parameter (shape = sizes of ``axes``) to broadcast against an input."""
    if param is None:
        return None
    p = np.asarray(param, dtype=np.float64)
    target = [1] * rank
    for a in axes:
        target[a] = shape[a]
    return p.reshape(target)


def batch_moments(x: np.ndarray, axis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, population variance, Bessel-corrected variance) per index of ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    red = other_axes(x.ndim, kept_axes(x.ndim, axis))
    n = int(np.prod([x.shape[a] for a in red])) if red else 1
    mean = x.mean(axis=red)
    var = x.var(axis=red)
    unbiased = var * n / (n - 1) if n > 1 else var
    return mean, var, unbiased


def _scale_shift(y: np.ndarray, gamma, beta, axes: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    """``y * gamma + beta`` with per-``axes`` parameters (either may be None)."""
    g = _broadcast(gamma, len(shape), axes, shape)
    b = _broadcast(beta, len(shape), axes, shape)
    if g is not None:
        y = y * g
    if b is not None:
        y = y + b
    return y


def batchnorm(x, axis, mean, variance, gamma, beta, epsilon: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    kept = kept_axes(x.ndim, axis)
    m = _broadcast(mean, x.ndim, kept, x.shape)
    v = _broadcast(variance, x.ndim, kept, x.shape)
    return _scale_shift((x - m) / np.sqrt(v + epsilon), gamma, beta, kept, x.shape)


def layernorm(x, axis, gamma, beta, epsilon: float, rms_scaling: bool = False) -> np.ndarray:
    """Normalize over ``axis`` (the axes reduced), per sample."""
    x = np.asarray(x, dtype=np.float64)
    red = kept_axes(x.ndim, axis)
    if rms_scaling:
        y = x / np.sqrt(np.mean(x * x, axis=red, keepdims=True) + epsilon)
    else:
        y = (x - x.mean(axis=red, keepdims=True)) / np.sqrt(x.var(axis=red, keepdims=True) + epsilon)
    return _scale_shift(y, gamma, beta, red, x.shape)


def groupnorm(x, groups: int, axis: int, gamma, beta, epsilon: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    axis = axis % x.ndim
    channels = x.shape[axis]
    shape = list(x.shape)
    shape[axis: axis + 1] = [groups, channels // groups]
    g = x.reshape(shape)
    red = tuple(a for a in range(1, g.ndim) if a != axis)
    y = (g - g.mean(axis=red, keepdims=True)) / np.sqrt(g.var(axis=red, keepdims=True) + epsilon)
    return _scale_shift(y.reshape(x.shape), gamma, beta, (axis,), x.shape)


def unitnorm(x, axis) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    red = kept_axes(x.ndim, axis)
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=red, keepdims=True), 1e-12))


def rmsnorm(x, axis, scale, epsilon: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    red = kept_axes(x.ndim, axis)
    y = x / np.sqrt(np.mean(x * x, axis=red, keepdims=True) + epsilon)
    s = _broadcast(scale, x.ndim, red, x.shape)
    return y * s if s is not None else y


def standardize(x, mean, variance, invert: bool = False) -> np.ndarray:
    """The preprocessing Normalization layer: mean/variance already shaped to broadcast."""
    x = np.asarray(x, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if invert:
        return x * np.sqrt(variance) + mean
    return (x - mean) / np.maximum(np.sqrt(variance), 1e-7)


def moving_update(old, batch, momentum: float) -> np.ndarray:
    """Keras convention: ``momentum * old + (1 - momentum) * batch``."""
    return momentum * np.asarray(old, dtype=np.float64) + (1.0 - momentum) * np.asarray(batch, dtype=np.float64)


@dataclass
class Comparison:
    max_abs: float
    max_rel: float
    ok: bool

    def as_dict(self) -> dict:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel}


def compare(actual, expected, rtol: float = RTOL, atol: float = ATOL) -> Comparison:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return Comparison(float("inf"), float("inf"), False)
    err = np.abs(a - e)
    max_abs = float(err.max()) if err.size else 0.0
    scale = float(np.abs(e).max()) if e.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    ok = bool(np.all(err <= atol + rtol * np.abs(e))) and bool(np.all(np.isfinite(a)))
    return Comparison(max_abs, max_rel, ok)


_NAMES = {
    2: ("batch", "features"),
    3: ("batch", "steps", "features"),
    4: ("batch", "height", "width", "channels"),
    5: ("batch", "depth", "height", "width", "channels"),
}
_NAMES_FIRST = {
    3: ("batch", "channels", "steps"),
    4: ("batch", "channels", "height", "width"),
    5: ("batch", "channels", "depth", "height", "width"),
}


def axis_names(shape: tuple[int, ...], kept: tuple[int, ...] = (), channels_first: bool = False) -> list[str]:
    """Axis names of the data layout (channels_last unless the model's convolutions say otherwise): a
    BatchNormalization(axis=1) on channels_last images normalizes per *height* position, not per channel."""
    rank = len(shape)
    names = (_NAMES_FIRST if channels_first and rank in _NAMES_FIRST else _NAMES).get(rank)
    return list(names) if names else [f"axis{i}" for i in range(rank)]


def singular(word: str) -> str:
    return {"channels": "channel", "features": "feature", "steps": "step"}.get(word, word)


def describe_per_axis(shape: tuple[int, ...], kept: tuple[int, ...], channels_first: bool = False) -> str:
    """'per channel, over batch x height x width, 6 channels (axis 3)'; 'per height position, ...'."""
    names = axis_names(shape, kept, channels_first)
    kept_words = " x ".join(names[a] for a in kept)
    size = int(np.prod([shape[a] for a in kept]))
    over = " x ".join(names[a] for a in other_axes(len(shape), kept)) or "nothing"
    axes = ", ".join(str(a) for a in kept)
    per = singular(kept_words) if kept_words in ("channels", "features", "steps", "batch") else f"{kept_words} position"
    counted = kept_words if kept_words in ("channels", "features") else f"{kept_words} positions"
    return f"per {per}, over {over}, {size} {counted} (axis {axes})"


def describe_over(shape: tuple[int, ...], reduced: tuple[int, ...], channels_first: bool = False) -> str:
    """'per sample, over height x width x channels'."""
    names = axis_names(shape, (), channels_first)
    over = " x ".join(names[a] for a in reduced)
    size = int(np.prod([shape[a] for a in reduced]))
    return f"per sample, over {over} ({size} values)"
