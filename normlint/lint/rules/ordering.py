"""Layer-order rules: what feeds a BatchNormalization."""

from __future__ import annotations

from typing import Iterator

from normlint.lint.context import FileContext, is_literal, literal
from normlint.lint.graph import Application, LayerObj, ancestors
from normlint.lint.keras_api import BATCHNORM, CONV, DENSE, DROPOUT
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule

FAMILY = "Layer order"


def batchnorm_applications(ctx: FileContext) -> Iterator[Application]:
    for app in ctx.flow.applications:
        if app.layer.kind in BATCHNORM:
            yield app


class DropoutBeforeBatchNorm(Rule):
    code = "NL101"
    name = "dropout-before-batchnorm"
    summary = "Dropout output reaches a BatchNormalization further down the same chain."
    what = """
Flags a `Dropout`, `SpatialDropout1D/2D/3D` or `AlphaDropout` (or TF1 `tf.layers.dropout`) whose output
flows into a `BatchNormalization` later in the same chain: directly, or through Conv/Dense/pooling/
activation layers, in a `Sequential` list, `model.add(...)` calls, a functional chain, a helper function,
or the `call()` of a subclassed model.
"""
    why = """
Dropout scales the surviving activations by `1/(1-rate)` during training and does nothing at inference.
A BatchNormalization after it learns moving statistics of the *dropped* activations, then sees a
different variance at inference ("variance shift"), which costs accuracy. Li et al. (2019) show the
effect and recommend placing Dropout after all BatchNormalization layers.
"""
    example = """
model = keras.Sequential([
    layers.Conv2D(32, 3),
    layers.Dropout(0.3),
    layers.Conv2D(64, 3),
    layers.BatchNormalization(),
    layers.ReLU(),
])
"""
    use_instead = """
model = keras.Sequential([
    layers.Conv2D(32, 3),
    layers.Conv2D(64, 3),
    layers.BatchNormalization(),
    layers.ReLU(),
    layers.Dropout(0.3),
])
"""
    references = (
        "Li, Chen, Hu, Yang: Understanding the Disharmony between Dropout and Batch Normalization by "
        "Variance Shift, CVPR 2019. https://arxiv.org/abs/1801.05134",
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
    )
    VALID = (
        "from keras import layers\nm = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dropout(0.5)])\n",
    )
    INVALID = (
        "from keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.Dense(8), layers.BatchNormalization()])\n",
    )
    required = (patterns.BN_TEXT, ("Dropout", "dropout"))
    triggers = (patterns.BN_USE, patterns.DROPOUT_USE)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        flagged: set[int] = set()
        for bn in batchnorm_applications(ctx):
            for up in ancestors(bn.output):
                if up is bn or up.layer.kind not in DROPOUT or id(up.layer) in flagged:
                    continue
                flagged.add(id(up.layer))
                yield Hit(
                    up.layer.node,
                    f"{up.layer.kind} feeds the BatchNormalization on line {{line}} (variance shift): "
                    f"move {up.layer.kind} after the last BatchNormalization",
                    related=bn.layer.node,
                )


def _activation_is_linear(layer: LayerObj) -> bool:
    act = layer.arg("activation", 1 if layer.kind in DENSE else None)
    if act is None:
        return True
    value = literal(act)
    return is_literal(value) and value in (None, "linear")


class BiasBeforeBatchNorm(Rule):
    code = "NL102"
    severity = "warning"  # the bias is wasted parameters and compute, not a wrong result
    name = "bias-before-batchnorm"
    summary = "Conv/Dense keeps its bias although a centering BatchNormalization follows directly."
    what = """
Flags a `Conv*`/`Dense` layer with `use_bias` left at its default `True` (and no activation of its
own) whose output goes straight into a `BatchNormalization` with `center=True`.
"""
    why = """
BatchNormalization subtracts the batch mean, which removes any constant the previous layer added, and
then adds its own learned offset `beta`. The bias of the Conv/Dense layer is cancelled exactly: it is
dead weight that still costs memory, optimizer state and a little time, and it makes weight decay act
on a parameter that has no effect.
"""
    example = """
x = layers.Conv2D(64, 3)(x)
x = layers.BatchNormalization()(x)
"""
    use_instead = """
x = layers.Conv2D(64, 3, use_bias=False)(x)
x = layers.BatchNormalization()(x)
"""
    references = (
        "Ioffe & Szegedy, Batch Normalization, 2015, section 3.2. https://arxiv.org/abs/1502.03167",
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
    )
    VALID = (
        "x = Conv2D(8, 3, use_bias=False)(x)\nx = BatchNormalization()(x)\n",
        "x = Conv2D(8, 3)(x)\nx = LayerNormalization()(x)\n",
    )
    INVALID = ("x = Conv2D(8, 3)(x)\nx = BatchNormalization()(x)\n",)
    required = (patterns.BN_TEXT, ("Conv", "Dense", "conv", "dense"))
    triggers = (patterns.BN_USE, patterns.CONV_WITH_BIAS)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        flagged: set[int] = set()
        for bn in batchnorm_applications(ctx):
            if literal(bn.layer.arg("center", 3)) is False:
                continue
            producer = bn.inputs[0].producer if bn.inputs else None
            if producer is None:
                continue
            layer = producer.layer
            if layer.kind not in CONV and layer.kind not in DENSE:
                continue
            if id(layer) in flagged or literal(layer.arg("use_bias")) is False or not _activation_is_linear(layer):
                continue
            if is_literal(literal(layer.arg("use_bias"))) is False and layer.arg("use_bias") is not None:
                continue  # use_bias given as a variable: cannot tell
            flagged.add(id(layer))
            yield Hit(
                layer.node,
                f"{layer.kind} has a bias that the BatchNormalization on line {{line}} cancels: "
                f"pass use_bias=False",
                related=bn.layer.node,
            )
