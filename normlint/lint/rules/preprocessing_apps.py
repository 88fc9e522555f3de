"""Input-normalization rules about keras.applications models and Normalization statistics."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.nodes import KIND
from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, keyword, literal
from normlint.lint.data_scaling import data_arg, is_image_data_generator, names_in, scaling
from normlint.lint.graph import LayerObj, ancestors
from normlint.lint.keras_api import APPLICATIONS, PREPROCESS_MODE, application_mode
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule

FAMILY = "Input preprocessing"

_SELF_SCALING_APPS = tuple(n for n in APPLICATIONS if application_mode(n) == "self")
_MODE_WORDS = {"caffe": "caffe mode (BGR, ImageNet means subtracted, 0-255)", "tf": "tf mode (scaled to [-1, 1])",
               "torch": "torch mode (0-1, ImageNet mean and std)", "none": "nothing (the identity)"}


def _preprocess_mode(ctx: FileContext, expr: cst.BaseExpression, call: cst.Call | None = None) -> str | None:
    """What the preprocess_input that ``expr`` names does; None when it is not one."""
    canon = ctx.names.canonical(expr) or ""
    if not canon.endswith(".preprocess_input") or not canon.startswith("keras.applications."):
        return None
    module = canon.split(".")[-2]
    if module == "imagenet_utils":
        mode = literal(keyword(call, "mode")) if call is not None else None
        return mode if mode in ("caffe", "tf", "torch") else "caffe"
    return PREPROCESS_MODE.get(module)


def _application_calls(ctx: FileContext) -> list[tuple[cst.Call, str, str]]:
    """(call, model class, expected preprocessing) of each keras.applications model the file builds."""
    out = []
    for site in ctx.calls:
        canon = ctx.names.canonical(site.node.func) or ""
        kind = canon.rsplit(".", 1)[-1]
        if canon.startswith("keras.applications.") and kind in APPLICATIONS:
            mode = application_mode(kind)
            if mode == "self" and literal(keyword(site.node, "include_preprocessing")) is False:
                continue  # built without its own preprocessing: it expects the normalized input
            if mode is not None:
                out.append((site.node, kind, mode))
    return out


def _preprocess_uses(ctx: FileContext) -> list[tuple[cst.CSTNode, str, str]]:
    """(node, mode, where) for each preprocess_input of the file: called, or handed to Lambda / map /
    ImageDataGenerator; ``where`` is "model" (inside the model: a Lambda, or applied to an Input tensor),
    "data" (a tf.data map, a generator, arrays) or "unknown"."""
    inputs = {n for n, values in ctx.index.assignments.items() if any("Input(" in ctx.code(v) for v in values)}
    uses: list[tuple[cst.CSTNode, str, str]] = []
    callees = {id(site.node.func) for site in ctx.calls}  # a call's own callee is the call's use
    for site in ctx.calls:
        call = site.node
        mode = _preprocess_mode(ctx, call.func, call)
        if mode is not None:
            arg = data_arg(call)
            where = "model" if arg is not None and names_in(arg) & inputs else "data"
            uses.append((call, mode, where))
            continue
        kind = ctx.names.layer_class(call.func)
        is_map = isinstance(call.func, cst.Attribute) and call.func.attr.value == "map"
        is_generator = is_image_data_generator(ctx, call.func)
        for a in call.args:
            for node in _refs(a.value):
                if id(node) in callees:
                    continue
                ref_mode = _preprocess_mode(ctx, node)
                if ref_mode is None:
                    continue
                where = "model" if kind == "Lambda" else "data" if is_map or is_generator else "unknown"
                uses.append((node, ref_mode, where))
    return uses


def _refs(expr: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """Name/Attribute chains in ``expr`` that are not called there (``Lambda(preprocess_input)``,
    ``lambda x, y: (preprocess_input(x), y)`` yields the callee too)."""
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if KIND[type(node)] in (cst.Name, cst.Attribute):
            yield node  # type: ignore[misc]
            continue
        stack.extend(node.children)


_APP_CALL = re.compile(r"(?:EfficientNet|ConvNeXt|MobileNet|ResNet|VGG|DenseNet|Inception|Xception|NASNet|RegNet)\w*\s*\(")


def _builds_application(source: str) -> bool:
    """Some keras.applications model is constructed (not only defined, as in Keras's own sources)."""
    return any(source[max(0, m.start() - 4): m.start()] != "def " for m in _APP_CALL.finditer(source))


class ApplicationsPreprocessingMismatch(Rule):
    code = "NL703"
    name = "applications-preprocessing-mismatch"
    summary = "A keras.applications model gets its inputs preprocessed twice, or the way another model family expects."
    what = """
Flags, for the `keras.applications` models a file builds:
- a model that rescales its own input (EfficientNet B0-B7, EfficientNetV2 and ConvNeXt and MobileNetV3
  with `include_preprocessing=True`, the default) fed data that is already rescaled: a `Rescaling` or
  `Normalization` layer in front of it, or `fit()` data divided by 255 or otherwise scaled;
- `preprocess_input` applied twice: inside the model (a `Lambda(preprocess_input)`, or called on the
  `Input` tensor) and on the data (a `tf.data` map, an `ImageDataGenerator(preprocessing_function=...)`,
  the arrays);
- another family's `preprocess_input`: `resnet50.preprocess_input` ("caffe" mode) for a MobileNetV2
  ("tf" mode), any family's for a model that rescales itself, or `efficientnet.preprocess_input` (the
  identity) for a model that needs its preprocessing.
"""
    why = """
Each pretrained family was trained on inputs preprocessed one way: "caffe" (BGR, ImageNet means
subtracted, 0-255: VGG, ResNet), "tf" (scaled to [-1, 1]: MobileNet, MobileNetV2, Inception, Xception,
NASNet, ResNetV2), "torch" (0-1 then ImageNet mean/std: DenseNet); EfficientNet, EfficientNetV2, ConvNeXt
and MobileNetV3 rescale raw 0-255 pixels themselves (a `Rescaling` layer inside the model; their
`preprocess_input` does nothing). Inputs preprocessed twice or the wrong way still train and predict,
but the pretrained features see inputs far from what they learned on: transfer learning silently loses
accuracy.
"""
    example = """
base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet", pooling="avg")
model = keras.Sequential([layers.Rescaling(1 / 255), base, layers.Dense(10, activation="softmax")])
"""
    use_instead = """
base = keras.applications.EfficientNetB0(include_top=False, weights="imagenet", pooling="avg")
model = keras.Sequential([base, layers.Dense(10, activation="softmax")])  # feed 0-255 pixels
"""
    references = (
        "https://keras.io/api/applications/efficientnet/ (\"input preprocessing is included as part of "
        "the model (as a Rescaling layer)\")",
        "https://keras.io/api/applications/resnet/#preprocessinput-function",
        "keras/src/applications/imagenet_utils.py: preprocess_input modes caffe, tf, torch (Keras 3.15)",
        "Stack Overflow: \"EfficientNet does not train with Rescaling(1./255)\" (a recurring question)",
    )
    VALID = (
        "import keras\nbase = keras.applications.EfficientNetB0(weights=None)\nm = keras.Sequential([base])\n",
        "import keras\nfrom keras.applications.mobilenet_v2 import preprocess_input\n"
        "base = keras.applications.MobileNetV2(weights=None)\nx = preprocess_input(images)\n",
    )
    INVALID = (
        "import keras\nfrom keras import layers\nbase = keras.applications.EfficientNetB0(weights=None)\n"
        "m = keras.Sequential([layers.Rescaling(1 / 255), base])\n",
        "import keras\nfrom keras.applications.resnet50 import preprocess_input\n"
        "base = keras.applications.MobileNetV2(weights=None)\nx = preprocess_input(images)\n",
    )
    required = ("applications",)
    triggers = (
        _builds_application,
        lambda s: "preprocess_input" in s or (any(a in s for a in _SELF_SCALING_APPS) and any(
            t in s for t in ("Rescaling", "255", "Normalization", "rescale", "standardiz", "normaliz", "transform"))),
    )

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        apps = _application_calls(ctx)
        if not apps:
            return
        yield from self._rescaled_into_self_scaling(ctx, apps)
        uses = _preprocess_uses(ctx)
        modes = {mode for _, _, mode in apps}
        if len(modes) == 1:
            (expected,) = modes
            kind = apps[0][1]
            for node, mode, _ in uses:
                if expected == "self" and mode != "none":
                    yield Hit(node, f"{kind} rescales its own input, but this preprocess_input applies "
                                    f"{_MODE_WORDS[mode]} on top: feed it raw 0-255 pixels")
                elif expected != "self" and mode != expected:
                    yield Hit(node, f"this preprocess_input does {_MODE_WORDS[mode]}, but {kind} expects "
                                    f"{_MODE_WORDS[expected]}: use its own module's preprocess_input")
        in_model = [u for u in uses if u[2] == "model"] if len(apps) == 1 else []  # two models: which one?
        for node, mode, where in uses:
            if where == "data" and any(m == mode for _, m, _ in in_model):
                yield Hit(node, "preprocess_input is applied here and again inside the model "
                                "(line {line}): the inputs are preprocessed twice",
                          related=next(n for n, m, _ in in_model if m == mode))

    def _rescaled_into_self_scaling(self, ctx: FileContext, apps) -> Iterator[Hit]:
        self_scaling = {id(call): kind for call, kind, mode in apps if mode == "self"}
        if not self_scaling:
            return
        flagged: set[int] = set()
        holders: list[LayerObj] = []
        for app in ctx.flow.applications:
            if id(app.layer.node) not in self_scaling:
                continue
            holders.append(app.layer)
            for up in (a for t in app.inputs for a in ancestors(t)):
                if up.layer.kind in ("Rescaling", "Normalization") and id(up.layer.node) not in flagged:
                    flagged.add(id(up.layer.node))
                    yield Hit(up.layer.node, f"{app.layer.kind} (line {{line}}) rescales its own input: this "
                                             f"{up.layer.kind} scales it a second time; feed it raw 0-255 pixels",
                              related=app.layer.node)
        data = scaling(ctx)
        for mc in ctx.flow.method_calls:
            if mc.name != "fit" or not isinstance(mc.receiver, LayerObj):
                continue
            held = [k for k in mc.receiver.held(frozenset(self_scaling.values()))]
            arg = data_arg(mc.node)
            if held and arg is not None and data.is_scaled(arg) and id(arg) not in flagged:
                flagged.add(id(arg))
                yield Hit(arg, f"{held[0]} rescales its own input, but this data is already scaled: "
                               f"fit it on raw 0-255 pixels")


_STD_WORDS = re.compile(r"std|stddev|sigma|deviation", re.I)
# per-channel standard deviations that tutorials copy: ImageNet (0-1 and 0-255 scales), CIFAR-10
_KNOWN_STDS = ((0.229, 0.224, 0.225), (58.395, 57.12, 57.375), (0.2023, 0.1994, 0.2010), (0.247, 0.243, 0.261),
               (0.2470, 0.2435, 0.2616), (0.3081,), (0.5, 0.5, 0.5))


def _is_known_std(value) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) for v in value):
        return False
    return any(len(value) == len(std) and all(abs(v - s) < 1e-3 for v, s in zip(value, std))
               for std in _KNOWN_STDS if std != (0.5, 0.5, 0.5))


def _std_source(ctx: FileContext, expr: cst.BaseExpression) -> str | None:
    """Why ``expr`` looks like a standard deviation, or None."""
    text = ctx.code(expr)
    if re.search(r"\*\*\s*2|square|\bvar\b|variance|\.var\(|reduce_variance", text):
        return None  # squared, or a variance already
    if _is_known_std(literal(expr)) or any(
            len(std) > 1 and all(re.search(rf"(?<![\d.]){s}(?!\d)", text) for s in map(str, std)) for std in _KNOWN_STDS
            if std != (0.5, 0.5, 0.5)):  # also inside np.array([...]), tf.constant([...])
        return f"{text} are the standard deviations that tutorials publish"
    if re.search(r"\.std\s*\(|np\.std\s*\(|reduce_std\s*\(", text):
        return f"{text} computes a standard deviation"
    if isinstance(expr, (cst.Name, cst.Attribute)):
        last = text.rsplit(".", 1)[-1]
        if _STD_WORDS.search(last):
            return f"{text} is named as a standard deviation"
        if isinstance(expr, cst.Name):
            for value in ctx.index.assignments.get(expr.value, []):
                if re.search(r"\.std\s*\(|np\.std\s*\(|reduce_std\s*\(", ctx.code(value)):
                    return f"{text} holds a standard deviation (line {{line}})"
    return None


# a Normalization(...) call that passes variance= (or positionally: Normalization(axis, mean, variance))
_NORMALIZATION_WITH_VARIANCE = patterns.NORM.call_with(r"variance\s*=|\A[^,]*,[^,]*,")


class StdAsVariance(Rule):
    code = "NL704"
    name = "std-as-variance"
    summary = "Normalization(variance=...) is given a standard deviation."
    what = """
Flags `keras.layers.Normalization(mean=..., variance=X)` when X is a standard deviation: the published
per-channel standard deviations (ImageNet's 0.229/0.224/0.225 or 58.395/57.12/57.375, CIFAR-10's), a
name that says std (`IMAGENET_STD`, `pixel_std`, `sigma`), or a value computed with `.std()`,
`np.std` or `tf.math.reduce_std`. Squared values (`std ** 2`, `np.square(std)`) are variances and stay
silent.
"""
    why = """
`Normalization` computes `(x - mean) / sqrt(variance)`. Given the standard deviation, it divides by its
square root: with ImageNet's std (about 0.22) the inputs come out about twice as spread as intended
(1/sqrt(0.22) ~ 2.1 instead of 1/0.22 ~ 4.5 times the centered value, per unit), silently. PyTorch's
`transforms.Normalize(mean, std)` takes a standard deviation, which is where the value usually comes from.
"""
    example = """
norm = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229, 0.224, 0.225])
"""
    use_instead = """
norm = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2])
"""
    references = (
        "https://keras.io/api/layers/preprocessing_layers/numerical/normalization/",
        "https://pytorch.org/vision/stable/generated/torchvision.transforms.Normalize.html (std, not variance)",
    )
    VALID = ("n = Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229**2, 0.224**2, 0.225**2])\n",
             "n = Normalization(mean=m, variance=np.square(std))\n")
    INVALID = ("n = Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229, 0.224, 0.225])\n",
               "n = Normalization(mean=x.mean(0), variance=x.std(0))\n")
    required = ("Normalization", "variance")
    triggers = (_NORMALIZATION_WITH_VARIANCE, r"std|sigma|deviation|0\.2[0-4]\d|0\.30|5[78]\.\d")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for site in ctx.calls:
            if ctx.names.layer_class(site.node.func) != "Normalization":
                continue
            expr = keyword(site.node, "variance")
            if expr is None:
                positional = [a.value for a in site.node.args if a.keyword is None and not a.star]
                expr = positional[2] if len(positional) > 2 else None  # Normalization(axis, mean, variance)
            why = _std_source(ctx, expr) if expr is not None else None
            if why is None or expr is None:
                continue
            related = None
            if "{line}" in why and isinstance(expr, cst.Name):
                related = ctx.index.assignments[expr.value][0]
            yield Hit(expr if any(a.value is expr for a in site.node.args) else site.node,  # type: ignore[arg-type]
                      f"variance={ctx.code(expr)[:40]} looks like a standard deviation ({why}): Normalization "
                      f"divides by sqrt(variance); pass the std squared", related=related)
