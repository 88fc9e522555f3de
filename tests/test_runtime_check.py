"""`normlint check` for real: TensorFlow/Keras models built from fixture files, checked against NumPy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import FIXTURES, normlint

pytestmark = pytest.mark.slow  # imports TensorFlow / trains: not in the fast lane

pytest.importorskip("keras", reason="the runtime extra (TensorFlow) is not installed")
RUNTIME = FIXTURES / "runtime"


def check_json(path: Path, *args: str):
    result = normlint("check", "--format", "json", *args, str(path), timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout)


def by_layer(doc) -> dict[str, dict]:
    return {layer["layer"].rsplit("/", 1)[-1]: layer for m in doc["models"] for layer in m["layers"]}


def layers_of(doc) -> list[dict]:
    """The layer entries, without each model's whole-model entry."""
    return [layer for m in doc["models"] for layer in m["layers"] if not layer["layer"].endswith("(whole model)")]


@pytest.mark.parametrize("name, expected_layers", [("good_lenet5_norm.py", 5), ("good_subclassed.py", 5)])
def test_correct_models_pass_every_check(name, expected_layers):
    rc, doc = check_json(RUNTIME / name)
    assert rc == 0 and doc["failed"] == 0 and doc["static"] == []
    layers = layers_of(doc)
    assert len(layers) == expected_layers
    whole = [layer for m in doc["models"] for layer in m["layers"] if layer["layer"].endswith("(whole model)")]
    assert len(whole) == 1 and whole[0]["status"] == "pass"
    assert {c["name"] for c in whole[0]["checks"]} == {"model-deterministic", "model-batch-independence", "training-flag"}
    for layer in layers:
        assert layer["status"] == "pass", layer
        for check in layer["checks"]:
            if "max_rel" in check:
                assert check["max_rel"] < 1e-3
    bn = [layer for layer in layers if layer["class"] == "BatchNormalization"]
    assert {c["name"] for c in bn[0]["checks"]} >= {"training", "moving-statistics", "inference", "batch-independence"}
    assert any("per channel, over batch x height x width" in layer["normalizes"] for layer in bn)


def test_every_broken_layer_is_caught():
    rc, doc = check_json(RUNTIME / "broken_models.py")
    assert rc == 1
    assert {f["code"] for f in doc["static"]} == {"NL201", "NL301"}
    layers = by_layer(doc)

    def failed(layer):
        return {c["name"]: c for c in layers[layer]["checks"] if c["status"] == "fail"}

    assert failed("bn_batch_axis")["axis"]["code"] == "NL201"
    assert layers["bn_batch_axis"]["line"] == 42 and layers["frozen_bn"]["line"] == 46
    assert failed("norm_never_adapted")["adapted"]["code"] == "NL301"
    assert "an output depends on the other samples of the batch" in failed("wrong_variance_ln")["semantics"]["detail"]
    assert "batch-independence" in failed("always_batch_stats")
    frozen = {c["name"]: c for c in layers["frozen_bn"]["checks"]}
    assert frozen["frozen"]["status"] == "warn" and layers["frozen_bn"]["status"] == "warn"
    # the hand-written layer that uses batch statistics at inference also makes the whole model batch-dependent
    assert failed("Broken() (whole model)")["model-batch-independence"]["status"] == "fail"
    assert doc["failed"] == 2 + 6


def test_hand_written_layers_are_judged_by_what_they_compute():
    """Correct RMSNorm, tensorflow-addons InstanceNormalization, GroupNorm, fixed-constant NormalizeImage /
    Denormalize and a Keras-convention batch norm pass; each broken twin fails with its axes named."""
    rc, doc = check_json(RUNTIME / "custom_norms_correct.py")
    assert rc == 0 and doc["failed"] == 0, [c for m in doc["models"] for la in m["layers"] for c in la["checks"] if c["status"] != "pass"]
    layers = by_layer(doc)
    assert layers["instance_norm"]["normalizes"] == "mean and std per sample and channel, over height x width (64 values)"
    assert layers["rms_norm"]["normalizes"] == "RMS (no mean subtracted) per sample and height x width position, over channels (4 values)"
    assert layers["group_norm"]["normalizes"] == "mean and std per sample, over height x width, in groups of 2 channels (128 values)"
    assert layers["keras_style_bn"]["normalizes"].startswith("training mode: mean and std per channel, over batch x height x width")
    assert layers["normalize_image"]["normalizes"].startswith("elementwise")
    semantics = {c["name"]: c for c in layers["normalize_image"]["checks"]}["semantics"]
    assert semantics["detail"].startswith("described, not judged")
    moving = {c["name"]: c for c in layers["keras_style_bn"]["checks"]}["moving-statistics"]
    assert "Keras's convention" in moving["detail"]
    assert layers["l2_normalize"]["normalizes"].startswith("unit L2 norm (no mean subtracted) per sample and height x width position")
    assert layers["normalized_dense"]["status"] == "warn"  # not a normalization: described, not failed
    assert layers["normalized_dense"]["normalizes"].startswith("not a normalization: its output shape")

    rc, doc = check_json(RUNTIME / "custom_norms_broken.py")
    assert rc == 1
    layers = by_layer(doc)
    failed = {name: {c["name"]: c["detail"] for c in layer["checks"] if c["status"] == "fail"} for name, layer in layers.items()}
    assert failed["centering_rms_norm"]["semantics"].startswith(
        "RMS normalization expected (RMSNorm): it subtracts a mean, which RMS normalization does not")
    assert failed["channel_instance_norm"]["semantics"].startswith(
        "instance normalization expected (InstanceNormalization): its statistics span height x width x channels, "
        "but instance normalization with axis=-1 takes them over height x width")
    assert failed["spatial_layer_norm"]["semantics"].startswith(
        "layer normalization expected (SpatialLayerNorm): its statistics span height x width, but layer "
        "normalization with axis=-1 takes them over channels")
    assert "momentum 0.99 is used as the weight of the new batch (PyTorch's convention)" in failed["torch_momentum_bn"]["moving-statistics"]
    assert doc["failed"] == 4


def test_normalization_applied_to_another_rank():
    rc, doc = check_json(RUNTIME / "broken_normalization_rank.py")
    assert rc == 1
    (layer,) = layers_of(doc)
    rank = next(c for c in layer["checks"] if c["name"] == "rank")
    assert rank["status"] == "fail" and "rank-4" in rank["detail"] and "rank-3" in rank["detail"]
    assert next(c for c in layer["checks"] if c["name"] == "adapt-statistics")["status"] == "pass"


def test_normalization_adapted_on_datasets_and_generators():
    rc, doc = check_json(RUNTIME / "adapt_datasets.py")
    assert rc == 0 and doc["failed"] == 0
    layers = by_layer(doc)
    checks = {name: {c["name"]: c for c in layer["checks"]} for name, layer in layers.items()}
    # a tf.data dataset of (images, labels) batches is read again and its statistics recomputed in NumPy
    assert checks["from_pairs"]["adapt-statistics"]["status"] == "pass"
    assert checks["from_pairs"]["adapt-statistics"]["max_rel"] < 1e-4
    # random augmentation or a used-up generator: not recomputed, and the report says why
    assert "adapt-statistics" not in checks["augmented"]
    assert "other values on each pass" in checks["augmented"]["adapted"]["detail"]
    assert "adapt-statistics" not in checks["from_generator"]
    assert "used up by adapt()" in checks["from_generator"]["adapted"]["detail"]
    # an unbatched dataset builds the layer for rank-3 input: the shape survives, so a warning, not a failure
    unbatched = checks["unbatched"]
    assert unbatched["rank"]["status"] == "warn" and "rank-3 data (8, 8, 3)" in unbatched["rank"]["detail"]
    assert unbatched["adapt-statistics"]["status"] == "pass" and unbatched["output"]["status"] == "pass"
    assert layers["unbatched"]["status"] == "warn" and layers["from_pairs"]["status"] == "pass"


def test_text_report_and_github_annotations():
    text = normlint("check", str(RUNTIME / "broken_models.py"), timeout=300)
    assert text.returncode == 1
    assert "FAIL    broken/bn_batch_axis" in text.stdout
    assert "FAIL broken/wrong_variance_ln (line 44): semantics" in text.stdout
    assert text.stdout.rstrip().endswith("6 failed runtime check(s), 2 static error(s)")
    gh = normlint("check", "--format", "github", str(RUNTIME / "broken_models.py"), timeout=300)
    lines = gh.stdout.splitlines()
    # runtime failures point at the line that builds the layer (self.bn_batch_axis = ..., line 42)
    assert any(line.startswith("::error file=") and ",line=42,title=normlint check NL201::" in line for line in lines)
    assert any(line.startswith("::error file=") and "NL301" in line for line in lines)  # the static finding (an error)


def test_whole_model_checks_catch_what_no_layer_alone_shows():
    rc, doc = check_json(RUNTIME / "model_level_bugs.py")
    assert rc == 1
    whole = {m["name"]: {c["name"]: c for c in m["layers"][-1]["checks"]} for m in doc["models"]}
    status = {name: {k: c["status"] for k, c in checks.items()} for name, checks in whole.items()}
    assert status["HardCodedTrainingBN()"]["model-batch-independence"] == "fail"
    assert status["HardCodedInferenceBN()"] == {"model-deterministic": "pass", "model-batch-independence": "pass", "training-flag": "fail"}
    assert status["DropoutAlwaysOn()"]["model-deterministic"] == "fail" and "model-batch-independence" not in status["DropoutAlwaysOn()"]
    assert "training=True hard-coded in call()" in whole["HardCodedTrainingBN()"]["model-batch-independence"]["detail"]
    for m in doc["models"]:  # each layer alone is right: only the whole-model entry fails
        assert all(layer["status"] == "pass" for layer in m["layers"][:-1])


def test_axes_ported_from_channels_first_code_fail_with_layout_words():
    rc, doc = check_json(RUNTIME / "layout_ports.py")
    assert rc == 1 and (doc["runtime_failed"], doc["static_errors"]) == (2, 1)  # NL202 sees the BN statically too
    layers = by_layer(doc)
    for name in ("bn_height", "gn_height"):
        layout = {c["name"]: c for c in layers[name]["checks"]}["layout"]
        assert layout["status"] == "fail" and layout["code"] == "NL202"
        assert "(axis=1) keeps height (10) on channels_last data: the channels are axis -1" in layout["detail"]
    assert layers["bn_height"]["normalizes"].startswith("per height position, over batch x width x channels, 10 height positions")
    assert "groups of 5 height" in layers["gn_height"]["normalizes"]
    assert layers["bn_ok"]["status"] == layers["gn_ok"]["status"] == "pass"
    assert layers["bn_ok"]["normalizes"].startswith("per channel, over batch x height x width, 8 channels (axis 3)")


def test_normalization_axis_none_is_judged_per_feature_with_a_sample_size_tolerance():
    rc, doc = check_json(RUNTIME / "normalization_axis_none.py")
    assert rc == 1 and doc["runtime_failed"] == 1
    layers = by_layer(doc)
    standardized = {name: {c["name"]: c for c in layers[name]["checks"]}["standardized"] for name in ("norm_all", "norm_cols")}
    assert standardized["norm_all"]["status"] == "fail"
    assert standardized["norm_all"]["detail"].startswith("axis=None uses one mean and variance for every feature")
    # adapted on 300 of 2,000 rows: off by chance only, and the tolerance says how much chance allows
    assert standardized["norm_cols"]["status"] == "pass" and "tolerance" in standardized["norm_cols"]["detail"]


def test_frozen_batchnorm_fails_only_when_trained_from_scratch():
    rc, doc = check_json(RUNTIME / "frozen_from_scratch.py")
    frozen = {c["name"]: c for c in by_layer(doc)["frozen_bn"]["checks"]}["frozen"]
    assert rc == 1 and frozen["status"] == "fail" and "in a model that is trained" in frozen["detail"]
    rc, doc = check_json(RUNTIME / "frozen_pretrained.py")
    frozen = {c["name"]: c for c in by_layer(doc)["pretrained_bn"]["checks"]}["frozen"]
    assert rc == 0 and frozen["status"] == "pass" and "with learned statistics" in frozen["detail"]


def test_multi_input_models_get_one_probe_per_input():
    rc, doc = check_json(RUNTIME / "multi_input.py")
    assert rc == 0 and doc["failed"] == 0
    (model,) = doc["models"]
    assert model["inputs"] == ["image", "table"] and model["probe"] == [[16, 8, 8, 3], [16, 5]]
    layers = by_layer(doc)
    assert set(layers) == {"image_bn", "table_bn", "conditional_ln", "build_model() (whole model)"}
    # the two-tensor layer ran with its condition as the model passed it, and was judged as a layer norm
    assert layers["conditional_ln"]["normalizes"] == "mean and std per sample, over features (4 values)"
    assert all(layer["status"] == "pass" for layer in layers.values())


def test_the_same_file_checked_twice_gets_the_same_numbers():
    """The model's initial weights come from --seed, not from the run: verdicts and measurements repeat."""
    def numbers(doc):
        return [(layer["layer"], c["name"], c["status"], c.get("max_abs"), c.get("max_rel"))
                for m in doc["models"] for layer in m["layers"] for c in layer["checks"]]

    first, second = (check_json(RUNTIME / "multi_input.py", "--no-lint")[1] for _ in range(2))
    assert numbers(first) == numbers(second)
    other = check_json(RUNTIME / "multi_input.py", "--no-lint", "--seed", "5")[1]
    assert numbers(other) != numbers(first)  # another seed: other weights, other measurements


def test_a_correct_hand_written_norm_passes_on_inputs_that_barely_vary():
    """A layer norm over 4 pooled features of similar size: at the input's own scale the variance (1e-6) is
    below the layer's epsilon (1e-5) and scaling the input moves the output, yet the layer computes what
    a layer norm promises. (multi_input.py's ConditionalLayerNorm failed so on one JAX run in 400.)"""
    import keras
    from keras import ops

    from normlint.runtime import checks

    class PooledLayerNorm(keras.layers.Layer):
        def __init__(self, epsilon=1e-5, **kwargs):
            super().__init__(**kwargs)
            self.epsilon = epsilon

        def call(self, x):
            mean, variance = ops.moments(x, axes=[-1], keepdims=True)
            return (x - mean) / ops.sqrt(variance + self.epsilon)

    class CenteringLayerNorm(PooledLayerNorm):  # its name promises a layer norm; it only subtracts the mean
        def call(self, x):
            return x - ops.mean(x, axis=-1, keepdims=True)

    rng = np.random.default_rng(0)
    for spread in (1.0, 1e-2, 1e-3):
        x = (rng.normal(0.5, 1.0, (16, 1)) + spread * rng.normal(size=(16, 4))).astype(np.float32)
        words, results = checks.check_custom(PooledLayerNorm(), x, rng)
        assert words == "mean and std per sample, over features (4 values)", spread
        assert all(c.status == "pass" for c in results), (spread, results)
        words, results = checks.check_custom(CenteringLayerNorm(), x, rng)
        semantics = next(c for c in results if c.name == "semantics")
        assert semantics.status == "fail" and "it does not divide by a standard deviation" in semantics.detail, spread


def test_static_warnings_do_not_fail_the_check(tmp_path: Path):
    model = tmp_path / "bias.py"
    model.write_text(
        "import keras\nfrom keras import layers\n\n\ndef build_model():\n"
        "    return keras.Sequential([keras.Input((8,)), layers.Dense(16), layers.BatchNormalization(), layers.Dense(1)])\n"
    )
    result = normlint("check", str(model), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "static rules: 0 error(s), 1 warning(s)" in result.stdout
    assert ": NL102 [warning] Dense has a bias" in result.stdout
    assert result.stdout.rstrip().endswith("all checks passed (1 static warning(s))")
    doc = json.loads(normlint("check", "--format", "json", str(model), timeout=300).stdout)
    assert (doc["failed"], doc["runtime_failed"], doc["static_errors"], doc["static_warnings"]) == (0, 0, 0, 1)
    assert doc["static"][0]["severity"] == "warning"
    gh = normlint("check", "--format", "github", str(model), timeout=300)
    assert gh.returncode == 0 and gh.stdout.startswith("::warning file=")


def test_probe_data_file_and_entry(tmp_path: Path):
    data = tmp_path / "probe.npy"
    np.save(data, np.random.default_rng(1).uniform(0, 255, size=(8, 32, 32, 3)).astype("float32"))
    rc, doc = check_json(RUNTIME / "good_lenet5_norm.py", "--data", str(data), "--entry", "good_lenet5_norm:build_model")
    assert rc == 0 and doc["models"][0]["probe"] == [8, 32, 32, 3]
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 5)))
    result = normlint("check", "--data", str(bad), str(RUNTIME / "good_lenet5_norm.py"), timeout=300)
    assert result.returncode == 2 and "does not match the model input" in result.stderr


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    raises = tmp_path / "raises.py"
    raises.write_text("import keras\n\n\ndef helper():\n    raise ValueError('bad config: 3 layers')\n\n\nhelper()\n")
    result = normlint("check", str(raises), timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "normlint: error: raises.py raised ValueError: bad config: 3 layers"
    assert 'File "' + str(raises) + '", line 5, in helper' in result.stderr  # the user's traceback ...
    assert "normlint/runtime" not in result.stderr and "importlib" not in result.stderr  # ... without ours

    nomodel = tmp_path / "nomodel.py"
    nomodel.write_text("x = 1\n")
    result = normlint("check", str(nomodel), timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("normlint: error: no model found in nomodel.py")
    assert result.stderr.count("\n") == 1

    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    result = normlint("check", str(broken), timeout=300)
    assert result.returncode == 2 and "cannot parse" in result.stderr and "Traceback" not in result.stderr

    slow = tmp_path / "slow.py"
    slow.write_text("import time\ntime.sleep(120)\n")
    result = normlint("check", "--timeout", "3", str(slow), timeout=300)
    assert result.returncode == 2 and "did not finish" in result.stderr

    missing = normlint("check", str(tmp_path / "missing.py"))
    assert missing.returncode == 2 and missing.stderr.strip() == f"normlint: error: no such file: {tmp_path / 'missing.py'}"

    shape = normlint("check", "--input-shape", "a,b", str(RUNTIME / "good_subclassed.py"))
    assert shape.returncode == 2 and "--input-shape" in shape.stderr

    needs_args = tmp_path / "needs_args.py"
    needs_args.write_text("def build_model(units):\n    pass\n")
    result = normlint("check", str(needs_args), timeout=300)
    assert result.returncode == 2 and "build_model() needs arguments (units)" in result.stderr
