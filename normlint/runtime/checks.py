"""Per-layer runtime checks: run each normalization layer of a built model on a probe batch and compare
with the NumPy reference (training and inference mode, moving statistics, adapt state).

Imports Keras; only ``normlint check`` / ``normlint smoke`` load this module.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import keras
import numpy as np

from normlint.runtime import reference as ref
from normlint.runtime.adapt_record import NOTE

PASS, WARN, FAIL = "pass", "warn", "fail"
# The data layout of the model being checked: "channels_last"/"channels_first" when its convolutions say
# so, None when it has none (then a rank-4 input is not known to be an image and axes are not judged by it)
IMAGE_LAYOUT: contextvars.ContextVar[str | None] = contextvars.ContextVar("IMAGE_LAYOUT", default=None)
# Whether the model being checked is trained (compiled, or fit() in its file): a frozen BatchNormalization at
# its initial statistics is then a bug, not a choice
MODEL_TRAINED: contextvars.ContextVar[bool] = contextvars.ContextVar("MODEL_TRAINED", default=False)


def _channels_first() -> bool:
    return IMAGE_LAYOUT.get() == "channels_first"


@dataclass
class Check:
    name: str
    status: str
    detail: str = ""
    max_abs: float | None = None
    max_rel: float | None = None
    code: str | None = None

    def as_dict(self) -> dict:
        d: dict[str, object] = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.max_abs is not None:
            d.update(max_abs=self.max_abs, max_rel=self.max_rel)
        if self.code:
            d["code"] = self.code
        return d


@dataclass
class LayerReport:
    model: str
    path: str
    cls: str
    normalizes: str
    input_shape: tuple[int, ...] | None
    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {c.status for c in self.checks}
        return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "layer": self.path,
            "class": self.cls,
            "normalizes": self.normalizes,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "status": self.status,
            "checks": [c.as_dict() for c in self.checks],
        }


def _compare_check(name: str, actual, expected, what: str, rtol: float = ref.RTOL) -> Check:
    cmp = ref.compare(actual, expected, rtol=rtol)
    status = PASS if cmp.ok else FAIL
    detail = what if cmp.ok else f"{what}: differs from the NumPy reference"
    return Check(name, status, detail, cmp.max_abs, cmp.max_rel)


def _np(value) -> np.ndarray | None:
    return None if value is None else np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)


EXTRA_ARGS = "_normlint_extra_args"  # on a layer whose call() takes more tensors: the others, as captured


def _call(layer, x: np.ndarray, **kwargs) -> np.ndarray:
    extra = getattr(layer, EXTRA_ARGS, ())
    return np.asarray(keras.ops.convert_to_numpy(layer(x.astype(np.float32), *extra, **kwargs)), dtype=np.float64)


def model_input(x):
    """A probe for ``model(...)``: one float32 array, or a list/dict of them for a multi-input model."""
    if isinstance(x, dict):
        return {k: v.astype(np.float32) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [v.astype(np.float32) for v in x]
    return x.astype(np.float32)


def _arrays(x) -> list[np.ndarray]:
    return list(x.values()) if isinstance(x, dict) else list(x) if isinstance(x, (list, tuple)) else [x]


def _map(x, fn):
    if isinstance(x, dict):
        return {k: fn(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [fn(v) for v in x]
    return fn(x)


# ------------------------------------------------------------------------------------------ walking
NORM_TYPES = (
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.GroupNormalization,
    keras.layers.UnitNormalization,
    keras.layers.Normalization,
) + ((keras.layers.RMSNormalization,) if hasattr(keras.layers, "RMSNormalization") else ())


def is_custom_norm(layer) -> bool:
    cls = type(layer)
    return (
        isinstance(layer, keras.layers.Layer)
        and not isinstance(layer, NORM_TYPES)
        and not cls.__module__.startswith("keras")
        and "norm" in cls.__name__.lower()
        and not isinstance(layer, keras.Model)
    )


def is_checked(layer) -> bool:
    return isinstance(layer, NORM_TYPES) or is_custom_norm(layer)


def walk_layers(model) -> Iterator[tuple[str, Any]]:
    """(path, layer) for every layer inside ``model``, nested models and layers included."""
    seen: set[int] = set()

    def visit(prefix: str, obj) -> Iterator[tuple[str, Any]]:
        children = getattr(obj, "_flatten_layers", None)
        for kid in list(children(include_self=False, recursive=False)) if children else []:
            if id(kid) in seen:
                continue
            seen.add(id(kid))
            path = f"{prefix}/{kid.name}"
            yield path, kid
            yield from visit(path, kid)

    yield from visit(model.name, model)


def capture_inputs(model, x: np.ndarray, layers: list) -> dict[int, np.ndarray]:
    """The first input each of ``layers`` receives when ``model`` runs on ``x`` in inference mode."""
    captured: dict[int, np.ndarray] = {}
    patched = []
    for layer in layers:
        original = layer.call

        def spy(*args, __original=original, __key=id(layer), __layer=layer, **kwargs):
            if __key not in captured and args:
                try:
                    captured[__key] = np.asarray(keras.ops.convert_to_numpy(args[0]))
                    if len(args) > 1:  # a layer of several tensors (x, context): the others stay as they came
                        object.__setattr__(__layer, EXTRA_ARGS, tuple(
                            keras.ops.convert_to_numpy(a) if keras.ops.is_tensor(a) else a for a in args[1:]))
                except Exception:  # symbolic or non-tensor input: nothing to capture
                    pass
            return __original(*args, **kwargs)

        object.__setattr__(layer, "call", spy)
        patched.append(layer)
    try:
        model(model_input(x), training=False)
    finally:
        for layer in patched:
            try:
                object.__delattr__(layer, "call")
            except AttributeError:
                pass
    return captured


# ------------------------------------------------------------------------------------------ checks
def _batch_independence(layer, x: np.ndarray, rng: np.random.Generator, **kwargs) -> Check:
    if x.shape[0] < 2:
        return Check("batch-independence", PASS, "batch of one: not testable")
    other = x.copy()
    other[1:] = rng.permutation(x[1:], axis=0) * 1.7 + 0.3
    a = _call(layer, x, **kwargs)[0]
    b = _call(layer, other, **kwargs)[0]
    cmp = ref.compare(b, a)
    if cmp.ok:
        return Check("batch-independence", PASS, "sample 0's output ignores the rest of its batch in inference mode")
    return Check(
        "batch-independence",
        FAIL,
        "in inference mode, sample 0's output changes when the other samples of its batch change",
        cmp.max_abs,
        cmp.max_rel,
    )


def check_batchnorm(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    rank = x.ndim
    kept = ref.kept_axes(rank, layer.axis)
    words = ref.describe_per_axis(x.shape, kept, _channels_first())
    checks: list[Check] = []
    if 0 in kept:
        checks.append(Check("axis", FAIL, "axis keeps the batch axis 0: statistics per batch position, not per channel", code="NL201"))
    elif all(x.shape[a] == 1 for a in kept):
        checks.append(Check("axis", FAIL, f"the kept axis {kept} has size 1: one mean for everything (wrong axis?)", code="NL201"))
    else:
        checks.append(Check("axis", PASS, words))
    gamma, beta = _np(layer.gamma) if layer.scale else None, _np(layer.beta) if layer.center else None
    mm0, mv0 = _np(layer.moving_mean), _np(layer.moving_variance)
    momentum, eps = float(layer.momentum), float(layer.epsilon)
    mean, var, unbiased = ref.batch_moments(x, layer.axis)
    try:
        y_train = _call(layer, x, training=True)
        if not layer.trainable:
            expected = ref.batchnorm(x, layer.axis, mm0, mv0, gamma, beta, eps)
            frozen = ref.compare(y_train, expected)
            initial = bool(np.all(mm0 == 0) and np.all(mv0 == 1))
            if initial and MODEL_TRAINED.get():
                checks.append(Check("frozen", FAIL, "trainable=False at its initial statistics (moving mean 0, variance "
                                    "1) in a model that is trained: it never learns any and normalizes nothing (a "
                                    "frozen BatchNormalization belongs in a pretrained backbone, with learned statistics)",
                                    frozen.max_abs, frozen.max_rel))
            else:
                state = "at its initial statistics (mean 0, variance 1)" if initial else "with learned statistics"
                checks.append(
                    Check(
                        "frozen",
                        WARN if initial else PASS,
                        f"trainable=False {state}: in fit() this BatchNormalization runs in inference mode (moving "
                        "statistics, no updates)" + ("" if frozen.ok else "; and its output does not match that either"),
                        frozen.max_abs,
                        frozen.max_rel,
                    )
                )
        elif getattr(layer, "renorm", False):
            checks.append(Check("training", WARN, "renorm=True: training-mode output not compared"))
        else:
            expected = ref.batchnorm(x, layer.axis, mean, var, gamma, beta, eps)
            checks.append(_compare_check("training", y_train, expected, "training mode uses the batch statistics"))
            mm1, mv1 = _np(layer.moving_mean), _np(layer.moving_variance)
            mean_cmp = ref.compare(mm1, ref.moving_update(mm0, mean, momentum), rtol=1e-4, atol=1e-5)
            var_pop = ref.compare(mv1, ref.moving_update(mv0, var, momentum), rtol=1e-4, atol=1e-5)
            var_unb = ref.compare(mv1, ref.moving_update(mv0, unbiased, momentum), rtol=1e-4, atol=1e-5)
            ok = mean_cmp.ok and (var_pop.ok or var_unb.ok)
            which = "population" if var_pop.ok else "Bessel-corrected" if var_unb.ok else "no"
            checks.append(
                Check(
                    "moving-statistics",
                    PASS if ok else FAIL,
                    f"one step: moving = {momentum:g} * old + {1 - momentum:g} * batch ({which} variance)"
                    if ok
                    else f"moving statistics after one training step are not {momentum:g} * old + {1 - momentum:g} * batch",
                    max(mean_cmp.max_abs, min(var_pop.max_abs, var_unb.max_abs)),
                    max(mean_cmp.max_rel, min(var_pop.max_rel, var_unb.max_rel)),
                )
            )
    finally:
        layer.moving_mean.assign(mm0.astype(np.float32))
        layer.moving_variance.assign(mv0.astype(np.float32))
    y_infer = _call(layer, x, training=False)
    expected = ref.batchnorm(x, layer.axis, mm0, mv0, gamma, beta, eps)
    checks.append(_compare_check("inference", y_infer, expected, "inference mode uses the moving statistics"))
    checks.append(_batch_independence(layer, x, rng, training=False))
    return f"{words}; momentum {momentum:g}", checks


def check_layernorm(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    reduced = ref.kept_axes(x.ndim, layer.axis)
    words = ref.describe_over(x.shape, reduced, _channels_first())
    checks = []
    if 0 in reduced:
        checks.append(Check("axis", FAIL, "normalizes over the batch axis 0: samples of a batch are mixed", code="NL203"))
    else:
        checks.append(Check("axis", PASS, words))
    gamma = _np(layer.gamma) if getattr(layer, "scale", False) and layer.gamma is not None else None
    beta = _np(layer.beta) if getattr(layer, "center", False) and layer.beta is not None else None
    rms = bool(getattr(layer, "rms_scaling", False))
    expected = ref.layernorm(x, layer.axis, gamma, None if rms else beta, float(layer.epsilon), rms_scaling=rms)
    checks.append(_compare_check("output", _call(layer, x), expected, "per-sample statistics"))
    checks.append(_batch_independence(layer, x, rng))
    return words, checks


def check_groupnorm(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    axis = layer.axis % x.ndim
    channels, groups = x.shape[axis], int(layer.groups)
    checks = []
    if channels % groups:
        checks.append(Check("groups", FAIL, f"groups={groups} does not divide {channels} channels"))
        return f"{groups} groups over {channels} channels", checks
    names = ref.axis_names(x.shape, (), _channels_first())
    spatial = " x ".join(names[a] for a in range(1, x.ndim) if a != axis)
    grouped = names[axis]
    words = (f"per sample and group ({groups} groups of {channels // groups} {grouped}), over "
             f"{spatial + ' x ' if spatial else ''}{grouped}-in-group")
    checks.append(Check("groups", PASS, words))
    gamma = _np(layer.gamma) if layer.scale else None
    beta = _np(layer.beta) if layer.center else None
    expected = ref.groupnorm(x, groups, axis, gamma, beta, float(layer.epsilon))
    checks.append(_compare_check("output", _call(layer, x), expected, "per-group statistics"))
    checks.append(_batch_independence(layer, x, rng))
    return words, checks


def _per_sample(layer, x: np.ndarray, rng, label: str, expected: np.ndarray, what: str) -> tuple[str, list[Check]]:
    """Axis, output and batch-independence checks for layers that normalize each sample over ``layer.axis``."""
    reduced = ref.kept_axes(x.ndim, layer.axis)
    words = f"{label} {ref.describe_over(x.shape, reduced, _channels_first())}"
    checks = [Check("axis", FAIL, f"{label} over the batch axis 0", code="NL203") if 0 in reduced else Check("axis", PASS, words)]
    checks.append(_compare_check("output", _call(layer, x), expected, what))
    checks.append(_batch_independence(layer, x, rng))
    return words, checks


def check_unitnorm(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    return _per_sample(layer, x, rng, "unit L2 norm", ref.unitnorm(x, layer.axis), "x / ||x||")


def check_rmsnorm(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    scale = _np(layer.scale) if getattr(layer, "scale", None) is not None else None
    expected = ref.rmsnorm(x, layer.axis, scale, float(layer.epsilon))
    return _per_sample(layer, x, rng, "RMS", expected, "x / rms(x) * scale")


def check_normalization(layer, x: np.ndarray, rng, adapt_data=None, train_data=None) -> tuple[str, list[Check]]:
    checks: list[Check] = []
    build_shape = getattr(layer, "_build_input_shape", None)
    keep = tuple(getattr(layer, "_keep_axis", ()) or ())
    mean = _np(layer.mean) if getattr(layer, "mean", None) is not None else None
    variance = _np(layer.variance) if getattr(layer, "variance", None) is not None else None
    if keep and build_shape is not None:
        names = ref.axis_names(tuple(d or 1 for d in build_shape))
        words = "per " + " x ".join(ref.singular(names[a]) for a in keep)
        words += f" (axis {', '.join(map(str, keep))}), statistics from adapt()"
    else:
        words = "one mean/variance for all values (axis=None)"
    given = getattr(layer, "input_mean", None) is not None
    adapted = adapt_data is not None or getattr(layer, "_normlint_adapted", False)
    if mean is None or variance is None:
        checks.append(Check("adapted", FAIL, "never built: no statistics at all", code="NL301"))
        return words, checks
    if not given and not adapted and np.all(mean == 0) and np.all(variance == 1):
        checks.append(
            Check("adapted", FAIL, "never adapted: mean 0, variance 1, the layer passes data through unchanged", code="NL301")
        )
    else:
        detail = "given mean/variance" if given else "adapted" if adapted else "statistics set"
        note = getattr(layer, NOTE, None)
        checks.append(Check("adapted", PASS, f"{detail} ({note})" if note and adapt_data is None else detail))
    if adapt_data is not None:
        data = np.asarray(adapt_data, dtype=np.float64)
        reduce = tuple(a for a in range(data.ndim) if a not in keep)
        np_mean = data.mean(axis=reduce)
        np_var = data.var(axis=reduce)
        got_mean = _np(layer.adapt_mean) if hasattr(layer, "adapt_mean") else mean.reshape(np_mean.shape)
        got_var = _np(layer.adapt_variance) if hasattr(layer, "adapt_variance") else variance.reshape(np_var.shape)
        m = ref.compare(got_mean.reshape(np_mean.shape), np_mean)
        v = ref.compare(got_var.reshape(np_var.shape), np_var)
        checks.append(
            Check(
                "adapt-statistics",
                PASS if m.ok and v.ok else FAIL,
                "adapted mean/variance match NumPy on the adapt data" if m.ok and v.ok else "adapted mean/variance differ from NumPy on the adapt data",
                max(m.max_abs, v.max_abs),
                max(m.max_rel, v.max_rel),
            )
        )
    if build_shape is not None and x.ndim != len(build_shape):
        where = f"adapted on rank-{len(build_shape)} data {tuple(build_shape)} but called on rank-{x.ndim} {x.shape}"
        try:
            out_shape = np.broadcast_shapes(x.shape, mean.shape)
        except ValueError:
            out_shape = None
        if out_shape != x.shape:
            result = f"the output has shape {out_shape}" if out_shape else "they do not broadcast"
            checks.append(Check("rank", FAIL, f"{where}: mean/variance broadcast and {result}"))
            return words, checks
        # e.g. adapted on an unbatched dataset of (32, 32, 3) images: Keras read each image as a batch of
        # rows, the per-channel statistics are right and broadcast onto the last axes of the real input
        checks.append(
            Check("rank", WARN, f"{where}: the statistics apply to the last {len(build_shape)} axes and the output keeps "
                  "its shape; adapt on batched data of the input's rank to be sure the axes line up")
        )
    y = _call(layer, x)
    if y.shape != x.shape:
        checks.append(Check("rank", FAIL, f"output shape {y.shape} differs from input shape {x.shape} (broadcasting)"))
        return words, checks
    expected = ref.standardize(x, mean, variance, bool(getattr(layer, "invert", False)))
    checks.append(_compare_check("output", y, expected, "(x - mean) / sqrt(variance)"))
    data = train_data if train_data is not None else adapt_data
    if data is not None and not getattr(layer, "invert", False):
        sample = np.asarray(data[:2048], dtype=np.float64)
        if sample.shape[1:] == x.shape[1:]:
            checks.append(_standardized(_call(layer, sample), keep, adapt_data, train_data))
    checks.append(_batch_independence(layer, x, rng))
    return words, checks


def _standardized(out: np.ndarray, keep: tuple[int, ...], adapt_data, train_data) -> Check:
    """Does the layer standardize the training data? Judged per feature column (the last axis) whatever the
    layer's axis: with axis=None one mean and variance serve every column, and columns of different scales
    come out far from mean 0 / std 1. The tolerance follows the sample sizes (the statistics of one sample
    judged on another differ by chance: a few standard errors, 1/sqrt(n) for the mean)."""
    per = keep or (out.ndim - 1,)
    reduce = tuple(a for a in range(out.ndim) if a not in per)
    n = int(np.prod([out.shape[a] for a in reduce]))
    n_adapt = n
    if adapt_data is not None and train_data is not None and adapt_data is not train_data:
        a = np.asarray(adapt_data)
        n_adapt = int(np.prod([a.shape[i] for i in reduce if i < a.ndim])) if a.ndim == out.ndim else len(a)
    tol = max(0.05, 4.0 * (1.0 / np.sqrt(max(n, 1)) + 1.0 / np.sqrt(max(n_adapt, 1))))
    means = out.mean(axis=reduce).ravel()
    stds = out.std(axis=reduce).ravel()
    mu, sd = float(np.abs(means).max()), float(np.abs(stds - 1).max())
    if mu <= tol and sd <= tol:
        return Check("standardized", PASS, f"on the training data: per-feature |mean| <= {mu:.3f}, |std - 1| <= {sd:.3f} "
                                           f"(tolerance {tol:.3f} for {n} values per feature)")
    if not keep:
        lo, hi = int(np.argmin(stds)), int(np.argmax(stds))
        return Check("standardized", FAIL,
                     f"axis=None uses one mean and variance for every feature: on the training data the feature "
                     f"columns come out with std {stds[lo]:.3g} (feature {lo}) to {stds[hi]:.3g} (feature {hi}) and "
                     f"|mean| up to {mu:.3g}; use axis=-1 for per-feature statistics")
    return Check("standardized", FAIL, f"on the training data: per-feature |mean| up to {mu:.3f}, |std - 1| up to {sd:.3f} "
                                       f"(tolerance {tol:.3f} for {n} values per feature): not standardized")


def _weight(layer, *words) -> np.ndarray | None:
    for w in layer.weights:
        name = w.path.rsplit("/", 1)[-1].lower() if hasattr(w, "path") else w.name.lower()
        if any(word in name for word in words):
            return _np(w)
    return None


def _call_mode(layer, x: np.ndarray, training: bool) -> np.ndarray:
    """The layer in one mode; a layer whose call() takes no ``training`` runs as it is."""
    try:
        return _call(layer, x, training=training)
    except TypeError:
        return _call(layer, x)


def check_custom(layer, x: np.ndarray, rng) -> tuple[str, list[Check]]:
    """A hand-written normalization-like layer, judged by what it computes (normlint.runtime.probe): its
    measured semantics against the kind its class name promises and its axis/groups attributes; a layer
    whose name promises no kind is described, never failed. In inference mode its outputs must not depend
    on the rest of the batch; a hand-written batch norm's moving statistics must follow its momentum."""
    from normlint.runtime import probe

    kind = probe.declared_kind(type(layer).__name__)
    channels_first = getattr(layer, "data_format", None) == "channels_first" or _channels_first()
    training = kind == "batch"
    try:
        sem = probe.measure(lambda inp: _call_mode(layer, inp, training), x)
    except probe.NotNormalization as exc:  # "Norm" in a name is no promise to keep the shape: describe
        return f"not a normalization: {exc}", [Check("semantics", WARN, f"not judged: {exc}")]
    words = ("training mode: " if training else "") + probe.describe(sem, tuple(x.shape), channels_first)
    checks = []
    if kind is None:
        checks.append(Check("semantics", PASS, f"described, not judged: the class name promises no kind of "
                                               f"normalization to hold it to; it computes {words}"))
    else:
        problem = probe.judge(kind, layer, sem, tuple(x.shape), channels_first)
        label = f"{kind} normalization" if kind != "rms" else "RMS normalization"
        checks.append(Check("semantics", FAIL if problem else PASS,
                            f"{label} expected ({type(layer).__name__}): {problem}; measured {words}" if problem
                            else f"computes what {label} promises: {words}"))
    checks.append(_batch_independence(layer, x, rng, training=False) if _takes_training(layer)
                  else _batch_independence(layer, x, rng))
    if kind == "batch":
        update = _custom_moving_update(layer, x)
        if update is not None:
            checks.append(update)
    return words, checks


def _takes_training(layer) -> bool:
    import inspect

    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def _custom_moving_update(layer, x: np.ndarray) -> Check | None:
    """One training step of a hand-written batch norm: how far its moving statistics move toward the batch's."""
    from normlint.runtime import probe

    weights = probe.moving_weights(layer)
    if weights is None:
        return None
    mean_var, var_var = weights
    old_mean, old_var = _np(mean_var), _np(var_var)
    if old_mean is None or old_var is None:
        return None
    try:
        # start from statistics far from the batch's, so that the step is measurable
        mean_var.assign((old_mean + 5.0).astype(np.float32))
        start = _np(mean_var)
        _call_mode(layer, x, True)
        new = _np(mean_var)
    finally:
        mean_var.assign(old_mean.astype(np.float32))
        var_var.assign(old_var.astype(np.float32))
    axis = getattr(layer, "axis", None)
    matching = [a for a in range(1, x.ndim) if x.shape[a] == np.size(start)]
    channel = int(axis) % x.ndim if isinstance(axis, int) else matching[-1] if matching else x.ndim - 1
    batch_mean = x.astype(np.float64).mean(axis=tuple(a for a in range(x.ndim) if a != channel)).reshape(np.shape(start))
    if start is None or new is None:
        return None
    step = batch_mean - start
    moved = np.abs(step) > 1e-3
    if not moved.any():
        return None
    weight = float(np.median((new - start)[moved] / step[moved]))
    momentum = getattr(layer, "momentum", None)
    momentum = float(momentum) if isinstance(momentum, (int, float)) and not isinstance(momentum, bool) else None
    ok, words = probe.momentum_verdict(weight, momentum)
    return Check("moving-statistics", PASS if ok else FAIL, words)


CHECKERS: list[tuple[type, Callable]] = [
    (keras.layers.BatchNormalization, check_batchnorm),
    (keras.layers.LayerNormalization, check_layernorm),
    (keras.layers.GroupNormalization, check_groupnorm),
    (keras.layers.UnitNormalization, check_unitnorm),
    (keras.layers.Normalization, check_normalization),
]
if hasattr(keras.layers, "RMSNormalization"):
    CHECKERS.append((keras.layers.RMSNormalization, check_rmsnorm))


def check_layer(layer, x: np.ndarray, rng, model_name: str, path: str, adapt_data=None, train_data=None) -> LayerReport:
    report = LayerReport(model_name, path, type(layer).__name__, "", tuple(x.shape))
    try:
        if isinstance(layer, keras.layers.Normalization):
            report.normalizes, report.checks = check_normalization(layer, x, rng, adapt_data, train_data)
        else:
            for cls, fn in CHECKERS:
                if isinstance(layer, cls):
                    report.normalizes, report.checks = fn(layer, x, rng)
                    break
            else:
                report.normalizes, report.checks = check_custom(layer, x, rng)
        layout = _layout_check(layer, x)
        if layout is not None:
            report.checks.insert(0, layout)
    except Exception as exc:  # a layer that cannot run on its own input is itself a finding
        report.checks.append(Check("run", FAIL, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))
    return report


def _layout_check(layer, x: np.ndarray) -> Check | None:
    """BatchNormalization / GroupNormalization keep the channel axis: on images whose layout the model's
    convolutions declare, an axis pointing at height or width is a port from the other layout."""
    layout = IMAGE_LAYOUT.get()
    if layout is None or x.ndim not in (4, 5):
        return None
    if not isinstance(layer, (keras.layers.BatchNormalization, keras.layers.GroupNormalization)):
        return None
    kept = ref.kept_axes(x.ndim, layer.axis)
    channel = 1 if layout == "channels_first" else x.ndim - 1
    if kept == (channel,) or 0 in kept:  # right, or the batch axis (NL201, reported by the axis check)
        return None
    names = ref.axis_names(x.shape, kept, layout == "channels_first")
    where = " x ".join(f"{names[a]} ({x.shape[a]})" for a in kept)
    return Check("layout", FAIL, f"{type(layer).__name__}(axis={layer.axis!r}) keeps {where} on {layout} data: the "
                                 f"channels are axis {channel if layout == 'channels_first' else -1} (ported from "
                                 f"{'channels_first' if layout == 'channels_last' else 'channels_last'} code?)",
                 code="NL202")


def model_layout(model) -> str | None:
    """The image layout the model's convolutions and pooling declare; None when it has none."""
    formats = [getattr(lay, "data_format", None) for _, lay in walk_layers(model)
               if type(lay).__name__.startswith(("Conv", "DepthwiseConv", "SeparableConv", "MaxPool", "AveragePool"))]
    formats = [f for f in formats if f in ("channels_last", "channels_first")]
    if not formats:
        return None
    return max(set(formats), key=formats.count)


def check_model(model, x: np.ndarray, model_name: str, adapt_data: dict | None = None, train_data=None, seed: int = 0,
                only: Callable[[Any], bool] | None = None, trained: bool = False) -> list[LayerReport]:
    """Check every normalization layer of ``model`` on the probe batch ``x`` (inputs captured per layer)."""
    rng = np.random.default_rng(seed)
    token = IMAGE_LAYOUT.set(model_layout(model) if hasattr(model, "_flatten_layers") else None)
    trained_token = MODEL_TRAINED.set(trained or getattr(model, "optimizer", None) is not None)
    try:
        return _check_model(model, x, model_name, adapt_data, train_data, rng, only)
    finally:
        IMAGE_LAYOUT.reset(token)
        MODEL_TRAINED.reset(trained_token)


def _check_model(model, x, model_name, adapt_data, train_data, rng, only) -> list[LayerReport]:
    layers = [(p, layer) for p, layer in walk_layers(model) if is_checked(layer) and (only is None or only(layer))]
    captured = capture_inputs(model, x, [layer for _, layer in layers])
    reports = []
    for path, layer in layers:
        inp = captured.get(id(layer))
        if inp is None:
            report = LayerReport(model_name, path, type(layer).__name__, "", None)
            report.checks.append(Check("reached", WARN, "not reached by the probe batch (unused branch?): not checked"))
            reports.append(report)
            continue
        data = (adapt_data or {}).get(id(layer))
        reports.append(check_layer(layer, np.asarray(inp, dtype=np.float64), rng, model_name, path, data, train_data))
    if isinstance(model, keras.Model) and only is None:
        reports.append(check_whole_model(model, x, rng, model_name))
    return reports


def _model_out(model, x, training: bool) -> np.ndarray:
    out = model(model_input(x), training=training)
    parts = out if isinstance(out, (list, tuple)) else list(out.values()) if isinstance(out, dict) else [out]
    n = len(_arrays(x)[0])
    return np.concatenate([np.asarray(keras.ops.convert_to_numpy(p), dtype=np.float64).reshape(n, -1) for p in parts], axis=1)


def check_whole_model(model, x: np.ndarray, rng, model_name: str) -> LayerReport:
    """Checks of the model as a whole, in the flag the caller passes (each layer alone is checked with the
    flag normlint chooses, so a layer called with a hard-coded ``training=True`` inside ``call()`` is caught
    only here): inference must not depend on the rest of the batch, must be deterministic, and
    ``training=True`` must reach the BatchNormalization and Dropout layers the model holds."""
    report = LayerReport(model_name, f"{model_name} (whole model)", type(model).__name__, "the model as a whole, as callers call it",
                         tuple(_arrays(x)[0].shape))
    try:
        base = _model_out(model, x, False)
        again = _model_out(model, x, False)
        same = ref.compare(again, base)
        report.checks.append(Check("model-deterministic", PASS if same.ok else FAIL,
                                   "two inference calls on the same batch agree" if same.ok else
                                   "two inference calls on the same batch differ: a Dropout (or another random layer) is "
                                   "active at inference (training=True hard-coded in call()?)", same.max_abs, same.max_rel))

        def reshuffled(a: np.ndarray) -> np.ndarray:
            b = a.copy()
            b[1:] = rng.permutation(a[1:], axis=0) * 1.7 + 0.3
            return b

        if len(_arrays(x)[0]) >= 2 and same.ok:  # random outputs would move anyway: nothing to learn about the batch
            other = _map(x, reshuffled)
            moved = ref.compare(_model_out(model, other, False)[0], base[0])
            report.checks.append(Check("model-batch-independence", PASS if moved.ok else FAIL,
                                       "model(x, training=False): sample 0's prediction ignores the rest of its batch"
                                       if moved.ok else "model(x, training=False): sample 0's prediction changes with the "
                                       "other samples of its batch: a layer uses batch statistics at inference (a "
                                       "BatchNormalization called with training=True hard-coded in call()?)",
                                       moved.max_abs, moved.max_rel))
        live = [lay for _, lay in walk_layers(model)
                if (isinstance(lay, keras.layers.BatchNormalization) and lay.trainable)
                or (isinstance(lay, keras.layers.Dropout) and float(getattr(lay, "rate", 0)) > 0)]
        if live:
            saved = [(v, keras.ops.convert_to_numpy(v)) for v in model.non_trainable_variables]
            try:
                trained = _model_out(model, x, True)
            finally:
                for var, value in saved:  # a training call moves the moving statistics: put them back
                    var.assign(value)
            differs = not ref.compare(trained, base).ok
            kinds = sorted({type(lay).__name__ for lay in live})
            report.checks.append(Check("training-flag", PASS if differs else FAIL,
                                       f"training=True changes the output: the flag reaches its {'/'.join(kinds)}" if differs
                                       else f"model(x, training=True) and model(x, training=False) compute the same although "
                                       f"the model holds {'/'.join(kinds)}: the flag does not reach them (training= "
                                       f"hard-coded in call(), or not passed on?)"))
    except Exception as exc:  # a model that cannot be called as a whole on the probe is reported, not fatal
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        report.checks.append(Check("model-call", WARN,
                                   f"the whole model could not be called on the probe batch: {type(exc).__name__}: {first}"))
    return report
