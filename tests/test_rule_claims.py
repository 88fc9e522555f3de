"""What the rule pages claim about Keras, checked on real Keras: the same source is linted and run.

Each case is a small program; normlint must flag the harmful variant and stay silent on the fix, and
running both with TensorFlow/Keras must show the harm the rule's page describes.
"""

from __future__ import annotations

import numpy as np
import pytest

from normlint.lint.engine import lint_source

pytestmark = pytest.mark.slow  # imports TensorFlow / trains: not in the fast lane

keras = pytest.importorskip("keras", reason="the runtime extra (TensorFlow) is not installed")

FINE_TUNE = """
import keras
from keras import layers

base = keras.Sequential([keras.Input((4,)), layers.Dense(4, use_bias=False), layers.BatchNormalization()])
base.save_weights(WEIGHTS)
base.load_weights(WEIGHTS)  # a pretrained backbone: its moving statistics are worth keeping
base.trainable = False
inputs = keras.Input((4,))
features = {call}
model = keras.Model(inputs, layers.Dense(1)(features))
base.trainable = True
{refreeze}
model.compile(optimizer="sgd", loss="mse")
"""
REFREEZE = """
for layer in base.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False
"""


def _moving_mean_change(source: str, tmp_path) -> float:
    """Run the program, fine-tune for one epoch on data far from the moving statistics, and return how
    far the backbone's BatchNormalization moving mean moved."""
    keras.utils.set_random_seed(0)
    scope: dict = {"WEIGHTS": str(tmp_path / "base.weights.h5")}
    exec(compile(source, "fine_tune.py", "exec"), scope)  # noqa: S102 - the test's own program
    bn = scope["base"].layers[-1]
    before = np.array(bn.moving_mean)
    x = np.random.default_rng(0).normal(5.0, 2.0, size=(64, 4)).astype("float32")
    scope["model"].fit(x, np.zeros((64, 1), "float32"), epochs=1, batch_size=16, verbose=0)
    return float(np.abs(np.array(bn.moving_mean) - before).max())


@pytest.mark.parametrize("call", ["base(inputs)", "base(inputs, training=False)"])
def test_nl503_unfrozen_backbone_overwrites_its_moving_statistics_even_with_training_false(call, tmp_path):
    harmful = FINE_TUNE.format(call=call, refreeze="")
    assert [f.code for f in lint_source(harmful, "fine_tune.py")] == ["NL503"]
    # Keras 3: fit() calls the outer model with training=True, which overrides the nested training=False
    assert _moving_mean_change(harmful, tmp_path) > 0.1


def test_nl503_refrozen_batchnorm_keeps_its_moving_statistics(tmp_path):
    fixed = FINE_TUNE.format(call="base(inputs)", refreeze=REFREEZE)
    assert lint_source(fixed, "fine_tune.py") == []
    assert _moving_mean_change(fixed, tmp_path) == 0.0


CUSTOM_TRAIN_STEP = """
import keras
import tensorflow as tf
from keras import layers

inner = keras.Sequential([keras.Input((100,)), layers.Dropout(0.5)])
zeroed = []


class Wrapper(keras.Model):
    def __init__(self, net):
        super().__init__()
        self.net = net
        self.head = layers.Dense(1)

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            out = self.net(x{flag})
            zeroed.append(float(tf.reduce_mean(tf.cast(tf.equal(out, 0.0), tf.float32))))
            loss = tf.reduce_mean(self.head(out))
        grads = tape.gradient(loss, self.head.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.head.trainable_variables))
        return {{"loss": loss}}


model = Wrapper(inner)
"""


@pytest.mark.parametrize("flag, flagged", [("", True), (", training=True", False)])
def test_nl501_a_model_called_in_a_custom_train_step_without_training_runs_in_inference_mode(flag, flagged):
    """fit() runs a custom train_step with no training context: a nested model called without
    training= runs its Dropout (and BatchNormalization) in inference mode, as in GAN train_steps."""
    source = CUSTOM_TRAIN_STEP.format(flag=flag)
    assert [f.code for f in lint_source(source, "gan.py")] == (["NL501"] if flagged else [])
    scope: dict = {}
    exec(compile(source, "gan.py", "exec"), scope)  # noqa: S102 - the test's own program
    model = scope["model"]
    model.compile(optimizer="sgd", run_eagerly=True)
    model.fit(np.ones((8, 100), "float32"), np.ones((8, 1), "float32"), epochs=1, batch_size=8, verbose=0)
    if flagged:
        assert scope["zeroed"] == [0.0]  # nothing dropped: the Dropout is off while training
    else:
        assert 0.3 < scope["zeroed"][0] < 0.7


def test_nl703_efficientnet_rescales_its_own_input_and_the_families_preprocess_differently():
    """EfficientNet holds its own Rescaling (its preprocess_input is the identity); ResNet50's caffe mode
    and MobileNetV2's tf mode give different inputs for the same image."""
    flagged = ("import keras\nfrom keras import layers\nbase = keras.applications.EfficientNetB0(weights=None)\n"
               "m = keras.Sequential([layers.Rescaling(1 / 255), base])\n")
    assert [f.code for f in lint_source(flagged, "m.py")] == ["NL703"]
    base = keras.applications.EfficientNetB0(weights=None, include_top=False, input_shape=(32, 32, 3))
    first = [type(layer).__name__ for layer in base.layers[:4]]
    assert "Rescaling" in first and "Normalization" in first
    image = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype("float32")
    assert np.array_equal(keras.applications.efficientnet.preprocess_input(image), image)
    tf_mode = np.asarray(keras.applications.mobilenet_v2.preprocess_input(image.copy()))
    caffe = np.asarray(keras.applications.resnet50.preprocess_input(image.copy()))
    assert tf_mode.min() >= -1.0 and tf_mode.max() <= 1.0
    assert caffe.max() > 100 and not np.allclose(caffe, tf_mode)


def test_nl704_normalization_divides_by_the_square_root_of_variance():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    std_as_variance = f"from keras import layers\nn = layers.Normalization(mean={mean}, variance={std})\n"
    squared = f"from keras import layers\nn = layers.Normalization(mean={mean}, variance={[s ** 2 for s in std]})\n"
    assert [f.code for f in lint_source(std_as_variance, "n.py")] == ["NL704"]
    assert lint_source(squared, "n.py") == []
    x = np.random.default_rng(0).normal(mean, std, (20000, 3)).astype("float32")
    wrong = np.asarray(keras.layers.Normalization(mean=mean, variance=std)(x))
    right = np.asarray(keras.layers.Normalization(mean=mean, variance=[s ** 2 for s in std])(x))
    assert np.allclose(right.std(axis=0), 1.0, atol=0.02)
    assert np.allclose(wrong.std(axis=0), np.sqrt(std), atol=0.02)  # not standardized: about 0.48


FIRST_LAYERS = """
import keras
from keras import layers

(x_train, y_train), _ = keras.datasets.cifar10.load_data()
model = keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), {first}layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
model.fit(x_train, y_train, epochs=1)
"""


def test_nl701_a_batchnormalization_before_the_first_dense_standardizes_raw_pixels():
    assert [f.code for f in lint_source(FIRST_LAYERS.format(first=""), "raw.py")] == ["NL701"]
    assert [f.code for f in lint_source(FIRST_LAYERS.format(first="layers.BatchNormalization(), "), "raw.py")] == []
    from keras import layers

    keras.utils.set_random_seed(0)
    pixels = np.random.default_rng(0).integers(0, 256, size=(256, 32 * 32 * 3)).astype("float32")
    bn = layers.BatchNormalization()
    out = np.array(bn(pixels, training=True))
    # what the first Dense gets: each input feature at mean 0 and unit variance, not 0-255 (mean ~127, std ~74)
    assert abs(out.mean()) < 0.01 and abs(out.std(0).mean() - 1) < 0.01
    assert pixels.mean() > 100 and pixels.std(0).mean() > 60


BUILT_IN_CALL = """
import keras
from keras import layers


class Block(layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(8)

    def call(self, x):
        y = self.dense(x)
        return {built}
"""


def _fit_block(source: str) -> int:
    """Train a model around the program's Block; the number of weights it ends with."""
    from keras import layers

    scope: dict = {}
    exec(compile(source, "block.py", "exec"), scope)  # noqa: S102 - the test's own program
    inputs = keras.Input((8,))
    model = keras.Model(inputs, layers.Dense(1)(scope["Block"]()(inputs)))
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.random((64, 8), "float32"), rng.random((64, 1), "float32"), epochs=2, batch_size=16, verbose=0)
    return len(model.trainable_weights)


def test_nl401_a_layer_with_variables_built_in_call_fails_where_a_stateless_one_is_only_wasteful():
    stateless = BUILT_IN_CALL.format(built="layers.Reshape((8,))(layers.Add()([x, layers.Activation('relu')(y)]))")
    for built in ("layers.Dense(8)(y)", "layers.Dropout(0.5)(y)"):
        source = BUILT_IN_CALL.format(built=built)
        assert [f.code for f in lint_source(source, "block.py")] == ["NL401"]
        with pytest.raises(ValueError, match="singleton"):  # fit() traces call(); a new variable each trace
            _fit_block(source)
    assert [f.code for f in lint_source(stateless, "block.py")] == []
    assert _fit_block(stateless) == 4  # the Block's Dense and the head: nothing built in call() to lose


def test_nl401_leaves_alone_only_layers_that_hold_no_variables():
    from keras import layers

    from normlint.lint.keras_api import STATELESS_LAYERS

    x1, x2, x3 = np.ones((2, 8, 4), "float32"), np.ones((2, 8, 8, 4), "float32"), np.ones((2, 4, 4, 4, 4), "float32")
    args = {"Reshape": ((32,),), "Permute": ((2, 1),), "RepeatVector": (3,), "Dot": (2,), "Resizing": (4, 4),
            "CenterCrop": (4, 4), "Rescaling": (1 / 255,), "Activation": ("relu",), "Lambda": (lambda t: t * 2,)}
    pooled = ("AveragePooling", "AvgPool")
    for name in sorted(STATELESS_LAYERS):
        cls = getattr(layers, name)
        rank = name[-2:] if name[-2:] in ("1D", "2D", "3D") else ""
        x = {"1D": x1, "2D": x2, "3D": x3, "": x1}[rank]
        layer = cls(*args.get(name, (2,) if name.startswith(pooled) else ()))
        if name == "RepeatVector":
            x = np.ones((2, 4), "float32")
        layer([x, x] if name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot") else x)
        assert not layer.variables, name
    from normlint.lint.rules.subclass import _KERAS_RANDOM

    for name in sorted(_KERAS_RANDOM):  # NL401 says "a new seed-generator variable" for these
        layer = getattr(layers, name)(0.5)
        layer({"1D": x1, "2D": x2, "3D": x3}.get(name[-2:], x1))
        assert [v.path.rsplit("/", 1)[-1] for v in layer.variables] == ["seed_generator_state"], name


UPDATE_OPS_RUN = """
import tensorflow as tf

tf1 = tf.compat.v1
graph = tf.Graph()
with graph.as_default():
    x = tf1.placeholder(tf.float32, (None, 4))
    moving_mean = tf1.Variable(tf.zeros(4), trainable=False)
    # what tf.layers.batch_normalization(training=True) does: its update goes to UPDATE_OPS, not into the graph's path
    tf1.add_to_collection(tf1.GraphKeys.UPDATE_OPS, tf1.assign(moving_mean, 0.9 * moving_mean + 0.1 * tf.reduce_mean(x, 0)))
    weight = tf1.Variable(tf.ones((4, 1)))
    loss = tf.reduce_mean(tf.matmul(x, weight) ** 2)
    training_op = tf1.train.GradientDescentOptimizer(0.01).minimize(loss)
    extra_update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
    with tf1.Session() as sess:
        sess.run(tf1.global_variables_initializer())
        sess.run(training_op, feed_dict={x: [[1.0, 2.0, 3.0, 4.0]]})
        alone = sess.run(moving_mean)
        sess.run([training_op, extra_update_ops], feed_dict={x: [[1.0, 2.0, 3.0, 4.0]]})
        beside = sess.run(moving_mean)
"""


def test_nl502_update_ops_run_beside_the_training_op_update_the_statistics():
    # TF1's session runs what it is asked to fetch: the training op alone leaves the collection's updates
    # out, fetching them beside it (handson-ml's sess.run([training_op, extra_update_ops])) runs them
    tf = pytest.importorskip("tensorflow")
    scope: dict = {"tf": tf}
    exec(compile(UPDATE_OPS_RUN, "program.py", "exec"), scope)  # noqa: S102 - the test's own program
    assert np.allclose(scope["alone"], 0.0)
    assert np.allclose(scope["beside"], [0.1, 0.2, 0.3, 0.4])
