"""Axis rules: which axis a normalization layer reduces over."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, is_literal, keyword, literal
from normlint.lint.legacy import is_keras1
from normlint.lint.graph import LayerObj, Tensor
from normlint.lint.keras_api import BATCHNORM, CONV
from normlint.lint.rules import patterns
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit, call_insert, written_literal
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.ordering import batchnorm_applications

FAMILY = "Normalization axes"

_CONV_RANK = re.compile(r"([123])D")


def _contains_zero(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == 0
    if isinstance(value, list):
        return any(_contains_zero(v) for v in value)
    return False


def _partial_of(ctx: FileContext, call: cst.Call) -> str | None:
    """The layer class of ``functools.partial(layers.BatchNormalization, momentum=0.1)``, else None."""
    if call.args and call.args[0].keyword is None and not call.args[0].star \
            and ctx.names.canonical(call.func) == "functools.partial":
        return ctx.names.layer_class(call.args[0].value)
    return None


def normalization_calls(ctx: FileContext, kinds: frozenset[str]) -> Iterator[tuple[cst.Call, str]]:
    """Calls constructing a Keras layer of ``kinds`` (TF1 batch_normalization counts as BatchNormalization,
    and so does ``functools.partial(BatchNormalization, ...)``, whose keywords every later call shares)."""
    partials = "partial" in ctx.source  # else no call's code holds it
    for site in ctx.calls:
        kind = ctx.names.layer_class(site.node.func)
        if kind is None and "BatchNormalization" in kinds and ctx.names.tf1_layer(site.node.func) == "batch_normalization":
            kind = "BatchNormalization"
        if kind is None and partials and "partial" in ctx.code(site.node.func):
            kind = _partial_of(ctx, site.node)
        if kind in kinds:
            yield site.node, kind


def layer_positionals(ctx: FileContext, call: cst.Call) -> list[cst.BaseExpression]:
    """The positional arguments that configure the layer: without the input tensor of a TF1 layer
    (``tf.layers.batch_normalization(inputs, axis)``) or the class given to ``functools.partial``."""
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if ctx.names.tf1_layer(call.func) is not None or (positional and _partial_of(ctx, call) is not None):
        return positional[1:]
    return positional


def _axis_arg(call: cst.Call, kind: str, ctx: FileContext) -> cst.BaseExpression | None:
    named = keyword(call, "axis")
    if named is not None:
        return named
    if is_keras1(call):
        return None  # Keras 1: BatchNormalization(epsilon, mode, axis, ...) positionally
    positional = layer_positionals(ctx, call)
    position = 1 if kind == "GroupNormalization" else 0  # GroupNormalization(groups, axis, ...)
    return positional[position] if position < len(positional) else None


def _axis_fix(call: cst.Call, kind: str, ctx: FileContext, value: str, message: str,
              insert: bool = False) -> FixSpec | None:
    """Replace the axis written in the call (a constant's name is left alone: it may serve elsewhere);
    ``insert``: add axis= when the call gives none."""
    expr = _axis_arg(call, kind, ctx)
    if expr is not None:
        if not any(a.value is expr for a in call.args) or not written_literal(expr):
            return None
        return FixSpec(message, UNSAFE, (NodeEdit(expr, value),))
    if not insert or any(a.star == "**" for a in call.args):
        return None
    return FixSpec(message, UNSAFE, (call_insert(call, "axis", value, ctx.code(call.func)),))


_AXIS_FIX_DOC = """
Replaces the axis written in the call with {value}. **Unsafe**: the layer then normalizes other numbers
and its weights change shape (saved weights no longer load). An axis held in a name is not rewritten
(the name may serve elsewhere).
"""


class BatchNormOnBatchAxis(Rule):
    code = "NL201"
    name = "batchnorm-on-batch-axis"
    summary = "BatchNormalization with axis=0 keeps the batch axis and normalizes across features."
    what = """
Flags `BatchNormalization(axis=0)` (or an axis list containing 0), in Keras or TF1
`tf.layers.batch_normalization`.
"""
    why = """
`axis` names the axis that is *kept*: one mean/variance per index of that axis, reduced over all the
others. `axis=0` keeps the batch axis, so each sample is normalized over its own features and spatial
positions: the moving statistics get one entry per batch position, the layer only works for one batch
size, and the result is not batch normalization at all. The feature/channel axis (`-1` for
channels_last, `1` for channels_first) is what you want.
"""
    example = """
x = layers.BatchNormalization(axis=0)(activation_maps, training=True)
"""
    use_instead = """
x = layers.BatchNormalization(axis=-1)(activation_maps, training=True)
"""
    references = ("https://keras.io/api/layers/normalization_layers/batch_normalization/",)
    fix_doc = _AXIS_FIX_DOC.format(value="`-1` (the channels_last channel axis; use 1 for channels_first)")
    VALID = ("y = BatchNormalization(axis=-1)(x)\n", "y = BatchNormalization(axis=3)(x)\n")
    INVALID = ("y = BatchNormalization(axis=0)(x)\n", "y = BatchNormalization(axis=[0, 3])(x)\n")
    required = (patterns.BN_TEXT, "axis")
    triggers = (patterns.BN_WITH_AXIS_ZERO,)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for call, kind in normalization_calls(ctx, BATCHNORM):
            axis = literal(_axis_arg(call, kind, ctx))
            if is_literal(axis) and _contains_zero(axis):
                yield Hit(
                    call,
                    f"{kind}(axis={axis!r}) keeps the batch axis: normalize over the channel axis "
                    f"(axis=-1 for channels_last, axis=1 for channels_first)",
                    fix=_axis_fix(call, kind, ctx, "-1", "use the channel axis -1 (channels_last)"),
                )


class NormalizationOnBatchAxis(Rule):
    code = "NL203"
    name = "normalization-on-batch-axis"
    summary = "LayerNormalization / GroupNormalization / Normalization axis includes the batch axis."
    what = """
Flags `LayerNormalization`, `GroupNormalization`, `UnitNormalization`, `RMSNormalization` and the
preprocessing `Normalization` layer when their `axis` is 0 or a list containing 0.
"""
    why = """
For LayerNormalization, GroupNormalization, UnitNormalization and RMSNormalization `axis` names the
axes normalized *over*: including 0 mixes the samples of a batch, so a sample's output depends on the
rest of its batch and on the batch size, which is exactly what these layers exist to avoid. For the
preprocessing `Normalization` layer `axis` names the axes that keep separate statistics: `axis=0` keeps
one mean per sample *position* in the adapt data and fails (or silently broadcasts) on other batch sizes.
"""
    example = """
x = layers.LayerNormalization(axis=[0, 1])(x)
"""
    use_instead = """
x = layers.LayerNormalization(axis=-1)(x)
"""
    references = (
        "https://keras.io/api/layers/normalization_layers/layer_normalization/",
        "https://keras.io/api/layers/preprocessing_layers/numerical/normalization/",
    )
    fix_doc = _AXIS_FIX_DOC.format(value="`-1` (the feature axis)")
    VALID = ("y = LayerNormalization(axis=-1)(x)\n", "n = Normalization(axis=None)\n")
    INVALID = ("y = LayerNormalization(axis=0)(x)\n", "y = GroupNormalization(groups=4, axis=[0, -1])(x)\n")
    required = ("Normalization", "axis")
    triggers = (patterns.NORM_WITH_AXIS_ZERO,)
    KINDS = frozenset({"LayerNormalization", "GroupNormalization", "Normalization", "UnitNormalization",
                       "RMSNormalization"})

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for call, kind in normalization_calls(ctx, self.KINDS):
            axis = literal(_axis_arg(call, kind, ctx))
            if is_literal(axis) and _contains_zero(axis):
                yield Hit(call, f"{kind}(axis={axis!r}) includes the batch axis 0: use the feature axis (-1)",
                          fix=_axis_fix(call, kind, ctx, "-1", "use the feature axis -1"))


def _nearest_conv(tensor: Tensor, limit: int = 30) -> LayerObj | None:
    """The Conv layer that last produced ``tensor``'s layout, following first inputs upstream."""
    t: Tensor | None = tensor
    for _ in range(limit):
        if t is None:
            return None
        if t.producer is not None:
            kind = t.producer.layer.kind
            if kind in CONV:
                return t.producer.layer
            if kind.startswith(("Flatten", "Dense", "Global", "Reshape", "Permute", "Embedding", "LSTM", "GRU")):
                return None
        t = t.parents[0] if t.parents else None
    return None


_ORDERINGS = {"th": "channels_first", "tf": "channels_last", "channels_first": "channels_first",
              "channels_last": "channels_last"}


def _default_data_format(ctx: FileContext) -> str | None:
    """The data_format of a convolution that names none: channels_last, or what the file sets with
    ``keras.backend.set_image_data_format("channels_first")`` / Keras 1's ``set_image_dim_ordering("th")``
    when every such call agrees; None (unknown) when the file reads the global format
    (``image_data_format() == ...``) without setting it, or sets it to something that is not a constant."""
    if "image_data_format" not in ctx.source and "image_dim_ordering" not in ctx.source:
        return "channels_last"
    set_to: set[str | None] = set()
    for site in ctx.calls:
        name = ctx.code(site.node.func).rsplit(".", 1)[-1]
        if name in ("set_image_data_format", "set_image_dim_ordering"):
            value = literal(site.node.args[0].value) if site.node.args else None
            set_to.add(_ORDERINGS.get(value) if isinstance(value, str) else None)
    if len(set_to) == 1:
        return set_to.pop()
    return None


_FORMAT_KEY = re.compile(r"[\"'](?:data_format|dim_ordering)[\"']")


def _names_a_format(ctx: FileContext) -> bool:
    """Some call passes a constant ``data_format=``/``dim_ordering=`` (a layer's format is only ever
    such a keyword, or a key of a ``**`` dict, which the text names in quotes)."""
    for site in ctx.calls:
        for a in site.node.args:
            if a.keyword is not None and a.keyword.value in ("data_format", "dim_ordering") \
                    and isinstance(literal(a.value), str):
                return True
    source = ctx.source  # the words first: the regex opens with a quote, tried at every quote of the file
    return ("data_format" in source or "dim_ordering" in source) and _FORMAT_KEY.search(source) is not None


class BatchNormAxisVsDataFormat(Rule):
    code = "NL202"
    name = "batchnorm-axis-vs-data-format"
    summary = "BatchNormalization axis is not the channel axis of the preceding convolution's data_format."
    what = """
Flags a `BatchNormalization` whose `axis` does not point at the channel axis of the convolution that
feeds it: `channels_first` with `axis=-1` (the default) or `axis=3`, `channels_last` with `axis=1`.
The convolution's format is its `data_format=` (or Keras 1's `dim_ordering=`), else the one the file
sets with `keras.backend.set_image_data_format(...)`; a file that only reads the global format leaves
it unknown.
"""
    why = """
BatchNormalization keeps one mean/variance per index of `axis`. With `channels_first` the channels sit
on axis 1; `axis=-1` then normalizes per image *column* instead of per channel, mixing channels and
tying the statistics to the image width. With `channels_last`, `axis=1` normalizes per image row.
Training still runs, so the mistake is silent.
"""
    example = """
x = layers.Conv2D(32, 3, data_format="channels_first")(x)
x = layers.BatchNormalization()(x)
"""
    use_instead = """
x = layers.Conv2D(32, 3, data_format="channels_first")(x)
x = layers.BatchNormalization(axis=1)(x)
"""
    references = (
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
        "https://keras.io/api/layers/convolution_layers/convolution2d/",
    )
    fix_doc = """
Sets the BatchNormalization's `axis` to the channel axis of the convolution's format (`1` for
channels_first, `-1` for channels_last), adding `axis=` when the call has none. **Unsafe**: the layer
then normalizes other numbers and its weights change shape. An axis held in a name is not rewritten.
"""
    VALID = ("x = Conv2D(8, 3, data_format='channels_first')(x)\nx = BatchNormalization(axis=1)(x)\n",)
    INVALID = ("x = Conv2D(8, 3, data_format='channels_first')(x)\nx = BatchNormalization()(x)\n",)
    required = (patterns.BN_TEXT,)
    triggers = (
        patterns.BN_USE,
        lambda s: patterns.BN_WITH_AXIS_NONZERO(s)
        or (("channels_first" in s or "dim_ordering" in s) and patterns.CONV_CHANNELS_FIRST(s)),
    )

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        default_format = _default_data_format(ctx)
        if default_format is None and not _names_a_format(ctx):
            return  # no convolution's format is known: nothing to compare, and the flow is not needed
        flagged: set[int] = set()
        for bn in batchnorm_applications(ctx):
            if id(bn.layer) in flagged or not bn.inputs:
                continue
            conv = _nearest_conv(bn.inputs[0])
            if conv is None:
                continue
            rank_match = _CONV_RANK.search(conv.kind)
            if rank_match is None:
                continue
            rank = int(rank_match.group(1)) + 2
            fmt_expr = conv.arg("data_format")
            if (fmt_expr is None and conv.may_hide("data_format")) or (
                    bn.layer.arg("axis", 0) is None and bn.layer.may_hide("axis")):
                continue  # Conv2D(..., **params) / BatchNormalization(**bn_params): what they set is not shown
            if fmt_expr is None and isinstance(conv.node, cst.Call) and is_keras1(conv.node, conv.kind):
                continue  # Keras 1's default dim_ordering came from keras.json ("th" on Theano setups)
            fmt = literal(fmt_expr) if fmt_expr is not None else default_format
            if fmt not in ("channels_first", "channels_last"):
                continue
            axis_expr = bn.layer.arg("axis", 0)
            axis = literal(axis_expr) if axis_expr is not None else -1
            if not isinstance(axis, int) or isinstance(axis, bool) or not -rank <= axis < rank:
                continue
            channel = 1 if fmt == "channels_first" else rank - 1
            if axis % rank == channel or axis % rank == 0:
                continue  # axis 0 is NL201's
            flagged.add(id(bn.layer))
            want = 1 if fmt == "channels_first" else -1
            node = bn.layer.node
            yield Hit(
                node,
                f"BatchNormalization(axis={axis}) after a {fmt} {conv.kind} (line {{line}}) "
                f"does not normalize per channel: use axis={want}",
                related=conv.node,
                fix=_axis_fix(node, "BatchNormalization", ctx, str(want), f"use axis={want}", insert=True)
                if isinstance(node, cst.Call) else None,
            )
