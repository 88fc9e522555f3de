"""Rules about what goes into and comes out of the model: input scaling and output normalization."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, literal
from normlint.lint.graph import Images, LayerObj, Tensor, ancestors
from normlint.lint.kinds import is_weighted
from normlint.lint.keras_api import CATEGORICAL_LOSSES, DENSE, SCALING, application_mode
from normlint.lint.rules import patterns
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit
from normlint.lint.rules.base import Hit, Rule

FAMILY = "Model inputs and outputs"

_SCALES_IN_CALL = re.compile(r"255|standardiz|normaliz|rescal", re.I)


# layers that reshape, pad or drop what comes in: what sits before a model's first layer with weights
_PASS_THROUGH = frozenset({
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Masking", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D"})
# normalizations that standardize each input feature (or each sample) whatever its scale
_STANDARDIZING = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization"})


def _normalizes_first(model: LayerObj) -> bool:
    """The model's first layers with weights all get their input through a BatchNormalization (or a
    LayerNormalization) of the raw input: ``Sequential([Flatten(), BatchNormalization(), Dense(...)])``
    standardizes 0-255 pixels itself (with the batch's statistics in training, the moving ones after)."""
    if model.kind == "Sequential" and model.members:
        for layer in model.members:
            if layer.kind in _STANDARDIZING:
                return True
            if layer.kind not in _PASS_THROUGH:
                return False
        return False
    if model.output is None:
        return False
    firsts = 0
    for app in ancestors(model.output):
        if not is_weighted(app.layer):
            continue
        upstream = [a.layer for t in app.inputs for a in ancestors(t)]
        if any(is_weighted(layer) for layer in upstream):
            continue  # not a first layer with weights
        if not any(layer.kind in _STANDARDIZING for layer in upstream):
            return False
        firsts += 1
    return firsts > 0


def _model_scales_input(ctx: FileContext, model: LayerObj) -> bool:
    if any(layer.kind in SCALING or layer.kind == "Lambda" for layer in model.all_layers()):
        return True
    if _normalizes_first(model):
        return True
    # EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3 rescale 0-255 pixels themselves
    if any(application_mode(layer.kind) == "self" and literal(layer.arg("include_preprocessing")) is not False
           for layer in model.all_layers()):
        return True
    for layer in model.all_layers():
        if layer.user_class and _SCALES_IN_CALL.search(ctx.code(layer.node)):
            return True
    return False


class UnnormalizedImageInput(Rule):
    code = "NL701"
    name = "unnormalized-image-input"
    summary = "Raw 0-255 images from keras.datasets.*.load_data() go to fit() with no scaling on the way."
    what = """
Flags `model.fit(x, ...)` when `x` comes from `keras.datasets.{cifar10,cifar100,mnist,fashion_mnist}.load_data()`
unchanged (slicing, `astype`, `reshape` keep it raw) and neither the data (`x / 255.`, a scaler, any
arithmetic) nor the model (`Rescaling`, `Normalization`, a `Lambda`, scaling code in `call()`, a
`BatchNormalization` or `LayerNormalization` before its first layer with weights) scales it.
"""
    why = """
Pixels in 0..255 make the first layer's pre-activations hundreds of times larger than the
initialization schemes assume: activations saturate, gradients are badly scaled, and training is slow
or unstable. The article this project comes from reaches 0.50 validation accuracy on raw CIFAR-10 pixels
and 0.62 with input normalization and BatchNormalization.
"""
    example = """
(x_train, y_train), _ = keras.datasets.cifar10.load_data()
model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="softmax")])
model.fit(x_train, y_train, epochs=10)
"""
    use_instead = """
(x_train, y_train), _ = keras.datasets.cifar10.load_data()
model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="softmax")])
model.fit(x_train / 255.0, y_train, epochs=10)
"""
    references = (
        "https://keras.io/api/layers/preprocessing_layers/image_preprocessing/rescaling/",
        "LeCun, Bottou, Orr, Müller: Efficient BackProp, 1998 (section 4.3, normalizing the inputs).",
    )
    VALID = (
        "(x, y), _ = keras.datasets.mnist.load_data()\nm = Sequential([Dense(10)])\nm.fit(x / 255.0, y)\n",
        "(x, y), _ = keras.datasets.mnist.load_data()\nm = Sequential([Rescaling(1/255), Dense(10)])\nm.fit(x, y)\n",
    )
    INVALID = ("(x, y), _ = keras.datasets.mnist.load_data()\nm = Sequential([Dense(10)])\nm.fit(x, y)\n",)
    required = ("load_data", "fit")
    triggers = (r"load_data\s*\(", r"\.fit\s*\(")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for mc in ctx.flow.method_calls:
            if mc.name != "fit" or not isinstance(mc.receiver, LayerObj):
                continue
            data_arg = next((a for a in mc.arg_nodes if a.keyword is None or a.keyword.value == "x"), None)
            if data_arg is None:
                continue
            value = mc.args[mc.arg_nodes.index(data_arg)]
            if isinstance(value, Images) and not _model_scales_input(ctx, mc.receiver):
                yield Hit(
                    data_arg.value,
                    "raw 0-255 images from load_data() (line {line}) reach fit() unscaled: divide by 255, "
                    "or put a Rescaling(1/255) or an adapted Normalization layer first",
                    related=value.node,
                )


def _loss_name(ctx: FileContext, expr: cst.BaseExpression | None) -> str | None:
    if expr is None:
        return None
    value = literal(expr)
    if isinstance(value, str):
        return value
    if isinstance(expr, cst.Call):
        expr = expr.func
    canon = ctx.names.canonical(expr)
    return canon.rsplit(".", 1)[-1] if canon else None


def _is_sigmoid(ctx: FileContext, expr: cst.BaseExpression | None) -> bool:
    if expr is None:
        return False
    if literal(expr) == "sigmoid":
        return True
    canon = ctx.names.canonical(expr) if isinstance(expr, (cst.Name, cst.Attribute)) else None
    return canon is not None and canon.endswith(".sigmoid") and canon.startswith(("keras.", "tf."))


def _units(layer: LayerObj) -> int | None:
    value = literal(layer.arg("units", 0))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sigmoid_head(ctx: FileContext, output: Tensor | None) -> tuple[LayerObj, int] | None:
    """(layer to flag, units) when the model ends in a multi-unit Dense with a sigmoid."""
    if output is None or output.producer is None:
        return None
    last = output.producer.layer
    if last.kind in DENSE and _is_sigmoid(ctx, last.arg("activation", 1)):
        units = _units(last)
        return (last, units) if units and units > 1 else None
    if last.kind == "Activation" and _is_sigmoid(ctx, last.arg("activation", 0)):
        before = output.producer.inputs[0].producer if output.producer.inputs else None
        if before is not None and before.layer.kind in DENSE:
            units = _units(before.layer)
            return (last, units) if units and units > 1 else None
    return None


def _softmax_fix(layer: LayerObj) -> FixSpec | None:
    expr = layer.arg("activation", 1 if layer.kind in DENSE else 0)
    if not isinstance(layer.node, cst.Call) or expr is None or not any(a.value is expr for a in layer.node.args):
        return None
    quote = expr.quote if isinstance(expr, cst.SimpleString) else '"'
    return FixSpec("use activation='softmax'", UNSAFE, (NodeEdit(expr, f"{quote}softmax{quote}"),))


class SigmoidWithCategoricalLoss(Rule):
    code = "NL702"
    name = "sigmoid-with-categorical-loss"
    summary = "Final Dense(N>1, sigmoid) compiled with a (sparse) categorical crossentropy: use softmax."
    what = """
Flags the output layer of a model, a `Dense` with more than one unit and `activation="sigmoid"` (or a
final `Activation("sigmoid")` after such a Dense), when the model is compiled with
`categorical_crossentropy` / `sparse_categorical_crossentropy` (string, function or class).
"""
    why = """
Categorical crossentropy expects one probability distribution over the classes. Independent sigmoids do
not sum to one: Keras's loss renormalizes them, the gradient no longer pushes the wrong classes down,
and `predict()` returns scores that are not probabilities. Softmax is the output normalization this loss
is written for (or logits with `from_logits=True`).
"""
    example = """
model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="sigmoid")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
"""
    use_instead = """
model = keras.Sequential([layers.Flatten(), layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
"""
    references = (
        "https://keras.io/api/losses/probabilistic_losses/#sparsecategoricalcrossentropy-class",
        "Goodfellow, Bengio, Courville: Deep Learning, section 6.2.2.3 (softmax units).",
    )
    fix_doc = """
Replaces the output layer's `"sigmoid"` with `"softmax"` (in the Dense's `activation`, or the final
`Activation`). **Unsafe**: the model's outputs change (to the probabilities the loss expects).
"""
    VALID = (
        "m = Sequential([Dense(10, activation='softmax')])\nm.compile(loss='sparse_categorical_crossentropy')\n",
        "m = Sequential([Dense(1, activation='sigmoid')])\nm.compile(loss='binary_crossentropy')\n",
    )
    INVALID = ("m = Sequential([Dense(10, activation='sigmoid')])\nm.compile(loss='categorical_crossentropy')\n",)
    required = ("sigmoid", "rossentropy", "compile")
    triggers = (patterns.COMPILE_WITH_CATEGORICAL_LOSS, patterns.SIGMOID_HEAD)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for mc in ctx.flow.method_calls:
            if mc.name != "compile" or not isinstance(mc.receiver, LayerObj):
                continue
            loss_arg = next((a.value for a in mc.arg_nodes if a.keyword is not None and a.keyword.value == "loss"), None)
            if loss_arg is None:
                positional = [a.value for a in mc.arg_nodes if a.keyword is None]
                loss_arg = positional[1] if len(positional) > 1 else None  # compile(optimizer, loss, ...)
            loss = _loss_name(ctx, loss_arg)
            if loss not in CATEGORICAL_LOSSES:
                continue
            head = _sigmoid_head(ctx, mc.receiver.output)
            if head is not None:
                layer, units = head
                yield Hit(
                    layer.node,
                    f"output {layer.kind} with sigmoid over {units} classes is trained with {loss} "
                    f"(line {{line}}): use activation='softmax'",
                    related=mc.node,
                    fix=_softmax_fix(layer),
                )
