"""Rules about how normalization layers are trained: training flags, update ops, momentum, batch size."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, keyword, literal
from normlint.lint.index import descendants
from normlint.lint.legacy import is_keras1
from normlint.lint.graph import LayerObj, PartOf
from normlint.lint.keras_api import APPLICATIONS, BATCHNORM, DROPOUT
from normlint.lint.rules.axes import layer_positionals, normalization_calls
from normlint.lint.rules import patterns
from normlint.lint.options import Option
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit, written_literal
from normlint.lint.rules.base import Hit, Rule

FAMILY = "Training mode and statistics"


class TrainingCallWithoutTrainingFlag(Rule):
    code = "NL501"
    name = "training-call-without-training-flag"
    summary = "A model holding BatchNormalization/Dropout is called inside GradientTape without training=."
    what = """
Flags `model(x)` inside a `with tf.GradientTape():` block when `model` holds BatchNormalization or
Dropout and the call passes no `training=` argument. Also `self(x)` inside a custom `train_step`.
Models from `keras.applications` count with the layers they hold (ResNet, MobileNet, EfficientNet,
DenseNet, Inception, Xception and NASNet hold BatchNormalization; VGG holds neither).
"""
    why = """
Outside `fit()`, Keras does not know a call is a training step. Without `training=True`,
BatchNormalization normalizes with its moving statistics and never updates them, and Dropout drops
nothing: the custom loop trains a different network from the one `fit()` would, and the moving
statistics stay at their initial values (mean 0, variance 1).
"""
    example = """
model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.ReLU(), layers.Dense(10)])
with tf.GradientTape() as tape:
    logits = model(x_batch)
    loss = loss_fn(y_batch, logits)
"""
    use_instead = """
model = keras.Sequential([layers.Dense(64), layers.BatchNormalization(), layers.ReLU(), layers.Dense(10)])
with tf.GradientTape() as tape:
    logits = model(x_batch, training=True)
    loss = loss_fn(y_batch, logits)
"""
    references = (
        "https://keras.io/guides/writing_a_custom_training_loop_in_tensorflow/",
        "https://keras.io/getting_started/faq/#whats-the-difference-between-the-training-argument-in-call-and-the-trainable-attribute",
    )
    VALID = (
        "model = Sequential([Dense(4), BatchNormalization()])\nwith tf.GradientTape() as t:\n    y = model(x, training=True)\n",
        "model = Sequential([Dense(4), BatchNormalization()])\ny = model(x)\n",
    )
    INVALID = ("model = Sequential([Dense(4), BatchNormalization()])\nwith tf.GradientTape() as t:\n    y = model(x)\n",)
    required = ("GradientTape",)
    triggers = (lambda s: patterns.BN_OR_APPLICATION_USE(s) or patterns.DROPOUT_USE(s),)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        seen: set[int] = set()
        for tc in ctx.flow.tape_calls:
            if tc.has_training or id(tc.node) in seen or not tc.model.holds(BATCHNORM | DROPOUT):
                continue
            seen.add(id(tc.node))
            held = tc.model.held(BATCHNORM | DROPOUT)
            yield Hit(
                tc.node,
                f"{tc.model.kind} holds {'/'.join(held)} but is called under GradientTape without "
                f"training=: pass training=True",
            )


def _mentions_update_ops(call: cst.Call, ctx: FileContext) -> bool:
    text = ctx.code(call).lower()
    return "update" in text


def _graphs(ctx: FileContext) -> dict[int, int]:
    """id of each call in the module's own code -> the graph it builds in: a new one after each top-level
    statement that resets the default graph (``tf.reset_default_graph()``, or a function of the file that
    does: handson-ml's ``reset_graph()`` before each model of a notebook). Calls inside functions and
    classes are left out (whichever graph they are called in)."""
    resetters = {name for name, fn in ctx.names.functions.items()
                 if any(_resets(n, ctx) for n in descendants(fn) if isinstance(n, cst.Call))}
    graphs: dict[int, int] = {}
    graph = 0
    for stmt in ctx.module.body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        calls = [n for n in descendants(stmt) if isinstance(n, cst.Call)]
        if any(_resets(c, ctx) or (isinstance(c.func, cst.Name) and c.func.value in resetters) for c in calls):
            graph += 1
        graphs.update((id(c), graph) for c in calls)
    return graphs


def _tf1_batch_norm(call: cst.Call, ctx: FileContext) -> bool:
    """``tf.layers.batch_normalization(...)``, or ``partial(tf.layers.batch_normalization, training=...)``
    (handson-ml's ``my_batch_norm_layer``)."""
    if ctx.names.tf1_layer(call.func) == "batch_normalization":
        return True
    return ((ctx.names.canonical(call.func) or "") == "functools.partial" and bool(call.args)
            and ctx.names.tf1_layer(call.args[0].value) == "batch_normalization")


def _resets(call: cst.Call, ctx: FileContext) -> bool:
    return (ctx.names.canonical(call.func) or "").endswith("reset_default_graph")


def _runs_update_ops(call: cst.Call, ctx: FileContext) -> bool:
    """``sess.run([training_op, extra_update_ops])`` or ``tf.group(train_op, update_ops)``, the collection
    given directly or through a name bound to ``tf.get_collection(tf.GraphKeys.UPDATE_OPS)``."""
    func = call.func
    if not ((isinstance(func, cst.Attribute) and func.attr.value == "run")
            or (ctx.names.canonical(func) or "").endswith(".group")):
        return False
    for a in call.args:
        for n in descendants(a.value):
            if isinstance(n, cst.Attribute) and n.attr.value == "UPDATE_OPS":
                return True
            if isinstance(n, cst.Name) and any("UPDATE_OPS" in ctx.code(v) for v in ctx.index.assignments.get(n.value, [])):
                return True
    return False


class V1BatchNormWithoutUpdateOps(Rule):
    code = "NL502"
    name = "v1-batchnorm-without-update-ops"
    summary = "TF1 batch_normalization is used but minimize() does not depend on the UPDATE_OPS collection."
    what = """
Flags `optimizer.minimize(...)` in a file that uses `tf.layers.batch_normalization` /
`tf.compat.v1.layers.batch_normalization` (directly or through `functools.partial`) when the `minimize`
call is not inside `with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):` and the
collection is not run beside the training op (`sess.run([training_op, update_ops])`, `tf.group(...)`).
A notebook that resets the default graph before each model (`tf.reset_default_graph()`, or a function of
the file that calls it) is read graph by graph: a `minimize()` in a graph without batch normalization is
not flagged.
"""
    why = """
In graph mode the TF1 batch-normalization layer puts its moving-mean/variance updates in the
`UPDATE_OPS` collection instead of running them. Unless the training op depends on that collection the
updates never run: training looks fine, but inference (`training=False`) uses the initial moving
statistics (0 and 1) and the model's accuracy collapses at evaluation.
"""
    example = """
x = tf.layers.batch_normalization(x, training=is_training)
train_op = optimizer.minimize(loss)
"""
    use_instead = """
x = tf.layers.batch_normalization(x, training=is_training)
update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
with tf.control_dependencies(update_ops):
    train_op = optimizer.minimize(loss)
"""
    references = ("https://www.tensorflow.org/api_docs/python/tf/compat/v1/layers/batch_normalization",)
    VALID = (
        "x = tf.layers.batch_normalization(x, training=t)\nwith tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):\n"
        "    op = opt.minimize(loss)\n",
    )
    INVALID = ("x = tf.layers.batch_normalization(x, training=t)\nop = opt.minimize(loss)\n",)
    required = ("batch_norm", "minimize")
    triggers = (r"batch_norm", r"\.minimize\s*\(")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        norms = [s for s in ctx.calls if _tf1_batch_norm(s.node, ctx)]
        if not norms:
            return
        graph = _graphs(ctx)
        with_norm = {graph.get(id(s.node)) for s in norms}
        updated = {graph.get(id(s.node)) for s in ctx.calls if _runs_update_ops(s.node, ctx)}
        for site in ctx.calls:
            func = site.node.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "minimize"):
                continue
            here = graph.get(id(site.node))  # None: in a function, whichever graph it is called in
            if here is not None and None not in with_norm and here not in with_norm:
                continue  # a graph of its own, built after a reset, with no batch normalization in it
            if None in updated or (here is not None and here in updated):
                continue  # sess.run([training_op, update_ops]): the updates run beside the training op
            guarded = any(
                isinstance(w.func, (cst.Attribute, cst.Name))
                and (ctx.names.canonical(w.func) or "").endswith("control_dependencies")
                and _mentions_update_ops(w, ctx)
                for w in site.with_items
            )
            if not guarded:
                yield Hit(
                    site.node,
                    "minimize() does not run the UPDATE_OPS of tf.layers.batch_normalization, so its moving "
                    "statistics never update: wrap it in tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))",
                )


class KerasMomentumInTorchConvention(Rule):
    code = "NL601"
    name = "keras-momentum-in-torch-convention"
    summary = "BatchNormalization momentum < 0.5 looks like PyTorch's convention (0.1 there is 0.9 in Keras)."
    what = """
Flags Keras `BatchNormalization(momentum=m)` (and TF1 `batch_normalization`) with a literal `m < 0.5`.
"""
    why = """
Keras updates `moving = momentum * moving + (1 - momentum) * batch`; PyTorch updates
`running = (1 - momentum) * running + momentum * batch`. PyTorch's default 0.1 is Keras's 0.9, and
porting `momentum=0.1` literally makes the moving statistics follow the last few batches almost
entirely: inference then uses noisy statistics of whatever batch came last.
"""
    example = """
layers.BatchNormalization(momentum=0.1)
"""
    use_instead = """
layers.BatchNormalization(momentum=0.9)  # PyTorch momentum=0.1
"""
    references = (
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
        "https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html",
    )
    fix_doc = """
Replaces the momentum written in the call with `1 - m` (0 becomes Keras's default 0.99). **Unsafe**:
the moving statistics then average over many more batches, which changes what inference computes (the
point of the fix). A name that holds the momentum (`BN_MOMENTUM = 0.1`) is rewritten where it is assigned when it is
assigned once and read only as `momentum=`; one in a config dict, or read elsewhere, is not rewritten.
"""
    VALID = ("BatchNormalization(momentum=0.99)\n", "BatchNormalization(momentum=m)\n")
    INVALID = ("BatchNormalization(momentum=0.1)\n",)
    required = (patterns.BN_TEXT, "momentum")
    triggers = (patterns.BN_WITH_SMALL_MOMENTUM,)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for call, kind in normalization_calls(ctx, BATCHNORM):
            expr = keyword(call, "momentum")
            if expr is None and not is_keras1(call):
                positional = layer_positionals(ctx, call)  # BatchNormalization(axis, momentum, ...)
                expr = positional[1] if len(positional) > 1 else None
            value = literal(expr)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 0.5:
                continue
            if value == 0:  # not a ported PyTorch value (that would never update): the last batch only
                message = (f"{kind}(momentum={value}) replaces the moving statistics with each batch's: "
                           f"inference uses the statistics of the last training batch; use momentum=0.99")
            else:
                message = (f"{kind}(momentum={value:g}) uses PyTorch's convention; Keras keeps {value:g} of the "
                           f"old moving statistics per step: use momentum={1 - value:g}")
            # a value from a constant dict (``**cfg``) sits elsewhere in the file: point at the layer
            in_call = expr is not None and any(a.value is expr for a in call.args)
            fix = None
            new = "0.99" if value == 0 else f"{1 - value:g}"
            if in_call and written_literal(expr):  # type: ignore[arg-type]
                fix = FixSpec(f"use momentum={new}", UNSAFE, (NodeEdit(expr, new),))  # type: ignore[arg-type]
            elif in_call and isinstance(expr, cst.Name):
                fix = _constant_fix(ctx, expr.value, new)
            yield Hit(expr if in_call else call, message, fix=fix)  # type: ignore[arg-type]


def _constant_fix(ctx: FileContext, name: str, new: str) -> FixSpec | None:
    """Rewrite ``BN_MOMENTUM = 0.1`` itself when the name is assigned once, to a written number, and read
    only as ``momentum=NAME``: then nothing else depends on it."""
    values = ctx.index.assignments.get(name, [])
    if len(values) != 1 or ctx.index.bind_counts[name] != 1 or not written_literal(values[0]):
        return None
    uses = len(re.findall(rf"\b{re.escape(name)}\b", ctx.source))
    as_momentum = len(re.findall(rf"\bmomentum\s*=\s*{re.escape(name)}\b", ctx.source))
    if uses != as_momentum + 1:  # the assignment, and momentum= readings only
        return None
    return FixSpec(f"set {name} = {new}", UNSAFE, (NodeEdit(values[0], new),))


class BatchNormSmallBatch(Rule):
    code = "NL602"
    severity = "warning"  # noisy batch statistics: a risk that depends on the data, not a wrong result
    name = "batchnorm-small-batch"
    summary = "fit() with a tiny literal batch_size on a model that holds BatchNormalization."
    options = (
        Option("small-batch-threshold", "int", 8,
               "NL602: flag fit(batch_size=N) with N below this on a model holding BatchNormalization (default 8)",
               minimum=1),
    )
    what = """
Flags `model.fit(..., batch_size=N)` with a literal `N` below the threshold (8 by default; option
`small-batch-threshold`) when `model` holds a BatchNormalization layer, written in the file or inside
a `keras.applications` model (ResNet50, MobileNetV2, EfficientNetB0, ...).
"""
    why = """
BatchNormalization estimates a mean and variance from each batch. With a handful of samples the
estimates are so noisy that training is unstable and the moving statistics are poor; with batch size 1
the variance of a dense feature is zero. LayerNormalization or GroupNormalization do not depend on the
batch and are the usual replacement for small batches.
"""
    example = """
model = keras.Sequential([layers.Conv2D(8, 3), layers.BatchNormalization(), layers.ReLU()])
model.fit(x, y, batch_size=2)
"""
    use_instead = """
model = keras.Sequential([layers.Conv2D(8, 3), layers.GroupNormalization(groups=4), layers.ReLU()])
model.fit(x, y, batch_size=2)
"""
    references = (
        "Wu & He, Group Normalization, ECCV 2018. https://arxiv.org/abs/1803.08494",
        "https://keras.io/api/layers/normalization_layers/group_normalization/",
    )
    VALID = ("m = Sequential([Dense(4), BatchNormalization()])\nm.fit(x, y, batch_size=32)\n",)
    INVALID = ("m = Sequential([Dense(4), BatchNormalization()])\nm.fit(x, y, batch_size=2)\n",)
    required = (patterns.BN_OR_APPLICATION_TEXT, "batch_size", "fit")
    triggers = (patterns.BN_OR_APPLICATION_USE, patterns.FIT_WITH_BATCH_SIZE)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        threshold = int(self.option(ctx, "small-batch-threshold"))
        for mc in ctx.flow.method_calls:
            if mc.name != "fit" or not isinstance(mc.receiver, LayerObj) or not mc.receiver.holds(BATCHNORM):
                continue
            expr = keyword(mc.node, "batch_size")
            value = literal(expr)
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < threshold:
                yield Hit(
                    expr,  # type: ignore[arg-type]
                    f"batch_size={value} is too small for the BatchNormalization in {mc.receiver.kind} "
                    f"(< {threshold}): use a larger batch, or LayerNormalization/GroupNormalization",
                )


def _pretrained(model: LayerObj, loaded: set[int]) -> bool:
    """The model is or holds a backbone with pretrained weights: a keras.applications model whose
    ``weights`` is not None (its default is "imagenet"), or a model whose ``load_weights`` is called."""
    for layer in model.all_layers():
        if id(layer) in loaded:
            return True
        if layer.kind in APPLICATIONS:
            weights = layer.arg("weights")
            if weights is None or isinstance(literal(weights), str):
                return True
    return False


class UnfrozenBatchNormInTrainingMode(Rule):
    code = "NL503"
    name = "fine-tuned-batchnorm-in-training-mode"
    summary = "A model with BatchNormalization is unfrozen for fine-tuning and its BatchNormalization layers are not re-frozen."
    what = """
Flags `base.trainable = True` (or `layer.trainable = True` for layers of `base.layers`) when `base`
holds BatchNormalization and pretrained weights (a `keras.applications` backbone whose `weights` is not
None, or a model whose `load_weights()` is called; a model trained from scratch has no statistics to
lose) and the file never
singles out its BatchNormalization layers (no `isinstance(layer, BatchNormalization)` anywhere) to keep
them frozen. A backbone that stays frozen is left alone: Keras runs a BatchNormalization whose
`trainable` is False in inference mode.
"""
    why = """
In transfer learning the backbone is first frozen, then unfrozen for fine-tuning. Once unfrozen, its
BatchNormalization layers run in training mode inside `fit()`: they normalize with the statistics of
each small fine-tuning batch and overwrite the moving statistics learned on the large pre-training set,
so the first fine-tuning epochs destroy what the backbone knew. The older advice, calling the backbone
as `base(inputs, training=False)`, no longer helps in Keras 3: `fit()` calls the outer model with
`training=True`, which overrides the nested call's `training=False` (keras-team/keras#20285; checked
in normlint's tests). What does work is setting `trainable = False` again on the BatchNormalization
layers after unfreezing the rest.
"""
    example = """
base = keras.applications.ResNet50(weights="imagenet", include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((224, 224, 3))
model = keras.Model(inputs, layers.Dense(5)(base(inputs, training=False)))
model.fit(train_ds, epochs=5)
base.trainable = True  # fine-tune: BatchNormalization now updates its statistics
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""
    use_instead = """
base = keras.applications.ResNet50(weights="imagenet", include_top=False, pooling="avg")
base.trainable = False
inputs = keras.Input((224, 224, 3))
model = keras.Model(inputs, layers.Dense(5)(base(inputs, training=False)))
model.fit(train_ds, epochs=5)
base.trainable = True
for layer in base.layers:
    if isinstance(layer, layers.BatchNormalization):
        layer.trainable = False  # stays in inference mode, keeps the pre-trained statistics
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="sparse_categorical_crossentropy")
model.fit(train_ds, epochs=5)
"""
    references = (
        "https://keras.io/guides/transfer_learning/#finetuning",
        "https://github.com/keras-team/keras/issues/20285",
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
    )
    VALID = (
        "base = keras.applications.ResNet50()\nbase.trainable = True\nfor l in base.layers:\n"
        "    if isinstance(l, BatchNormalization):\n        l.trainable = False\n",
        "base = keras.applications.ResNet50()\nbase.trainable = False\ny = base(x)\n",
        "base = keras.applications.VGG16()\nbase.trainable = True\n",
    )
    INVALID = ("base = keras.applications.ResNet50()\nbase.trainable = False\ny = base(x, training=False)\n"
               "base.trainable = True\n",)
    required = ("trainable", patterns.BN_OR_APPLICATION_TEXT)
    triggers = (r"trainable\s*=\s*True", patterns.BN_OR_APPLICATION_USE)
    _REFREEZE = re.compile(r"isinstance\([^)]*BatchNorm")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        if self._REFREEZE.search(ctx.source):
            return  # the file singles out its BatchNormalization layers: assume it keeps them frozen
        loaded = {id(mc.receiver) for mc in ctx.flow.method_calls if mc.name == "load_weights"}
        seen: set[int] = set()
        for t in ctx.flow.trainable_sets:
            model = t.owner.model if isinstance(t.owner, PartOf) else t.owner
            if not isinstance(model, LayerObj) or literal(t.value) is not True or id(model) in seen:
                continue
            if not model.holds(BATCHNORM) or not _pretrained(model, loaded):
                continue  # a model trained from scratch has no statistics to lose
            seen.add(id(model))
            yield Hit(
                t.node,
                f"{model.kind} holds BatchNormalization and is unfrozen here: fit() will overwrite its "
                f"pre-trained moving statistics with those of the fine-tuning batches (in Keras 3 even when it "
                f"is called with training=False); set trainable=False again on its BatchNormalization layers",
            )
