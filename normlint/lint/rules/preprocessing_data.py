"""Input-normalization rules about the data: generators, scalers, and what evaluation is fed."""

from __future__ import annotations

from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.index import _target_names, dotted
from normlint.lint.nodes import KIND
from normlint.lint.context import FileContext, is_literal, keyword, literal
from normlint.lint.data_scaling import (EVAL_WORDS, GENERATOR_SCALING, SCALING, TRAIN_WORDS, data_arg, generator_scales,
                                        is_image_data_generator, method_calls, names_in,
                                        scaling, words)
from normlint.lint.keras_api import SCALERS
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.patterns import shared_trigger

FAMILY = "Input preprocessing"

_FLOWS = ("flow", "flow_from_directory", "flow_from_dataframe")
# where data enters a training script: without one in the file, the data's path cannot be followed
DATA_SOURCES = ("load_data", "np.load", "numpy.load", "read_csv", "read_parquet", "dataset_from_directory",
                "train_test_split", "ImageDataGenerator", "load_img", "tfds.load", "flow_from", "imread", "from_tensor_slices")
_SCALES = shared_trigger(lambda s: bool(SCALING.search(s)))  # NL705's and NL708's: one search a file
_FEATUREWISE = ("featurewise_center", "featurewise_std_normalization", "zca_whitening")


def _generators(ctx: FileContext) -> dict[str, cst.Call]:
    """name -> its ImageDataGenerator(...) construction (names bound once)."""
    out = {}
    for site in ctx.calls:
        if is_image_data_generator(ctx, site.node.func) and isinstance(site.assigned_to, cst.Name):
            out[site.assigned_to.value] = site.node
    return out


def _fit_calls(ctx: FileContext) -> Iterator[tuple[cst.Call, str]]:
    for site, receiver in method_calls(ctx, "fit", "fit_generator"):
        if site.node.args:
            yield site.node, receiver


class TrainEvalPreprocessingMismatch(Rule):
    code = "NL705"
    name = "train-eval-preprocessing-mismatch"
    summary = "Training data is scaled or normalized, and the validation/test data fed beside it is not."
    what = """
Flags the evaluation side of a training run whose training side is scaled:
- an `ImageDataGenerator` with `rescale=`/`preprocessing_function=`/standardization for the training
  flow of a `fit()`, and another generator for its `validation_data` (or for `evaluate()`/`predict()`)
  that scales nothing or scales differently (`preprocessing_function=preprocess_input` for training,
  `rescale=1/255` for validation); augmentation is not compared;
- `fit(x, validation_data=v)` where `x` is scaled (`/ 255`, a scaler's `transform`, a `.map()` of a
  normalizing function, a rescaling generator's flow) and `v` is data the file binds and never scales.
"""
    why = """
The model learns on one input distribution and is validated (early stopping, checkpoints, reported
accuracy) on another: validation metrics are wrong, often near chance, and a model selected on them is
worse. The usual cause is a second generator written as `ImageDataGenerator()` for the validation
directory, or a `.map(normalize)` applied to the training dataset only.
"""
    example = """
train_gen = ImageDataGenerator(rescale=1.0 / 255, horizontal_flip=True)
val_gen = ImageDataGenerator()
model.fit(train_gen.flow_from_directory("train"), validation_data=val_gen.flow_from_directory("val"))
"""
    use_instead = """
train_gen = ImageDataGenerator(rescale=1.0 / 255, horizontal_flip=True)
val_gen = ImageDataGenerator(rescale=1.0 / 255)
model.fit(train_gen.flow_from_directory("train"), validation_data=val_gen.flow_from_directory("val"))
"""
    references = (
        "https://keras.io/api/data_loading/ (the same preprocessing for every split)",
        "Humbatova et al., Taxonomy of Real Faults in Deep Learning Systems, ICSE 2020 (training-data "
        "preprocessing faults). https://arxiv.org/abs/1910.11015",
    )
    VALID = (
        "train_gen = ImageDataGenerator(rescale=1/255)\nval_gen = ImageDataGenerator(rescale=1/255)\n"
        "model.fit(train_gen.flow(x, y), validation_data=val_gen.flow(xv, yv))\n",
    )
    INVALID = (
        "train_gen = ImageDataGenerator(rescale=1/255)\nval_gen = ImageDataGenerator()\n"
        "model.fit(train_gen.flow(x, y), validation_data=val_gen.flow(xv, yv))\n",
        "(x_train, y_train), (x_val, y_val) = keras.datasets.cifar10.load_data()\nx_train = x_train / 255.0\n"
        "model.fit(x_train, y_train, validation_data=(x_val, y_val))\n",
    )
    required = ("fit", DATA_SOURCES)
    triggers = (lambda s: "ImageDataGenerator" in s or "validation_data" in s, _SCALES)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        yield from self._generators(ctx)
        data = scaling(ctx)
        for call, _ in _fit_calls(ctx):
            train, val = data_arg(call), keyword(call, "validation_data")
            if train is None or val is None or not data.is_scaled(train):
                continue
            first = val.elements[0].value if isinstance(val, (cst.Tuple, cst.List)) and val.elements else val
            if _from_generator(ctx, first):
                continue  # a generator's flow: the generator check above says it, once
            if data.is_raw(first):
                yield Hit(first, f"the training data of this fit() is scaled ({ctx.code(train)[:40]}) but "
                                 f"validation data {ctx.code(first)[:40]} is not: scale it the same way")

    def _generators(self, ctx: FileContext) -> Iterator[Hit]:
        gens = _generators(ctx)
        if len(gens) < 2:
            return
        pairs: list[tuple[str, str]] = []  # (training generator, evaluation generator)
        trainers: set[str] = set()
        for call, _ in _fit_calls(ctx):
            train = _generator_of(ctx, data_arg(call), gens)
            if train is None:
                continue
            trainers.add(train)
            val = _generator_of(ctx, keyword(call, "validation_data"), gens)
            if val is not None and val != train:
                pairs.append((train, val))
        if len(trainers) == 1:  # evaluate()/predict() on a generator's flow: against the one training generator
            (train,) = trainers
            for site, _ in method_calls(ctx, "evaluate", "predict", "evaluate_generator", "predict_generator"):
                other = _generator_of(ctx, data_arg(site.node), gens)
                if other is not None and other != train:
                    pairs.append((train, other))
        seen: set[str] = set()
        for train, other in pairs:
            if other in seen or not generator_scales(gens[train]):
                continue
            seen.add(other)
            if not generator_scales(gens[other]):
                yield Hit(gens[other], f"the evaluation generator {other!r} does not scale its images, but the "
                                       f"training generator {train!r} (line {{line}}) does: give it the same "
                                       f"rescale/preprocessing_function", related=gens[train])
            elif _signature(ctx, gens[other]) != _signature(ctx, gens[train]):
                yield Hit(gens[other], f"the evaluation generator {other!r} scales its images differently from the "
                                       f"training generator {train!r} (line {{line}}): give it the same "
                                       f"rescale/preprocessing_function", related=gens[train])


def _generator_of(ctx: FileContext, expr: cst.BaseExpression | None, gens: dict[str, cst.Call],
                  depth: int = 0) -> str | None:
    """The generator whose flow ``expr`` is (inline, or a name bound once to a flow)."""
    if expr is None or depth > 3:
        return None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _FLOWS:
        receiver = ctx.code(expr.func.value)
        return receiver if receiver in gens else None
    if isinstance(expr, cst.Name):
        values = ctx.index.assignments.get(expr.value, [])
        if len(values) == 1:
            return _generator_of(ctx, values[0], gens, depth + 1)
    return None


def _signature(ctx: FileContext, call: cst.Call) -> dict[str, object]:
    """What a generator does to every image (augmentation left out): its scaling keywords, by value."""
    out: dict[str, object] = {}
    for key in GENERATOR_SCALING:
        expr = keyword(call, key)
        value = literal(expr) if expr is not None else None
        if isinstance(value, float):
            value = round(value, 9)  # 1./255 and 1/255 are one rescale
        if expr is not None and value not in (None, False, 0):
            out[key] = value if is_literal(value) else ctx.code(expr)
    return out


def _from_generator(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    values = ctx.index.assignments.get(expr.value, []) if isinstance(expr, cst.Name) else [expr]
    return any(isinstance(v, cst.Call) and isinstance(v.func, cst.Attribute) and v.func.attr.value in _FLOWS
               for v in values)


def _nodes(ctx: FileContext, ids: set[int]) -> Iterator[cst.CSTNode]:
    for site in ctx.calls:
        for a in site.node.args:
            if id(a.value) in ids:
                yield a.value


class FeaturewiseGeneratorNeverFit(Rule):
    code = "NL706"
    name = "featurewise-generator-never-fit"
    summary = "ImageDataGenerator(featurewise_center / featurewise_std_normalization / zca_whitening) is never fit()."
    what = """
Flags an `ImageDataGenerator(featurewise_center=True)` (or `featurewise_std_normalization=True`,
`zca_whitening=True`) whose `.fit(x)` is never called in the file, or only after its first `.flow*()`.
"""
    why = """
Featurewise statistics are computed by `generator.fit(x_train)`. Without it the generator has no mean,
standard deviation or whitening matrix: Keras 2 warns ("this ImageDataGenerator specifies
`featurewise_center`, but it hasn't been fit on any training data") and passes the images through
unnormalized, so the model trains on data the code says is standardized.
"""
    example = """
datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
model.fit(datagen.flow(x_train, y_train, batch_size=32), epochs=10)
"""
    use_instead = """
datagen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True)
datagen.fit(x_train)
model.fit(datagen.flow(x_train, y_train, batch_size=32), epochs=10)
"""
    references = (
        "https://www.tensorflow.org/api_docs/python/tf/keras/preprocessing/image/ImageDataGenerator#fit",
        "keras-preprocessing image_data_generator.py: standardize() warns and skips without fit()",
    )
    VALID = ("g = ImageDataGenerator(featurewise_center=True)\ng.fit(x)\nit = g.flow(x, y)\n",
             "g = ImageDataGenerator(rescale=1/255)\nit = g.flow(x, y)\n")
    INVALID = ("g = ImageDataGenerator(featurewise_center=True)\nit = g.flow(x, y)\n",)
    required = ("ImageDataGenerator", ("featurewise", "zca_whitening"))
    triggers = (r"featurewise_\w+\s*=\s*True|zca_whitening\s*=\s*True",)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        order = {id(site.node): i for i, site in enumerate(ctx.calls)}
        for site, _ in method_calls(ctx, *_FLOWS):  # ImageDataGenerator(featurewise_center=True).flow(...)
            maker = site.node.func.value  # type: ignore[attr-defined]
            if isinstance(maker, cst.Call) and is_image_data_generator(ctx, maker.func):
                wanted = [k for k in _FEATUREWISE if literal(keyword(maker, k)) is True]
                if wanted:
                    yield Hit(maker, f"this ImageDataGenerator uses {', '.join(wanted)} but is never fit (it has no "
                                     f"name to call .fit(x_train) on): it passes images through unnormalized")
        for name, call in _generators(ctx).items():
            wanted = [k for k in _FEATUREWISE if literal(keyword(call, k)) is True]
            if not wanted:
                continue
            fits = [order[id(s.node)] for s, r in method_calls(ctx, "fit") if r == name]
            flows = [order[id(s.node)] for s, r in method_calls(ctx, *_FLOWS) if r == name]
            if fits and (not flows or min(fits) < min(flows)):
                continue
            when = "never called" if not fits else "called only after its first flow"
            yield Hit(call, f"ImageDataGenerator {name!r} uses {', '.join(wanted)} but {name}.fit(x_train) is "
                            f"{when}: it has no statistics and passes images through unnormalized")


def _scaler_names(ctx: FileContext) -> set[str]:
    out = set()
    for site in ctx.calls:
        if isinstance(site.assigned_to, cst.Name) and _is_scaler(ctx, site.node.func):
            out.add(site.assigned_to.value)
    return out


def _is_scaler(ctx: FileContext, func: cst.BaseExpression) -> bool:
    qual = ctx.names.qualname(func) or ""
    last = qual.rsplit(".", 1)[-1].lstrip("?")
    return last in SCALERS and (qual.startswith(("sklearn.", "?")) or qual.lstrip("?") == last)


def _rebound_between(ctx: FileContext, names: set[str], start: cst.CSTNode, end: cst.CSTNode) -> set[str]:
    """The names of ``names`` that an assignment after ``start`` and before ``end`` (source order, a notebook's
    cells in order) binds to a value that reads none of them: other data (``X = housing["data"]``), where
    ``X = X.astype(float)`` or ``X = X_scaled`` keep the data the scaler saw."""
    rebound: set[str] = set()
    after = False
    stack: list[cst.CSTNode] = [ctx.module]
    while stack:
        node = stack.pop()
        if node is end:
            break
        if node is start:
            after = True
            continue
        if after and KIND[type(node)] is cst.Assign:
            fresh = not names_in(node.value) & names  # type: ignore[attr-defined]
            for target in node.targets:  # type: ignore[attr-defined]
                for name in set(_target_names(target.target)) & names:  # X[0] = 1 or X.a = 1 rebind no X
                    if fresh:
                        rebound.add(name)
                    else:
                        rebound.discard(name)
        stack.extend(reversed(node.children))
    return rebound


class ScalerFitOnEvalData(Rule):
    code = "NL707"
    name = "scaler-fit-on-eval-data"
    summary = "A scikit-learn scaler is fit on test/validation data, or on all the data before train_test_split."
    what = """
Flags `fit`/`fit_transform` of a scikit-learn scaler (`StandardScaler`, `MinMaxScaler`, `RobustScaler`,
`MaxAbsScaler`, `Normalizer`, `QuantileTransformer`, `PowerTransformer`) when the data is named as test
or validation data (`X_test`, `x_val`, `valid_df`), or when it is fit on data that a later
`train_test_split` splits (the statistics then include the test rows). One array flattened for the
scaler and given its shape back (`scaler.fit_transform(img.reshape(-1, img.shape[-1])).reshape(img.shape)`,
each volume of a scan scaled by its own range) is a normalization of each sample, not flagged.
"""
    why = """
The scaler's mean/scale are part of the model. Fit on evaluation data, they leak it into training and
make evaluation optimistic; refit on the test set (`fit_transform(X_test)`), the test inputs are scaled
with other numbers than the training inputs. Fit the scaler on the training split only, then
`transform` every split.
"""
    example = """
scaler = StandardScaler()
X = scaler.fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
"""
    use_instead = """
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_test = scaler.transform(X_test)
"""
    references = (
        "https://scikit-learn.org/stable/common_pitfalls.html#data-leakage",
        "Kapoor & Narayanan, Leakage and the reproducibility crisis in ML-based science, 2023. "
        "https://arxiv.org/abs/2207.07048",
    )
    VALID = ("s = StandardScaler()\nXtr = s.fit_transform(X_train)\nXte = s.transform(X_test)\n",)
    INVALID = ("s = StandardScaler()\nXte = s.fit_transform(X_test)\n",
               "s = MinMaxScaler()\nX = s.fit_transform(X)\na, b, c, d = train_test_split(X, y)\n")
    required = (("Scaler", "Normalizer", "Transformer"), "fit")
    triggers = (r"\.fit(?:_transform)?\s*\(",)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        scalers = _scaler_names(ctx)
        order = {id(site.node): i for i, site in enumerate(ctx.calls)}
        splits = [(order[id(s.node)], data_arg(s.node), s.node) for s in ctx.calls
                  if (ctx.names.qualname(s.node.func) or "").rsplit(".", 1)[-1].lstrip("?") == "train_test_split"]
        for site, receiver in method_calls(ctx, "fit", "fit_transform"):
            func = site.node.func
            inline = isinstance(func, cst.Attribute) and isinstance(func.value, cst.Call) and _is_scaler(ctx, func.value.func)
            if receiver not in scalers and not inline:
                continue
            arg = data_arg(site.node, "X")
            if arg is None or _scaled_by_itself(ctx, site.node, arg):
                continue
            said = words(arg)
            leaked = sorted(said & EVAL_WORDS)
            if leaked and not said & TRAIN_WORDS:
                yield Hit(arg, f"the scaler is fit on evaluation data ({ctx.code(arg)[:40]}): fit it on the training "
                               f"split and only transform this one")
                continue
            fitted = names_in(arg) | ({site.assigned_to.value} if isinstance(site.assigned_to, cst.Name) else set())
            later = [(pos, a) for pos, a, split in splits if pos > order[id(site.node)] and a is not None
                     and names_in(a) & fitted - _rebound_between(ctx, fitted, site.node, split)]
            if later:
                yield Hit(arg, f"the scaler is fit on {ctx.code(arg)[:40]} before train_test_split splits it (line "
                               f"{{line}}): the test rows leak into its statistics; split first, fit on the training split",
                          related=later[0][1])


def _scaled_by_itself(ctx: FileContext, call: cst.Call, arg: cst.BaseExpression) -> bool:
    """``scaler.fit_transform(img.reshape(-1, img.shape[-1])).reshape(img.shape)``: one array flattened for
    the scaler, scaled by its own statistics and given its shape back (the BraTS tutorials' MinMax of each
    volume): a normalization of each sample, fit and applied to the same data, not statistics of a split."""
    if not (isinstance(arg, cst.Call) and isinstance(arg.func, cst.Attribute) and arg.func.attr.value == "reshape"):
        return False
    name = dotted(arg.func.value)
    if name is None:
        return False
    for site in ctx.calls:
        func = site.node.func
        if isinstance(func, cst.Attribute) and func.value is call and func.attr.value == "reshape":
            args = site.node.args
            return len(args) == 1 and dotted(args[0].value) == f"{name}.shape"
    return False


class UnscaledEvalInput(Rule):
    code = "NL708"
    name = "unscaled-eval-input"
    summary = "The model is trained on scaled data but evaluate()/predict() get raw data."
    what = """
Flags `model.evaluate(x)` / `model.predict(x)` when the same model's `fit()` gets scaled data (divided
by 255, a scaler's `transform`, a `Rescaling`/`Normalization` applied to the arrays, a normalizing
`.map()`) and `x` is data the file binds and never scales (the raw test split, a loaded image). In the
module's straight-line code (a notebook's cells) the assignment that reaches each read decides: a test
split predicted on in one cell and scaled only in a later one is flagged, a name bound to raw data here
and to scaled data in another cell is read as raw here.
"""
    why = """
Scaling done outside the model is part of the model's input contract: every array it sees must go
through the same steps. Raw test images (0-255) in a model trained on 0-1 inputs give confident,
wrong predictions and an evaluation accuracy that says nothing about the model. Put the scaling inside
the model (a `Rescaling` or adapted `Normalization` layer) to make it impossible to forget.
"""
    example = """
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train / 255.0
model.fit(x_train, y_train, epochs=5)
model.evaluate(x_test, y_test)
"""
    use_instead = """
(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
model.fit(x_train, y_train, epochs=5)
model.evaluate(x_test, y_test)
"""
    references = (
        "https://keras.io/guides/preprocessing_layers/ (preprocessing inside the model)",
        "Islam et al., A Comprehensive Study on Deep Learning Bug Characteristics, FSE 2019 "
        "(data-preprocessing bugs). https://arxiv.org/abs/1906.01388",
    )
    VALID = ("(x, y), (xt, yt) = mnist.load_data()\nx = x / 255.0\nxt = xt / 255.0\nm.fit(x, y)\nm.evaluate(xt, yt)\n",)
    INVALID = ("(x, y), (xt, yt) = mnist.load_data()\nx = x / 255.0\nm.fit(x, y)\nm.evaluate(xt, yt)\n",)
    required = ("fit", ("evaluate", "predict"), DATA_SOURCES)
    triggers = (r"\.(?:evaluate|predict)\s*\(", _SCALES)  # no scaling written: nothing to compare

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        data = scaling(ctx)
        trained_scaled: dict[str, cst.Call] = {}
        for call, receiver in _fit_calls(ctx):
            arg = data_arg(call)
            # a name bound to one model: a notebook that re-binds `model` to the next one is not followed
            if arg is not None and data.is_scaled(arg) and ctx.index.bind_counts[receiver] <= 1:
                trained_scaled.setdefault(receiver, call)
        if not trained_scaled:
            return
        for site, receiver in method_calls(ctx, "evaluate", "predict", "predict_on_batch", "test_on_batch"):
            arg = data_arg(site.node)
            if receiver in trained_scaled and arg is not None and data.is_raw(arg):
                yield Hit(arg, f"{receiver} is trained on scaled data (line {{line}}) but {ctx.code(arg)[:40]} "
                               f"reaches {site.node.func.attr.value}() unscaled: scale it the same way",  # type: ignore[attr-defined]
                          related=trained_scaled[receiver])
