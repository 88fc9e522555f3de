"""What a hand-written normalization-like layer actually computes, measured by probing it.

A layer is judged by its behaviour, not by its class name: perturb one input element and see which outputs
move (the axes its statistics span, channel groups, whether other samples of the batch matter); shift
and scale the whole input (does it subtract a mean? divide by a std or an RMS?); run one training step
and read its non-trainable statistics (which momentum convention). The result is said in words with the
data layout's axis names ("per sample and channel, over height x width") and compared with what the
layer declares: the kind its name says (batch / layer / instance / group / RMS normalization) and its
``axis``/``groups`` attributes. A layer whose intended semantics cannot be known (``NormalizeImage``,
``Denormalize``, a fixed affine map) is described, never failed.

Pure NumPy around the layer's own calls: works on every Keras backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Semantics:
    reduced: tuple[int, ...]  # non-batch axes the statistics span (all of them for the line through a probe point)
    group: int | None  # when the statistics span only a block of one axis: that axis's block size
    group_axis: int | None
    batch_dependent: bool  # an output moves when another sample moves
    centered: bool  # shifting the input by a constant leaves the output unchanged
    scale_invariant: bool  # scaling the input leaves the output unchanged (divides by a std or an RMS)
    unit_l2: bool = False  # the outputs of a group have a sum of squares of 1 (an L2 norm, not an RMS)

    @property
    def elementwise(self) -> bool:
        return not self.reduced and self.group is None and not self.batch_dependent

    def statistic(self) -> str:
        if self.elementwise:
            return "no statistics"
        if self.centered and self.scale_invariant:
            return "mean and std"
        if self.scale_invariant:
            return "unit L2 norm (no mean subtracted)" if self.unit_l2 else "RMS (no mean subtracted)"
        if self.centered:
            return "mean only (no scaling)"
        return "statistics of unknown form"


def axis_names(rank: int, channels_first: bool = False) -> tuple[str, ...]:
    from normlint.runtime.reference import axis_names as layout_names  # one table of layout names

    return tuple(layout_names((1,) * rank, (), channels_first))


def _join(names: list[str]) -> str:
    return " x ".join(names) if names else "nothing"


def describe(sem: Semantics, shape: tuple[int, ...], channels_first: bool = False) -> str:
    """E.g. "mean and std per sample and channel, over height x width (16 values)"."""
    names = axis_names(len(shape), channels_first)
    if sem.elementwise:
        return "elementwise: each output depends on its own input only (fixed constants or an affine map, no statistics)"
    over = [names[a] for a in sem.reduced]
    if sem.batch_dependent:
        over = ["batch"] + over
    kept = [names[a] for a in range(1, len(shape)) if a not in sem.reduced and a != sem.group_axis]
    per = ["sample"] if not sem.batch_dependent else []
    singular = {"channels": "channel", "features": "feature", "steps": "step"}
    per += [singular[n] for n in kept if n in singular]
    positions = [n for n in kept if n not in singular]
    if positions:
        per.append(f"{_join(positions)} position" if len(positions) > 1 else positions[0])
    count = int(np.prod([shape[a] for a in sem.reduced])) if sem.reduced else 1
    if sem.batch_dependent:
        count *= shape[0]
    group = ""
    if sem.group is not None and sem.group_axis is not None:
        group = f", in groups of {sem.group} {names[sem.group_axis]}"
        count *= sem.group
    per_text = f"per {' and '.join(per)}, " if per else ""
    return f"{sem.statistic()} {per_text}over {_join(over)}{group} ({count} values)"


class NotNormalization(ValueError):
    """The layer does not map its input onto the same shape: no normalization semantics to measure."""


def _run(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.asarray(fn(x), dtype=np.float64)


def measure(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> Semantics:
    """Probe ``fn`` (the layer in one mode) around the batch ``x`` (at least 2 samples)."""
    x = np.asarray(x, dtype=np.float64)
    y0 = _run(fn, x)
    if y0.shape != x.shape:
        raise NotNormalization(f"its output shape {y0.shape} differs from its input shape {x.shape}")
    noise = np.abs(_run(fn, x) - y0).max()
    spread = float(x.std()) or 1.0
    tol = max(1e-6 * (1.0 + float(np.abs(y0).max())), 10 * noise)
    # one element near the middle of every axis, moved by a few stds
    p = tuple(s // 2 for s in x.shape)
    moved = x.copy()
    moved[p] += 3.0 * spread
    dy = np.abs(_run(fn, moved) - y0)
    reduced, group, group_axis = [], None, None
    for a in range(1, x.ndim):
        if x.shape[a] == 1:
            continue
        line = list(p)
        line[a] = slice(None)
        along = dy[tuple(line)] > tol
        along[p[a]] = True
        if along.all():
            reduced.append(a)
        elif along.sum() > 1:  # a block of this axis moves together: statistics per group
            idx = np.flatnonzero(along)
            if idx[-1] - idx[0] + 1 == len(idx) and x.shape[a] % len(idx) == 0:
                group, group_axis = len(idx), a
            else:
                reduced.append(a)  # an irregular pattern: count the axis as reduced and say so in words
    other = list(p)
    other[0] = (p[0] + 1) % x.shape[0]
    batch_dependent = bool(dy[tuple(other)] > tol)
    # shift and scale where the statistics dwarf any epsilon: a correct norm whose input varies little
    # over its axes (4 pooled features of similar size) is not scale-invariant at that input's own scale
    k = statistics_scale(x, tuple(reduced), group, group_axis, batch_dependent)
    xs, ys = (x, y0) if k == 1.0 else (k * x, _run(fn, k * x))
    with np.errstate(over="ignore", invalid="ignore"):
        centered = _close(_run(fn, xs + (2.0 * k * spread + 1.0)), ys)
        scale_invariant = _close(_run(fn, 3.0 * xs), ys)
    unit_l2 = False
    if scale_invariant and not centered and reduced and group is None:
        n = int(np.prod([x.shape[a] for a in reduced]))
        sums = np.square(ys).sum(axis=tuple(reduced))
        unit_l2 = n > 1 and bool(np.allclose(sums, 1.0, rtol=1e-2, atol=1e-3))
    return Semantics(tuple(reduced), group, group_axis, batch_dependent, centered, scale_invariant, unit_l2)


STATISTICS_VARIANCE = 1.0  # the least variance a probed group of values is scaled up to
MAX_SCALE = 1e4


def statistics_scale(x: np.ndarray, reduced: tuple[int, ...], group: int | None, group_axis: int | None,
                     batch_dependent: bool) -> float:
    """The factor (>= 1, at most MAX_SCALE) that gives every non-constant group of values a layer takes
    its statistics over a variance of at least STATISTICS_VARIANCE: at that scale an epsilon of up to
    ~1e-2 added to the variance changes a normalizer's output by under 0.5%, so shifting and scaling the
    input show what the layer computes, not its epsilon. 1 for an elementwise layer."""
    axes = list(reduced) + ([0] if batch_dependent else [])
    values = x
    if group is not None and group_axis is not None:  # split the channel axis into (groups, group size)
        shape = list(x.shape)
        shape[group_axis:group_axis + 1] = [x.shape[group_axis] // group, group]
        values = x.reshape(shape)
        axes = [a + (a > group_axis) for a in axes] + [group_axis + 1]
    if not axes:
        return 1.0
    variances = values.var(axis=tuple(axes)).ravel()
    top = float(variances.max()) if variances.size else 0.0
    if not top > 0.0:
        return 1.0
    least = float(variances[variances > top * 1e-12].min())
    return float(min(max(1.0, np.sqrt(STATISTICS_VARIANCE / least)), MAX_SCALE))


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 5e-3) -> bool:
    scale = max(float(np.abs(b).max()), 1e-6)
    return bool(np.abs(a - b).max() <= rtol * scale + 1e-5)


# ------------------------------------------------------------------------------------------ intent
KINDS = ("batch", "instance", "group", "layer", "rms")


def class_words(cls_name: str) -> list[str]:
    """``AlwaysBatchStatsNorm`` -> always, batch, stats, norm; ``RMS_Norm2d`` -> rms, norm2d."""
    import re

    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", cls_name))
    return [w for w in re.split(r"[\s_]+", spaced.lower()) if w]


def declared_kind(cls_name: str) -> str | None:
    """The normalization the class name promises (batch, instance, group, layer, rms), or None when it
    promises none we can hold it to (``NormalizeImage``, ``Denormalize``, ``MyNorm``)."""
    words = class_words(cls_name)
    first_norm = next((i for i, w in enumerate(words) if w.startswith("norm")), None)
    if first_norm is None:
        return None
    before = words[:first_norm]  # "LayerNorm" promises a layer norm; "L2NormalizeLayer" is just a layer
    for kind in ("instance", "group", "rms", "layer", "batch"):
        if kind in before:
            return kind
    return None


def _norm_axes(axis, rank: int) -> tuple[int, ...]:
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return tuple(sorted({int(a) % rank for a in axes}))


def expected(kind: str, layer, rank: int) -> tuple[tuple[int, ...], int | None, bool, bool]:
    """(reduced non-batch axes, the channel axis of groups, batch-dependent, centered) the kind promises.

    ``axis`` follows each kind's convention: the axes normalized over for layer and RMS normalization
    (Keras's LayerNormalization); the kept channel axis for batch, instance and group normalization
    (Keras's BatchNormalization and GroupNormalization, tensorflow-addons' InstanceNormalization)."""
    axis = getattr(layer, "axis", -1)
    if axis is None:
        axis = -1
    if kind in ("layer", "rms"):
        reduced = tuple(a for a in _norm_axes(axis, rank) if a != 0)
        return reduced, None, False, kind == "layer"
    channel = _norm_axes(axis, rank)
    others = tuple(a for a in range(1, rank) if a not in channel)
    if kind == "group":
        groups = getattr(layer, "groups", None)
        if isinstance(groups, int) and groups > 0 and len(channel) == 1:
            return others, channel[0], False, True  # group size checked against `groups` separately
        return others, None, False, True
    if kind == "instance":
        return others, None, False, True
    return others, None, True, True  # batch, in training mode


def judge(kind: str, layer, sem: Semantics, shape: tuple[int, ...], channels_first: bool) -> str | None:
    """None when the measured semantics are what ``kind`` (with the layer's axis/groups) promises, else the
    sentence of the FAIL, naming axes by the layout."""
    rank = len(shape)
    names = axis_names(rank, channels_first)
    want_reduced, want_group_axis, want_batch, want_centered = expected(kind, layer, rank)
    label = {"batch": "batch normalization", "instance": "instance normalization", "group": "group normalization",
             "layer": "layer normalization", "rms": "RMS normalization"}[kind]
    problems = []
    channel = want_group_axis
    got = set(sem.reduced)
    if kind == "group" and channel is not None:
        got.discard(channel)  # the channel axis is judged by its groups below
    elif sem.group_axis is not None:
        got.add(sem.group_axis)
    if got != set(want_reduced):
        want_words = _join([names[a] for a in want_reduced])
        got_words = _join([names[a] for a in sorted(got)])
        problems.append(f"its statistics span {got_words}, but {label} with axis={getattr(layer, 'axis', -1)!r} "
                        f"takes them over {want_words}")
    if kind == "group" and channel is not None:
        groups = getattr(layer, "groups")
        channels = shape[channel]
        if channels % groups == 0:
            size = channels // groups
            measured = sem.group if sem.group_axis == channel else channels if channel in sem.reduced else 1
            if measured != size:
                problems.append(f"groups={groups} over {channels} {names[channel]} means statistics over groups of "
                                f"{size} {names[channel]}, but they span {measured}")
    if sem.batch_dependent != want_batch:
        problems.append("an output depends on the other samples of the batch" if sem.batch_dependent
                        else "its statistics do not span the batch")
    if sem.centered != want_centered and not sem.elementwise:
        problems.append("it subtracts a mean, which RMS normalization does not" if sem.centered
                        else "it does not subtract the mean")
    if kind == "rms" and sem.unit_l2:
        n = int(np.prod([shape[a] for a in sem.reduced]))
        problems.append(f"it divides by the L2 norm, not the RMS: its outputs are sqrt({n}) times too small")
    if not sem.scale_invariant and not sem.elementwise:
        problems.append("it does not divide by a standard deviation or an RMS (scaling the input scales the output)")
    return "; ".join(problems) or None


# ------------------------------------------------------------------------------------------ moving statistics
def moving_weights(layer) -> tuple[object, object] | None:
    """(moving mean, moving variance) variables of a hand-written batch norm, by name; None if absent."""
    mean = var = None
    for w in getattr(layer, "non_trainable_weights", []):
        name = (getattr(w, "path", None) or w.name).rsplit("/", 1)[-1].lower()
        if ("moving" in name or "running" in name) and "mean" in name:
            mean = w
        elif ("moving" in name or "running" in name) and "var" in name:
            var = w
    return (mean, var) if mean is not None and var is not None else None


def momentum_verdict(weight: float, momentum: float | None) -> tuple[bool, str]:
    """(ok, words) for statistics that move ``weight`` of the way toward each batch's."""
    moves = f"the moving statistics move {weight:.3g} of the way toward each training batch's"
    if momentum is None:
        return True, moves
    if abs(weight - (1 - momentum)) <= 0.02 + 0.02 * abs(1 - momentum):
        return True, f"{moves} (momentum {momentum:g}, Keras's convention: it keeps {momentum:g} of the old)"
    if abs(weight - momentum) <= 0.02 + 0.02 * abs(momentum):
        if momentum >= 0.5:
            return False, (f"{moves}: momentum {momentum:g} is used as the weight of the new batch (PyTorch's "
                           f"convention) where Keras's momentum is the share of the old statistics kept, so the "
                           f"moving statistics are essentially the last batch's; use new = {momentum:g} * old + "
                           f"{1 - momentum:.3g} * batch")
        return True, f"{moves} (momentum {momentum:g} weighs the new batch: PyTorch's convention, consistent)"
    return False, f"{moves}, which fits neither convention for momentum {momentum:g} (Keras: {1 - momentum:.3g}, PyTorch: {momentum:g})"
