"""normlint.runtime.probe measures what a layer computes from its behaviour alone; here on NumPy functions
with known semantics (the probe is pure NumPy around the layer's calls), including inputs whose statistics
are so small that the layer's epsilon dominates them at their own scale."""

from __future__ import annotations

import numpy as np
import pytest

from normlint.runtime import probe


def layer_norm(eps: float):
    def fn(x):
        mean = x.mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    return fn


def rms_norm(eps: float):
    return lambda x: x / np.sqrt(np.square(x).mean(axis=-1, keepdims=True) + eps)


def group_norm(groups: int, eps: float):
    def fn(x):
        n, h, w, c = x.shape
        g = x.reshape(n, h, w, groups, c // groups)
        out = (g - g.mean(axis=(1, 2, 4), keepdims=True)) / np.sqrt(g.var(axis=(1, 2, 4), keepdims=True) + eps)
        return out.reshape(x.shape)
    return fn


def near_constant(shape, spread: float) -> np.ndarray:
    """Samples whose values differ by ``spread`` around per-sample offsets of order 1 (four pooled features
    of similar size, say). Seeded per call: the same values whatever order the tests run in."""
    rng = np.random.default_rng(3)
    offsets = rng.normal(0.5, 1.0, size=(shape[0],) + (1,) * (len(shape) - 1))
    return offsets + spread * rng.normal(size=shape)


@pytest.mark.parametrize("spread", [1.0, 1e-2, 3e-3, 1e-3, 1e-4])
def test_layer_norm_is_scale_invariant_whatever_its_inputs_variance(spread):
    x = near_constant((16, 4), spread)  # per-sample variance spread**2: from far above eps=1e-5 to far below
    sem = probe.measure(layer_norm(1e-5), x)
    assert (sem.reduced, sem.centered, sem.scale_invariant, sem.batch_dependent) == ((1,), True, True, False)
    assert probe.describe(sem, x.shape) == "mean and std per sample, over features (4 values)"


@pytest.mark.parametrize("spread", [1.0, 1e-3])
def test_rms_and_group_norms_keep_their_description_on_small_inputs(spread):
    x = spread * np.random.default_rng(3).normal(size=(8, 6))
    sem = probe.measure(rms_norm(1e-6), x)
    assert (sem.centered, sem.scale_invariant) == (False, True)
    x = near_constant((4, 3, 3, 8), spread)
    sem = probe.measure(group_norm(4, 1e-5), x)
    assert probe.describe(sem, x.shape) == "mean and std per sample, over height x width, in groups of 2 channels (18 values)"


@pytest.mark.parametrize("spread", [1.0, 1e-3])
def test_what_does_not_divide_by_a_std_stays_so_on_small_inputs(spread):
    x = near_constant((16, 4), spread)
    mean_only = probe.measure(lambda v: v - v.mean(axis=-1, keepdims=True), x)
    assert (mean_only.centered, mean_only.scale_invariant) == (True, False)
    squashed = probe.measure(lambda v: np.tanh(v - v.mean(axis=-1, keepdims=True)), x)  # saturates, divides by nothing
    assert squashed.centered and not squashed.scale_invariant
    affine = probe.measure(lambda v: 2.0 * v + 1.0, x)
    assert affine.elementwise and not affine.scale_invariant


def test_statistics_scale_lifts_the_smallest_varying_group_to_unit_variance():
    x = np.ones((4, 3, 6))
    x[:, :, :3] += 1e-3 * np.array([-1.0, 0.0, 1.0])  # varies a little in the first block of the last axis
    x[:, :, 3:] += np.array([-2.0, 0.0, 2.0])
    # per sample over the last axis: variance 4/3, above the unit target: left as it is
    assert probe.statistics_scale(x, (2,), None, None, False) == 1.0
    # in groups of 3 along the last axis: the quiet block's variance (2/3 of 1e-6) decides
    assert probe.statistics_scale(x, (1,), 3, 2, False) == pytest.approx(np.sqrt(1.5e6))
    assert probe.statistics_scale(x, (), None, None, False) == 1.0  # elementwise: no statistics
    assert probe.statistics_scale(np.ones((4, 5)), (1,), None, None, False) == 1.0  # constant: nothing to lift
    tiny = np.ones((4, 5))
    tiny[:, 0] += 1e-12
    assert probe.statistics_scale(tiny, (1,), None, None, True) == probe.MAX_SCALE
