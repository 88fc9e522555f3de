"""Rules for subclassed layers and models: what happens inside ``call()``."""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext
from normlint.lint.graph import Application
from normlint.lint import keras_api, torch_api
from normlint.lint.keras_api import LAYER_CLASSES, MODEL_CLASSES, STAT_NORMS, STATELESS_LAYERS
from normlint.lint.kinds import is_batchnorm, is_torch
from normlint.lint.torch_api import STATEFUL_MODULES
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.hoist import hoist_fix

FAMILY = "Subclassed layers and models"

# ``def call(`` / ``def forward(``, found by its literal (a pattern that opens with ``^`` is tried at every
# position of the file); _LINE_HEAD then checks what precedes it on its line
_CALL_DEF = re.compile(r"def\s+(?:call|forward)\s*\(")
_LINE_HEAD = re.compile(r"([ \t]*)(?:async\s+)?")
_CAPITALIZED_CALL = re.compile(r"([A-Z]\w*)\s*\(")
_CONSTRUCTORS = LAYER_CLASSES | MODEL_CLASSES | STATEFUL_MODULES


def _constructs_layer(bodies, source: str) -> bool:
    """A Keras layer, a stateful torch.nn module or a class of the file called in one of the bodies."""
    called: set[str] = set()
    for body in bodies:
        for m in _CAPITALIZED_CALL.finditer(body):
            if m.group(1) in _CONSTRUCTORS:
                return True
            called.add(m.group(1))
    return bool(called) and any(m.group(1) in called for m in _CLASS_DEF.finditer(source))


_CLASS_DEF = re.compile(r"class\s+(\w+)")


_BLOCK_END: dict[int, re.Pattern[str]] = {}


def _call_bodies(source: str) -> Iterator[str]:
    """The text of each ``def call(...)`` body, cut by indentation (a cheap prefilter, not a parse)."""
    for m in _CALL_DEF.finditer(source):
        line_start = source.rfind("\n", 0, m.start()) + 1
        head = _LINE_HEAD.fullmatch(source, line_start, m.start())
        if head is None:
            continue  # not the first thing on its line (``x.def call(`` cannot be; ``foo_def call(`` in a string)
        indent = len(head.group(1).expandtabs())
        end_re = _BLOCK_END.get(indent)
        if end_re is None:
            # the next line indented no deeper than the def that is code (not blank, comment or a closing paren)
            end_re = _BLOCK_END[indent] = re.compile(r"\n[ \t]{0,%d}(?=[^\s#)])" % indent)
        end = end_re.search(source, m.end())
        yield source[m.end(): end.start() if end else len(source)]


class LayerBuiltInCall(Rule):
    code = "NL401"
    name = "layer-built-in-call"
    summary = "A layer or module is constructed inside call() (Keras) or forward() (PyTorch)."
    framework = "Keras, PyTorch"
    what = """
Flags a Keras layer (or `Model`/`Sequential`) constructed inside the `call()` method of a class that
subclasses `keras.layers.Layer`, `keras.Model` or any Keras layer; and a PyTorch module that holds
parameters, buffers or a train/eval behaviour (`nn.Conv2d`, `nn.Linear`, `nn.BatchNorm2d`, `nn.Dropout`,
`nn.LSTM`, `nn.Sequential`..., or an `nn.Module` class of the file) constructed inside `forward()` of an
`nn.Module` subclass. Layers and modules that hold no variables (`layers.Add()`, `layers.Reshape(...)`,
pooling, `layers.Activation(...)`; `nn.ReLU()`, `nn.MaxPool2d(2)`, `nn.Flatten()`) built there are only
wasteful and are not flagged; Keras's `Dropout` is (its seed generator is a variable).
"""
    why = """
`call()` runs on every forward pass (and is traced again for every new input signature). A layer built
there gets fresh, untrained weights each time: nothing it learns survives the step, its weights are not
tracked by the model (so they are not saved, and the optimizer may not see them), and a
BatchNormalization built there never accumulates moving statistics. Build layers in `__init__()` (or in
`build()` when they depend on the input shape) and only apply them in `call()`.

PyTorch is the same: a module built in `forward()` is not registered on the model, so `model.parameters()`
never hands its weights to the optimizer, `state_dict()` does not save them, `.to(device)` does not move
them, and `model.eval()` does not reach it (an `nn.Dropout` built there drops at inference too).
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
        "class M(nn.Module):\n    def forward(self, x):\n        return nn.ReLU()(F.batch_norm(x, None, None, training=self.training))\n",
    )
    INVALID = ("class M(keras.Model):\n    def call(self, x):\n        return layers.Dense(1)(x)\n",
               "class M(nn.Module):\n    def forward(self, x):\n        return nn.Linear(4, 2)(x)\n")
    required = (("def call", "def forward"),)
    triggers = (r"def\s+(?:call|forward)\s*\(",)

    @classmethod
    def may_match(cls, source: str) -> bool:
        if not super().may_match(source):
            return False
        return _constructs_layer(_call_bodies(source), source)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        by_class: dict[int, tuple[cst.ClassDef, str, list[tuple[cst.Call, str]]]] = {}
        for site in ctx.calls:
            if site.cls is None or site.method not in ("call", "forward"):
                continue
            kind = self._constructed(ctx, site)
            if kind is not None:
                by_class.setdefault(id(site.cls), (site.cls, site.method, []))[2].append((site.node, kind))
        for cls, method, sites in by_class.values():
            hoisted = hoist_fix(ctx, cls, [call for call, _ in sites], method)
            fix, moved = hoisted or (None, [])
            for call, kind in sites:
                yield Hit(
                    call,
                    f"{kind} is built inside {cls.name.value}.{method}(): {_what_is_new(kind, method)}; build it "
                    f"in __init__(){' or build()' if method == 'call' else ''} and apply it in {method}()",
                    fix=fix if any(m is call for m in moved) else None,
                )

    @staticmethod
    def _constructed(ctx: FileContext, site) -> str | None:
        """The layer/module class a call in call()/forward() constructs, when that is a mistake there."""
        if site.method == "call":
            if ctx.names.keras_base(site.cls) is None:
                return None
            kind = ctx.names.layer_class(site.node.func)
            return None if kind == "Input" or kind in STATELESS_LAYERS else kind
        if ctx.names.torch_base(site.cls) is None:
            return None
        kind = ctx.names.torch_module(site.node.func)
        if kind is not None:
            return kind if kind in STATEFUL_MODULES else None
        func = site.node.func
        if isinstance(func, cst.Name) and func.value in ctx.names.classes and func.value not in ctx.names.imports:
            node = ctx.names.classes[func.value]
            if node is not site.cls and ctx.names.torch_base(node) is not None:
                return func.value  # a module class of the file
        return None


# what a dropout-like layer built in call() holds: no weights, a random state
_KERAS_RANDOM = keras_api.DROPOUT | {"GaussianDropout", "GaussianNoise"}


def _what_is_new(kind: str, method: str) -> str:
    """What building ``kind`` on every call makes anew: weights for most; for dropout, the random state
    (Keras: a seed-generator variable, which fit()'s traced call() cannot create) or, in PyTorch, a module
    that the model's eval() never reaches."""
    if method == "forward":
        if kind in torch_api.DROPOUT:
            return "a new module on every call, outside the model, so model.eval() never switches it off"
        return "a new module, with new weights, on every call"
    if kind in _KERAS_RANDOM:
        return "a new layer, with a new seed-generator variable, on every call"
    return "a new layer, with new weights, on every call"


def _exclusive(a: Application, b: Application) -> bool:
    """True when a and b sit in different branches of the same if/elif/else."""
    branches_a = dict(a.branch)
    return any(if_id in branches_a and branches_a[if_id] != idx for if_id, idx in b.branch)


class SharedNormalizationLayer(Rule):
    code = "NL402"
    framework = "Keras, PyTorch"
    name = "shared-normalization-layer"
    summary = "One BatchNormalization/Normalization (nn.BatchNorm*) instance is applied at two places in call() (forward())."
    what = """
Flags a `BatchNormalization` or `Normalization` instance (an attribute set in `__init__`/`build`) that
`call()` applies at two different places, e.g. `self.bn(x1)` and `self.bn(x2)`. Calls in different
branches of one `if` are not flagged; one call inside a loop is one place. PyTorch: an `nn.BatchNorm*`
module set in `__init__` and applied at two places in `forward()`.
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
    required = (("def call", "def forward"), patterns.NORM_TEXT)
    triggers = (r"def\s+(?:call|forward)\s*\(", patterns.NORM_USE)
    _SELF_ATTR = re.compile(r"self\.(\w+)\s*=\s*[\w.]+\s*\(")
    _SELF_CALL = re.compile(r"self\.(\w+)\s*\(")

    @classmethod
    def may_match(cls, source: str) -> bool:
        """Some ``self.x = Something(...)`` whose ``self.x(`` is called at two places or more."""
        if not super().may_match(source):
            return False
        calls = Counter(cls._SELF_CALL.findall(source))  # one pass, whatever the number of attributes
        return any(calls[name] >= 2 for name in set(cls._SELF_ATTR.findall(source)))

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        by_layer: dict[int, list[Application]] = {}
        for app in ctx.flow.applications:
            if app.in_call_of is not None and (app.layer.kind in STAT_NORMS if not is_torch(app.layer)
                                               else is_batchnorm(app.layer) and app.layer.kind != "batch_norm"):
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
                        f"{later.in_call_of}.{'forward' if is_torch(later.layer) else 'call'}(): its statistics "
                        f"mix two inputs; use one {'module' if is_torch(later.layer) else 'layer'} per place",
                        related=earlier.site,
                    )
