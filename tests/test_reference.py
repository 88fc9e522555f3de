"""The NumPy references against independent formulas (no TensorFlow involved)."""

import numpy as np

from normlint.runtime import reference as ref


def test_batch_moments_and_bessel():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2))
    mean, var, unbiased = ref.batch_moments(x, -1)
    flat = x.reshape(-1, 2)
    assert np.allclose(mean, flat.mean(0)) and np.allclose(var, flat.var(0)) and np.allclose(unbiased, flat.var(0, ddof=1))


def test_batchnorm_train_output_is_standardized():
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(64, 5))
    mean, var, _ = ref.batch_moments(x, -1)
    y = ref.batchnorm(x, -1, mean, var, None, None, 0.0)
    assert np.allclose(y.mean(0), 0, atol=1e-12) and np.allclose(y.std(0), 1)


def test_groupnorm_with_one_group_is_layernorm_over_everything_but_batch():
    x = np.random.default_rng(2).normal(size=(2, 4, 4, 6))
    gn = ref.groupnorm(x, 1, -1, None, None, 1e-3)
    ln = ref.layernorm(x, [1, 2, 3], None, None, 1e-3)
    assert np.allclose(gn, ln)
    per_channel = ref.groupnorm(x, 6, -1, None, None, 1e-3)
    manual = (x - x.mean((1, 2), keepdims=True)) / np.sqrt(x.var((1, 2), keepdims=True) + 1e-3)
    assert np.allclose(per_channel, manual)


def test_moving_update_is_keras_convention():
    assert np.allclose(ref.moving_update([1.0], [0.0], 0.9), [0.9])


def test_compare_and_descriptions():
    assert ref.compare([1.0, 2.0], [1.0, 2.0005]).ok
    assert not ref.compare([1.0, 2.0], [1.0, 2.1]).ok
    assert not ref.compare(np.zeros(3), np.zeros(4)).ok
    assert ref.describe_per_axis((16, 28, 28, 6), (3,)) == "per channel, over batch x height x width, 6 channels (axis 3)"
    assert ref.describe_per_axis((16, 6, 28, 28), (1,), channels_first=True) == "per channel, over batch x height x width, 6 channels (axis 1)"
    # the layout is what the model declares, never guessed from the axis: axis 1 of channels_last images is the height
    assert ref.describe_per_axis((16, 26, 26, 6), (1,)) == "per height position, over batch x width x channels, 26 height positions (axis 1)"
    assert ref.describe_over((16, 10), (1,)) == "per sample, over features (10 values)"
