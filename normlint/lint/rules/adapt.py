"""Rules about the preprocessing ``Normalization`` layer's statistics (``adapt``)."""

from __future__ import annotations

from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import CallSite, FileContext
from normlint.lint.data_scaling import EVAL_WORDS, TRAIN_WORDS
from normlint.lint.data_scaling import words as data_words
from normlint.lint.names import dotted
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule

FAMILY = "Input normalization statistics"


def adapt_calls(ctx: FileContext) -> Iterator[CallSite]:
    for site in ctx.calls:
        func = site.node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "adapt":
            yield site


def _receiver_key(expr: cst.BaseExpression) -> str | None:
    """'norm' / 'self.norm' for a plain name chain, None for model.layers[0] and the like."""
    return dotted(expr)


class NormalizationNeverAdapted(Rule):
    code = "NL301"
    name = "normalization-never-adapted"
    summary = "A Normalization layer has neither mean/variance nor an adapt() call in the file."
    what = """
Flags `keras.layers.Normalization()` built without `mean=` and `variance=` whose object is never
`.adapt()`-ed in the same file.
"""
    why = """
An un-adapted Normalization layer has mean 0 and variance 1 (Keras 3 builds it that way without an
error), so it passes the data through unchanged: the model trains on raw values while the code reads as
if inputs were standardized.
"""
    example = """
norm = layers.Normalization()
model = keras.Sequential([norm, layers.Dense(10)])
model.fit(x_train, y_train)
"""
    use_instead = """
norm = layers.Normalization()
norm.adapt(x_train)
model = keras.Sequential([norm, layers.Dense(10)])
model.fit(x_train, y_train)
"""
    references = ("https://keras.io/api/layers/preprocessing_layers/numerical/normalization/",)
    VALID = (
        "n = Normalization()\nn.adapt(x_train)\n",
        "n = Normalization(mean=0.5, variance=0.25)\n",
    )
    INVALID = ("n = Normalization()\nmodel = Sequential([n, Dense(1)])\n",)
    required = ("Normalization",)
    _NORMALIZATION = patterns.Symbol(("Normalization", ""), whole_word=True)

    @classmethod
    def may_match(cls, source: str) -> bool:
        """Some Normalization(...) call without mean/variance (or an alias we cannot follow by text)."""
        if not super().may_match(source):
            return False
        n = cls._NORMALIZATION
        return n.aliased(source) or any("mean" not in args and "variance" not in args for args in n.calls(source))

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        order = {id(site.node): i for i, site in enumerate(ctx.calls)}  # source order
        adapts: list[tuple[int, str]] = []  # (position, receiver) of each adapt() call
        opaque_adapt = False
        for site in adapt_calls(ctx):
            key = _receiver_key(site.node.func.value)  # type: ignore[attr-defined]
            if key is None:
                opaque_adapt = True
            else:
                adapts.append((order[id(site.node)], key))
        constructions = [site for site in ctx.calls if ctx.names.layer_class(site.node.func) == "Normalization"]
        built_at: dict[str, list[int]] = {}  # where each name is bound to a fresh Normalization
        for site in constructions:
            target = _receiver_key(site.assigned_to) if site.assigned_to is not None else None
            if target is not None:
                built_at.setdefault(target, []).append(order[id(site.node)])
        for site in constructions:
            args = [a for a in site.node.args if a.keyword is None and not a.star]
            keywords = {a.keyword.value for a in site.node.args if a.keyword is not None}
            if {"mean", "variance"} & keywords or len(args) >= 2 or any(a.star for a in site.node.args):
                continue
            if opaque_adapt:
                continue  # model.layers[0].adapt(...) and the like: cannot tell which layer
            target = _receiver_key(site.assigned_to) if site.assigned_to is not None else None
            if site.assigned_to is not None and target is None and adapts:
                continue  # bound to something we cannot name (tuple, subscript) and some adapt() exists
            if target is not None and _adapted(target, order[id(site.node)], built_at[target], adapts):
                continue
            what = f"Normalization layer '{target}'" if target else "this Normalization layer"
            yield Hit(
                site.node,
                f"{what} is never adapted and has no mean/variance: it passes data "
                f"through unchanged; call .adapt(training_data) or pass mean= and variance=",
            )


def _adapted(target: str, at: int, builds: list[int], adapts: list[tuple[int, str]]) -> bool:
    """An adapt() on the layer bound to ``target`` at position ``at``. A name bound once: any adapt on
    it counts (a helper defined above may adapt it). Re-bound to a fresh Normalization: only an adapt
    between this binding and the next one adapts this layer (the old one was adapted, the new is not)."""
    short = target.rsplit(".", 1)[-1]
    on_it = [pos for pos, key in adapts if key == target or key.rsplit(".", 1)[-1] == short]
    if len(builds) < 2:
        return bool(on_it)
    later = [b for b in builds if b > at]
    end = min(later) if later else None
    return any(pos > at and (end is None or pos < end) for pos in on_it)


class AdaptOnEvaluationData(Rule):
    code = "NL302"
    name = "adapt-on-evaluation-data"
    summary = "adapt() is fed test/validation data: evaluation statistics leak into the model."
    what = """
Flags `.adapt(...)` whose data is named like evaluation data: `test`, `val`, `valid`, `validation`,
`eval`, `holdout` as a word of the variable, attribute or key (`x_test`, `val_ds`, `data["valid"]`).
A name that also says `train` (`train_val_split[0]`) names both sides of a split and is left alone.
"""
    why = """
`adapt()` computes the normalization statistics that become part of the model. Computing them on the
test or validation set leaks information from the evaluation data into training, so the reported
validation score is optimistic and the model's statistics do not match the data it was trained on.
"""
    example = """
norm = layers.Normalization()
norm.adapt(x_test)
"""
    use_instead = """
norm = layers.Normalization()
norm.adapt(x_train)
"""
    references = (
        "https://keras.io/api/layers/preprocessing_layers/numerical/normalization/",
        "Kaufman et al., Leakage in Data Mining, TKDD 2012.",
    )
    VALID = ("norm.adapt(x_train)\n", "norm.adapt(contest_images)\n")
    INVALID = ("norm.adapt(x_test)\n", "norm.adapt(val_ds.map(lambda x, y: x))\n")
    required = (".adapt",)
    triggers = (r"\.adapt\s*\([^)]*?(?i:test|val|eval|holdout)",)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for site in adapt_calls(ctx):
            data = next((a.value for a in site.node.args if a.keyword is None or a.keyword.value == "data"), None)
            if data is None:
                continue
            words = data_words(data)
            leaked = sorted(words & EVAL_WORDS)
            if leaked and not words & TRAIN_WORDS:  # x_train_val_split[0]: a split that names both sides
                yield Hit(
                    data,
                    f"adapt() on evaluation data ({leaked[0]!r} in {ctx.code(data)[:40]!r}) leaks its "
                    f"statistics into the model: adapt on the training split",
                )
