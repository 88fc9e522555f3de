"""Rules for subclassed layers and models: what happens inside ``call()``."""

from __future__ import annotations

import re
from typing import Iterator

import libcst as cst

from normlint.lint.context import FileContext
from normlint.lint.graph import Application
from normlint.lint.keras_api import LAYER_CLASSES, MODEL_CLASSES, STAT_NORMS
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.hoist import hoist_fix

FAMILY = "Subclassed layers and models"

_CALL_DEF = re.compile(r"^([ \t]*)(?:async\s+)?def\s+call\s*\(", re.M)
_CAPITALIZED_CALL = re.compile(r"([A-Z]\w*)\s*\(")
_CONSTRUCTORS = LAYER_CLASSES | MODEL_CLASSES


def _constructs_layer(body: str) -> bool:
    return any(m.group(1) in _CONSTRUCTORS for m in _CAPITALIZED_CALL.finditer(body))


_BLOCK_END: dict[int, re.Pattern[str]] = {}


def _call_bodies(source: str) -> Iterator[str]:
    """The text of each ``def call(...)`` body, cut by indentation (a cheap prefilter, not a parse)."""
    for m in _CALL_DEF.finditer(source):
        indent = len(m.group(1).expandtabs())
        end_re = _BLOCK_END.get(indent)
        if end_re is None:
            # the next line indented no deeper than the def that is code (not blank, comment or a closing paren)
            end_re = _BLOCK_END[indent] = re.compile(r"\n[ \t]{0,%d}(?=[^\s#)])" % indent)
        end = end_re.search(source, m.end())
        yield source[m.end(): end.start() if end else len(source)]


class LayerBuiltInCall(Rule):
    code = "NL401"
    name = "layer-built-in-call"
    summary = "A Keras layer or model is constructed inside call() of a Layer/Model subclass."
    what = """
Flags a Keras layer (or `Model`/`Sequential`) constructed inside the `call()` method of a class that
subclasses `keras.layers.Layer`, `keras.Model` or any Keras layer.
"""
    why = """
`call()` runs on every forward pass (and is traced again for every new input signature). A layer built
there gets fresh, untrained weights each time: nothing it learns survives the step, its weights are not
tracked by the model (so they are not saved, and the optimizer may not see them), and a
BatchNormalization built there never accumulates moving statistics. Build layers in `__init__()` (or in
`build()` when they depend on the input shape) and only apply them in `call()`.
"""
    example = """
class Net(keras.Model):
    def call(self, x):
        x = layers.Conv2D(6, 5, activation="relu")(x)
        return layers.Dense(10)(layers.Flatten()(x))
"""
    use_instead = """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = layers.Conv2D(6, 5, activation="relu")
        self.flat = layers.Flatten()
        self.out = layers.Dense(10)

    def call(self, x):
        return self.out(self.flat(self.conv(x)))
"""
    references = (
        "https://keras.io/guides/making_new_layers_and_models_via_subclassing/",
    )
    fix_doc = """
Hoists the layers that `call()` constructs into `__init__` (written, with `super().__init__(**kwargs)`,
when the class has none) as attributes named after the layer (`self.conv2d`, `self.conv2d_1`...), and
applies those attributes in `call()`; one fix per class. A construction stays when its arguments read a
name that `call()` binds (its inputs or a local), or when it sits in a loop or comprehension (one layer
would replace several). **Unsafe**: the model then has one set of weights that training updates, which
changes what it computes (the point of the fix) and the weights a checkpoint holds.
"""
    VALID = (
        "class M(keras.Model):\n    def __init__(self):\n        super().__init__()\n        self.d = layers.Dense(1)\n"
        "    def call(self, x):\n        return self.d(tf.nn.relu(x))\n",
        "class Dense:\n    pass\nclass NotKeras:\n    def call(self, x):\n        return Dense()\n",
    )
    INVALID = ("class M(keras.Model):\n    def call(self, x):\n        return layers.Dense(1)(x)\n",)
    required = ("def call",)
    triggers = (r"def\s+call\s*\(",)

    @classmethod
    def may_match(cls, source: str) -> bool:
        return super().may_match(source) and any(_constructs_layer(body) for body in _call_bodies(source))

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        by_class: dict[int, tuple[cst.ClassDef, list[tuple[cst.Call, str]]]] = {}
        for site in ctx.calls:
            if site.method != "call" or site.cls is None or ctx.names.keras_base(site.cls) is None:
                continue
            kind = ctx.names.layer_class(site.node.func)
            if kind is None or kind == "Input":
                continue
            by_class.setdefault(id(site.cls), (site.cls, []))[1].append((site.node, kind))
        for cls, sites in by_class.values():
            fix = hoist_fix(ctx, cls, [call for call, _ in sites])
            for call, kind in sites:
                yield Hit(
                    call,
                    f"{kind} is built inside {cls.name.value}.call(): a new layer, with new weights, on "
                    f"every call; build it in __init__() or build() and apply it in call()",
                    fix=fix if fix is not None and any(e.node is call for e in fix.edits) else None,
                )


def _exclusive(a: Application, b: Application) -> bool:
    """True when a and b sit in different branches of the same if/elif/else."""
    branches_a = dict(a.branch)
    return any(if_id in branches_a and branches_a[if_id] != idx for if_id, idx in b.branch)


class SharedNormalizationLayer(Rule):
    code = "NL402"
    name = "shared-normalization-layer"
    summary = "One BatchNormalization/Normalization instance is applied at two places in one call()."
    what = """
Flags a `BatchNormalization` or `Normalization` instance (an attribute set in `__init__`/`build`) that
`call()` applies at two different places, e.g. `self.bn(x1)` and `self.bn(x2)`. Calls in different
branches of one `if` are not flagged; one call inside a loop is one place.
"""
    why = """
A BatchNormalization layer keeps one set of moving statistics. Applied to two different tensors (two
branches, encoder and decoder, two inputs) it averages their statistics together: the training batch
statistics differ per call while inference uses the blended moving average, so the two paths are
normalized with numbers that fit neither. Use one normalization layer per place.
"""
    example = """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = layers.Conv2D(8, 3, use_bias=False)
        self.conv2 = layers.Conv2D(8, 3, use_bias=False)
        self.bn = layers.BatchNormalization()

    def call(self, x):
        x = self.bn(self.conv1(x))
        return self.bn(self.conv2(x))
"""
    use_instead = """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv1 = layers.Conv2D(8, 3, use_bias=False)
        self.conv2 = layers.Conv2D(8, 3, use_bias=False)
        self.bn1 = layers.BatchNormalization()
        self.bn2 = layers.BatchNormalization()

    def call(self, x):
        x = self.bn1(self.conv1(x))
        return self.bn2(self.conv2(x))
"""
    references = ("https://keras.io/api/layers/normalization_layers/batch_normalization/",)
    VALID = (
        "class M(keras.Model):\n    def __init__(self):\n        super().__init__()\n        self.bn = BatchNormalization()\n"
        "    def call(self, x, flag=False):\n        if flag:\n            return self.bn(x)\n        else:\n            return self.bn(x * 2)\n",
    )
    INVALID = (
        "class M(keras.Model):\n    def __init__(self):\n        super().__init__()\n        self.bn = BatchNormalization()\n"
        "    def call(self, x):\n        return self.bn(x) + self.bn(x * 2)\n",
    )
    required = ("def call", patterns.NORM_TEXT)
    triggers = (r"def\s+call\s*\(", patterns.NORM_USE)
    _SELF_ATTR = re.compile(r"self\.(\w+)\s*=\s*[\w.]+\s*\(")

    @classmethod
    def may_match(cls, source: str) -> bool:
        """Some ``self.x = Something(...)`` whose ``self.x(`` is called at two places or more."""
        if not super().may_match(source):
            return False
        for name in set(cls._SELF_ATTR.findall(source)):
            if len(re.findall(rf"self\.{name}\s*\(", source)) >= 2:
                return True
        return False

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        by_layer: dict[int, list[Application]] = {}
        for app in ctx.flow.applications:
            if app.in_call_of is not None and app.layer.kind in STAT_NORMS:
                sites = by_layer.setdefault(id(app.layer), [])
                if all(s.site is not app.site for s in sites):
                    sites.append(app)
        for apps in by_layer.values():
            for i, later in enumerate(apps[1:], start=1):
                earlier = next((e for e in apps[:i] if not _exclusive(e, later)), None)
                if earlier is not None:
                    yield Hit(
                        later.site,
                        f"the {later.layer.kind} already applied on line {{line}} is applied again in "
                        f"{later.in_call_of}.call(): its statistics mix two inputs; use one layer per place",
                        related=earlier.site,
                    )
