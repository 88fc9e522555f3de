"""Layer-order rules: what feeds a BatchNormalization."""

from __future__ import annotations

from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, is_literal, literal
from normlint.lint.graph import Application, LayerObj
from normlint.lint.keras_api import DENSE
from normlint.lint.kinds import (batchnorm_word, is_batchnorm, is_biased_projection, is_dropout,
                                 is_other_normalization, is_torch, is_weighted)
from normlint.lint.rules import patterns
from normlint.lint.fixes import SAFE, UNSAFE, FixSpec, call_insert
from normlint.lint.legacy import is_keras1
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.reorder import move_after_fix

FAMILY = "Layer order"


def batchnorm_applications(ctx: FileContext) -> Iterator[Application]:
    for app in ctx.flow.applications:
        if is_batchnorm(app.layer):
            yield app


def built_apart(a: LayerObj, b: LayerObj) -> bool:
    """``a`` and ``b`` are constructed in different branches of one ``if`` (``if use_bn: self.fc =
    Linear(n, m, bias=False); self.bn = BatchNorm1d(m)`` / ``else: self.fc = Linear(n, m)``): a run that
    builds one does not build the other, so one cannot feed the other, whatever order the analysis ran
    the branches in."""
    if not a.branch or not b.branch:
        return False
    taken = dict(a.branch)
    return any(if_id in taken and taken[if_id] != index for if_id, index in b.branch)


def dropouts_reaching_batchnorm(ctx: FileContext) -> list[tuple[Application, Application, bool]]:
    """(dropout, batchnorm, through a weighted layer) for each Dropout upstream of a BatchNormalization,
    once per Dropout: the nearest path without weights wins. Computed once per file."""
    cached = ctx.memo.get("dropouts_reaching_batchnorm")
    if cached is not None:
        return cached
    best: dict[int, tuple[Application, Application, bool]] = {}
    for bn in batchnorm_applications(ctx):
        stack = [(t, False) for t in bn.inputs]
        seen: set[tuple[int, bool]] = set()
        while stack and len(seen) < 5000:
            tensor, weighted = stack.pop()
            if (id(tensor), weighted) in seen:
                continue
            seen.add((id(tensor), weighted))
            app = tensor.producer
            if app is not None:
                layer = app.layer
                if is_batchnorm(layer) or is_other_normalization(layer):
                    continue  # an earlier normalization: what is above it is its question
                if is_dropout(layer):
                    if built_apart(layer, bn.layer):
                        continue  # if use_bn: ... BatchNorm / else: ... Dropout: never both
                    # by the node that builds it: a helper called three times builds three objects there
                    known = best.get(id(layer.node))
                    if known is None or (known[2] and not weighted):
                        best[id(layer.node)] = (app, bn, weighted)
                elif is_weighted(layer) or layer.user_class or layer.is_model:
                    weighted = True
            stack.extend((p, weighted) for p in tensor.parents)
    result = list(best.values())
    ctx.memo["dropouts_reaching_batchnorm"] = result
    return result


class DropoutBeforeBatchNorm(Rule):
    code = "NL101"
    framework = "Keras, PyTorch"
    name = "dropout-before-batchnorm"
    summary = "Dropout output reaches a BatchNormalization (nn.BatchNorm*) with no weighted layer between them."
    what = """
Flags a `Dropout`, `SpatialDropout1D/2D/3D` or `AlphaDropout` (or TF1 `tf.layers.dropout`) whose output
reaches a `BatchNormalization` with no weighted layer (Conv, Dense, RNN, Embedding, attention) between
them: directly, or through activations, pooling, `Flatten`, `Reshape`, padding or merges, in a
`Sequential` list, `model.add(...)` calls, a functional chain, a helper function, or the `call()` of a
subclassed model. Reported once per Dropout. Dropout -> Conv/Dense -> BatchNormalization, where the
literature is divided, is the opt-in NL103.

PyTorch the same way: `nn.Dropout`, `nn.Dropout1d/2d/3d`, `nn.AlphaDropout` or `F.dropout*` reaching an
`nn.BatchNorm1d/2d/3d`, `nn.SyncBatchNorm` or `F.batch_norm`, through `nn.Sequential(...)` (positional
modules, `*layers` lists built with `+`, `append` and comprehensions, an `OrderedDict`),
`nn.ModuleList`, and the order of the calls in an `nn.Module`'s `forward()`.
"""
    why = """
Dropout scales the surviving activations by `1/(1-rate)` during training and does nothing at inference.
A BatchNormalization after it learns moving statistics of the *dropped* activations, then sees a
different variance at inference ("variance shift"), which costs accuracy. Li et al. (2019) show the
effect and recommend placing Dropout after all BatchNormalization layers.
"""
    example = """
model = keras.Sequential([
    layers.Conv2D(32, 3, use_bias=False),
    layers.Dropout(0.3),
    layers.MaxPooling2D(),
    layers.BatchNormalization(),
    layers.ReLU(),
])
"""
    use_instead = """
model = keras.Sequential([
    layers.Conv2D(32, 3, use_bias=False),
    layers.MaxPooling2D(),
    layers.BatchNormalization(),
    layers.ReLU(),
    layers.Dropout(0.3),
])
"""
    fix_doc = """
Moves the Dropout right after the BatchNormalization where the reorder is local: within one
`Sequential([...])` list (or the arguments of one `nn.Sequential(...)`), among consecutive `model.add(...)` (or `layers.append(...)`) statements on one
receiver, or in a functional chain on one name (`x = Dropout(0.5)(x)` ... `x = BatchNormalization()(x)`).
Other forms (branches, merges, renames between them, lists built in a loop or a comprehension, where
the moved Dropout would still feed the next pass) get no fix. **Unsafe**: the network then computes
something else (the point of the fix).
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
        "from keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.Flatten(), layers.BatchNormalization()])\n",
    )
    required = (patterns.BN_TEXT, ("Dropout", "dropout"))
    triggers = (patterns.BN_USE, patterns.DROPOUT_USE)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for dropout, bn, weighted in dropouts_reaching_batchnorm(ctx):
            if not weighted:
                yield Hit(
                    dropout.layer.node,
                    f"{dropout.layer.kind} feeds the {batchnorm_word(bn.layer)} on line {{line}} (variance shift): "
                    f"move {dropout.layer.kind} after the last {batchnorm_word(bn.layer)}",
                    related=bn.layer.node,
                    fix=move_after_fix(ctx, dropout.site, bn.site),
                )


class DropoutThroughWeightsBeforeBatchNorm(Rule):
    code = "NL103"
    default = False  # opt-in: WideResNet and DenseNet blocks do this on purpose
    framework = "Keras, PyTorch"
    name = "dropout-through-weights-before-batchnorm"
    summary = "Dropout reaches a BatchNormalization (nn.BatchNorm*) only through a Conv/Dense/Linear layer."
    what = """
Flags a Dropout whose output reaches a `BatchNormalization` only through a weighted layer
(Conv/Dense/RNN/Embedding/attention, or a layer or model of the file): Dropout -> Conv -> BN, as in
WideResNet and DenseNet blocks. Reported once per Dropout. A Dropout that reaches a BatchNormalization
with no weighted layer between is NL101 instead. Opt-in: enable it with `--extend-select NL103`.
"""
    why = """
The variance shift of Li et al. (2019) does not vanish behind a convolution: the Conv mixes the dropped
activations, and the BatchNormalization after it still sees a larger variance in training than at
inference. It is weaker than with nothing between, and WideResNet (Zagoruyko & Komodakis, 2016) and
DenseNet (Huang et al., 2017) place dropout between convolutions deliberately, with good results; the
literature is divided, which is why the rule is opt-in.
"""
    example = """
x = layers.Dropout(0.3)(x)
x = layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
x = layers.BatchNormalization()(x)
"""
    use_instead = """
x = layers.Conv2D(64, 3, padding="same", use_bias=False)(x)
x = layers.BatchNormalization()(x)
x = layers.Dropout(0.3)(x)
"""
    references = (
        "Li, Chen, Hu, Yang: Understanding the Disharmony between Dropout and Batch Normalization by "
        "Variance Shift, CVPR 2019. https://arxiv.org/abs/1801.05134",
        "Zagoruyko & Komodakis: Wide Residual Networks, 2016. https://arxiv.org/abs/1605.07146",
    )
    VALID = (
        "from keras import layers\nm = keras.Sequential([layers.Dense(8), layers.BatchNormalization(), layers.Dropout(0.5)])\n",
        "from keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n",
    )
    INVALID = (
        "from keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.Dense(8), layers.BatchNormalization()])\n",
    )
    required = (patterns.BN_TEXT, ("Dropout", "dropout"))
    triggers = (patterns.BN_USE, patterns.DROPOUT_USE)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for dropout, bn, weighted in dropouts_reaching_batchnorm(ctx):
            if weighted:
                yield Hit(
                    dropout.layer.node,
                    f"{dropout.layer.kind} reaches the {batchnorm_word(bn.layer)} on line {{line}} through a weighted "
                    f"layer (variance shift, weaker): consider moving {dropout.layer.kind} after it",
                    related=bn.layer.node,
                )


def _torch_bias_position(kind: str) -> int | None:
    """Where ``bias`` sits among the positional parameters of a PyTorch Conv/Linear."""
    if kind in ("Linear",):
        return 2
    if kind == "LazyLinear":
        return 1
    if kind.startswith("LazyConv"):
        return 6
    return 7  # Conv1d/2d/3d(in, out, kernel, stride, padding, dilation, groups, bias); ConvTranspose alike


def _activation_is_linear(layer: LayerObj) -> bool:
    act = layer.arg("activation", 1 if layer.kind in DENSE else None)
    if act is None:
        return True
    value = literal(act)
    return is_literal(value) and value in (None, "linear")


class BiasBeforeBatchNorm(Rule):
    code = "NL102"
    severity = "warning"  # the bias is wasted parameters and compute, not a wrong result
    framework = "Keras, PyTorch"
    name = "bias-before-batchnorm"
    summary = "Conv/Dense (Conv*/Linear) keeps its bias although a BatchNorm follows directly."
    what = """
Flags a `Conv*`/`Dense` layer with `use_bias` left at its default `True` (and no activation of its
own) whose output goes straight into a `BatchNormalization` with `center=True`; and a PyTorch
`nn.Conv1d/2d/3d`, `nn.ConvTranspose*` or `nn.Linear` with `bias` left at `True` (by keyword or by
position) whose output goes straight into an `nn.BatchNorm*` (in `nn.Sequential`, or in `forward()`).
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
    fix_doc = """
Adds `use_bias=False` to the Conv/Dense call (`bias=False` in a Keras 1 call). **Safe**: the bias is
cancelled exactly by the BatchNormalization's mean subtraction, so the model computes the same
function. **Unsafe** when the file calls `load_weights(...)`: saved weights hold the bias variables,
and loading them into a layer without a bias fails or, by name, skips them. PyTorch: adds `bias=False`;
**unsafe** when the file calls `load_state_dict` or `torch.load` (a checkpoint with the `.bias` keys no
longer loads strictly).
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
    required = (patterns.BN_TEXT, ("Conv", "Dense", "conv", "dense", "Linear"))
    triggers = (patterns.BN_USE, patterns.CONV_WITH_BIAS)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        flagged: set[int] = set()
        for bn in batchnorm_applications(ctx):
            torch = is_torch(bn.layer)
            if not torch and literal(bn.layer.arg("center", 3)) is False:
                continue
            if torch and bn.layer.kind == "batch_norm":
                continue  # F.batch_norm(x, mean, var, weight, bias): what it subtracts is the caller's
            producer = bn.inputs[0].producer if bn.inputs else None
            if producer is None:
                continue
            layer = producer.layer
            if not is_biased_projection(layer) or is_torch(layer) != torch or id(layer) in flagged:
                continue
            keyword = "bias" if torch else "use_bias"
            given = layer.arg(keyword, _torch_bias_position(layer.kind) if torch else None)
            if given is None and layer.may_hide(keyword):
                continue  # Conv2D(64, 3, **get_conv_params()): the bias switch may be in there
            if literal(given) is False or (not torch and not _activation_is_linear(layer)):
                continue
            if given is not None and not is_literal(literal(given)):
                continue  # the bias switch given as a variable: cannot tell
            if built_apart(layer, bn.layer):
                continue  # the biased one is built where the BatchNorm is not (if use_bn: ... bias=False / else: ...)
            flagged.add(id(layer))
            site = layer.call_site or layer.node
            yield Hit(
                site,
                f"{layer.kind} has a bias that the {batchnorm_word(bn.layer)} on line {{line}} cancels: "
                f"pass {keyword}=False",
                related=bn.layer.node,
                fix=self._fix(ctx, site, torch),
            )

    @staticmethod
    def _fix(ctx: FileContext, site: cst.CSTNode, torch: bool = False) -> FixSpec | None:
        if not isinstance(site, cst.Call) or any(a.star == "**" for a in site.args):
            return None  # **cfg might hold use_bias already
        keyword = "bias" if torch or is_keras1(site) else "use_bias"  # Keras 1 spelled it bias=
        # the bias is cancelled exactly, so the numbers stay the same; but a file that loads saved
        # weights expects the bias variables to be there
        loads = ("load_state_dict", "torch.load") if torch else ("load_weights",)
        key = f"bias-fix.loads.{torch}"  # once per file, whatever the number of findings
        if key not in ctx.memo:
            ctx.memo[key] = any(word in ctx.source for word in loads)
        applicability = UNSAFE if ctx.memo[key] else SAFE
        return FixSpec(f"pass {keyword}=False", applicability,
                       (call_insert(site, keyword, "False", ctx.code(site.func)),))
