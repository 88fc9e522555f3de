"""Text prefilter patterns shared by the rules.

A rule's ``required`` substrings are checked first (plain ``in``, the fast reject that most files stop
at); then its ``triggers`` must all match the raw source before the file is parsed for that rule. Each
trigger errs on the side of matching: it may let a file through that the rule then finds clean, but
must not hide a file the rule would flag. A trigger is a regex (compiled with re.MULTILINE) or a
function of the source text.

Every regex here starts with a literal word: CPython's ``re`` then scans for that literal at C speed,
while a pattern that starts with a look-behind, a class or an alternation is tried at every position
(10-100x slower on a large file). Context that would need a look-behind is checked in Python instead.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from normlint.lint.keras_api import APPLICATIONS

_PAREN = re.compile(r"[()]")
Matcher = Callable[[str], bool]


def shared_trigger(test: Matcher) -> Matcher:
    """``test`` run once a file whichever rules use it (several rules ask whether BatchNorm is used): its
    answer for the last source it read is kept (the source compared by identity)."""
    last: list[Any] = [None, False]

    def remembered(source: str) -> bool:
        if last[0] is not source:
            last[0], last[1] = source, test(source)
        return bool(last[1])
    return remembered


def call_arguments(source: str, open_paren: int) -> str:
    """The text between ``source[open_paren]`` (a "(") and its matching ")", at any depth of nesting.

    Parentheses inside strings are counted too: that can only widen the text returned (up to the end of
    the file when nothing closes), which errs on the side of matching, as a trigger must.
    """
    depth = 0
    for m in _PAREN.finditer(source, open_paren):
        depth += 1 if m.group() == "(" else -1
        if depth == 0:
            return source[open_paren + 1: m.start()]
    return source[open_paren + 1:]


class Symbol:
    """Uses of an API name by text: ``literal`` followed by ``suffix`` (e.g. ``Conv`` + ``\\w*``)."""

    def __init__(self, *specs: tuple[str, str], whole_word: bool = False) -> None:
        self.specs = specs
        self.whole_word = whole_word  # the literal must not continue a longer name (BatchNormalization)
        follow = r"(?:\s*(?P<call>\()|\s+as\s+(?P<alias>\w+)|(?P<eol>[ \t]*$))"
        self._res = [re.compile(re.escape(lit) + suffix + follow, re.M) for lit, suffix in specs]

    def _matches(self, source: str) -> Iterator[re.Match[str]]:
        for regex in self._res:
            for m in regex.finditer(source):
                before = source[max(0, m.start() - 6): m.start()]
                if before.endswith(("class ", "def ")) or (self.whole_word and before[-1:].isidentifier()):
                    continue
                yield m

    def calls(self, source: str) -> Iterator[str]:
        """The argument text of each call ``X(...)``."""
        for m in self._matches(source):
            if m.group("call") is not None:
                yield call_arguments(source, m.start("call"))

    def aliased(self, source: str) -> bool:
        """``import X as Y`` (Y not X) or ``Y = mod.X`` at the end of a line: calls then read ``Y(...)``."""
        for m in self._matches(source):
            alias = m.group("alias")
            if alias is not None and alias != m.group(0).split()[0]:
                return True
            if m.group("eol") is not None:
                line_start = source.rfind("\n", 0, m.start()) + 1
                if "=" in source[line_start: m.start()]:
                    return True
        return False

    def used(self, source: str) -> bool:
        """Called somewhere (its arguments are not read), or aliased."""
        return any(m.group("call") is not None for m in self._matches(source)) or self.aliased(source)

    def call_with(self, arg: str) -> Matcher:
        """Some call has ``arg`` in its arguments (or the symbol is aliased and ``arg`` occurs anywhere)."""
        arg_re = re.compile(arg, re.M)

        def matches(source: str) -> bool:
            if any(arg_re.search(args) for args in self.calls(source)):
                return True
            return self.aliased(source) and bool(arg_re.search(source))

        return matches

    def call_without(self, forbidden: str) -> Matcher:
        """Some call lacks ``forbidden`` in its arguments (or the symbol is aliased)."""
        forbidden_re = re.compile(forbidden)

        def matches(source: str) -> bool:
            return any(not forbidden_re.search(args) for args in self.calls(source)) or self.aliased(source)

        return matches


# TF1: tf.layers.batch_normalization, tf.compat.v1.layers..., tf.contrib.layers.batch_norm
# PyTorch: nn.BatchNorm1d/2d/3d, SyncBatchNorm, LazyBatchNorm2d, F.batch_norm
BN = Symbol(("BatchNorm", r"(?:alization|[123]d)"), ("SyncBatchNorm", ""), ("layers.batch_norm", r"(?:alization)?"),
            (".batch_norm", ""))
_TF1_BN_IMPORT = re.compile(r"from\s+[\w.]*layers\s+import\s[^\n]*\bbatch_norm")
DROPOUT = Symbol(("Dropout", r"\w*"), ("layers.dropout", ""), ("nn.dropout", ""), (".dropout", r"\w*"))
_TF1_DROPOUT_IMPORT = re.compile(r"from\s+[\w.]*(?:layers|nn)\s+import\s[^\n]*\bdropout")
CONV_DENSE = Symbol(
    ("Conv", r"\w*"), ("Dense", ""), ("layers.conv", r"[123]d\w*"), ("layers.dense", ""), ("layers.separable_conv2d", "")
)
TORCH_LINEAR = Symbol(("Linear", ""), ("LazyLinear", ""))
NORM = Symbol(("Normalization", ""))  # also matches Layer/Group/Unit/RMS/BatchNormalization: a superset
DENSE = Symbol(("Dense", ""))
FIT = Symbol((".fit", ""))
COMPILE = Symbol((".compile", ""))


@shared_trigger
def BN_USE(source: str) -> bool:  # noqa: N802 - reads like the other pattern constants
    return BN.used(source) or bool(_TF1_BN_IMPORT.search(source))


@shared_trigger
def DROPOUT_USE(source: str) -> bool:  # noqa: N802
    return DROPOUT.used(source) or bool(_TF1_DROPOUT_IMPORT.search(source))


# keras.applications models (ResNet50, MobileNetV2, ...) hold BatchNormalization the file never names
APPLICATIONS_TEXT = "applications"
# the keras.applications models that hold BatchNormalization (not VGG, not ConvNeXt): a call or an import
# of one always spells its class name
_BN_APPLICATIONS = tuple(name for name, held in APPLICATIONS.items() if "BatchNormalization" in held)


@shared_trigger
def BN_OR_APPLICATION_USE(source: str) -> bool:  # noqa: N802
    if APPLICATIONS_TEXT in source and any(name in source for name in _BN_APPLICATIONS):
        return True
    return BN_USE(source)


@shared_trigger
def NORM_USE(source: str) -> bool:  # noqa: N802
    return NORM.used(source) or BN.used(source)


# a PyTorch file: it imports torch, torchvision or Lightning (the mode rules speak only there)
_TORCH_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(?:torch|torchvision|pytorch_lightning|lightning)\b"
                           r"|import[ \t][^\n]*\b(?:torch|torchvision|pytorch_lightning|lightning)\b)", re.M)


@shared_trigger
def TORCH_IMPORT(source: str) -> bool:  # noqa: N802
    return ("torch" in source or "lightning" in source) and bool(_TORCH_IMPORT.search(source))


# PyTorch's own BatchNorm spellings (Keras never writes these): one regex each, so each opens with its literal
_TORCH_BN = tuple(re.compile(p) for p in (r"BatchNorm[123]d", r"SyncBatchNorm\b", r"batch_norm\s*\("))


@shared_trigger
def TORCH_BN(source: str) -> bool:  # noqa: N802
    return any(r.search(source) for r in _TORCH_BN)


# A value may sit in a name (axis=CHANNEL_AXIS), an expression (momentum=1 - 0.9) or a constant dict
# (**cfg) that the rules evaluate (normlint.lint.constants): the triggers let those through.
# a bare name (not self.x, obj.attr or a call: constants are module/function names), maybe negated or
# subscripted (cfg["momentum"]), or a parenthesized expression
_HELD = r"-?\s*(?!self\b)[A-Za-z_]\w*(?![\w.(])|\("
_KWARGS = r"|\*\*"
# axis=0, axis=[0, 1], axis=(1, 0), or a literal 0 / [0 ...] as the first positional argument
AXIS_ZERO = r"axis\s*=\s*(?:0\b|[\[(][^\])]*\b0\b|" + _HELD + r")|\A\s*(?:0\b|[\[(]\s*0\b)" + _KWARGS
AXIS_NONZERO = r"axis\s*=\s*(?:-?[1-9]|" + _HELD + r")|\A\s*-?[1-9]" + _KWARGS
# momentum literal below 0.5 (or held in a name / expression)
SMALL_MOMENTUM = r"momentum\s*=\s*(?:0(?:\.[0-4]\d*)?(?![\d.])|\.[0-4]\d*(?![\d.])|" + _HELD + r"|1\s*-)" + _KWARGS
CATEGORICAL_LOSS = r"ategorical_?[Cc]rossentropy"
# plain substrings for Rule.required
BN_TEXT = ("BatchNorm", "batch_norm")
BN_OR_APPLICATION_TEXT = BN_TEXT + (APPLICATIONS_TEXT,)
NORM_TEXT = ("Normalization", "batch_norm", "BatchNorm")

# after `from tensorflow.compat.v1.layers import batch_normalization` the calls are bare
_BN_CALLS = Symbol(("BatchNormalization", ""), ("batch_norm", r"(?:alization)?"))
# functools.partial(layers.BatchNormalization, momentum=0.1): the keywords sit in the partial call
_PARTIAL_NORM = re.compile(r"partial\s*\(\s*[\w.]*(?:Normalization|batch_norm)")


def _or_partial(matcher: Matcher) -> Matcher:
    return lambda source: matcher(source) or ("partial" in source and bool(_PARTIAL_NORM.search(source)))


BN_WITH_AXIS_ZERO = _or_partial(_BN_CALLS.call_with(AXIS_ZERO))
BN_WITH_AXIS_NONZERO = _or_partial(_BN_CALLS.call_with(AXIS_NONZERO))
BN_WITH_SMALL_MOMENTUM = _or_partial(_BN_CALLS.call_with(SMALL_MOMENTUM))
# GroupNormalization(groups, axis): the axis may also be the second positional argument
NORM_WITH_AXIS_ZERO = _or_partial(NORM.call_with(AXIS_ZERO + r"|\A\s*\w+\s*,\s*(?:0\b|[\[(]\s*0\b)"))
# a Conv/Dense call that keeps its bias and has no activation of its own
_CONV_WITH_BIAS = CONV_DENSE.call_without(r"use_bias\s*=|\bbias\s*=\s*False\b|activation\s*=\s*(?!None\b|[\"']linear)")
_LINEAR_WITH_BIAS = TORCH_LINEAR.call_without(r"\bbias\s*=\s*False\b")
_TF1_CONV_IMPORT = re.compile(r"from\s+[\w.]*layers\s+import\s[^\n]*\b(?:conv|dense|separable_conv)")


@shared_trigger
def CONV_WITH_BIAS(source: str) -> bool:  # noqa: N802
    return _CONV_WITH_BIAS(source) or bool(_TF1_CONV_IMPORT.search(source)) or _LINEAR_WITH_BIAS(source)


CONV_CHANNELS_FIRST = CONV_DENSE.call_with(
    r"data_format\s*=\s*(?:[\"']channels_first|" + _HELD + r")|dim_ordering\s*=\s*(?:[\"']th|" + _HELD + r")" + _KWARGS)
FIT_WITH_BATCH_SIZE = FIT.call_with(r"batch_size\s*=\s*(?:\d|" + _HELD + r")")
# NL702 reads the loss written in compile(...) itself (a string, a loss class or function)
COMPILE_WITH_CATEGORICAL_LOSS = COMPILE.call_with(CATEGORICAL_LOSS)
# a Dense call with a sigmoid whose first argument is not the literal 1, or an Activation("sigmoid")
_SIGMOID_DENSE = DENSE.call_with(r"\A(?!\s*(?:units\s*=\s*)?1\s*(?:,|\Z))[\s\S]*sigmoid")
_SIGMOID_ACTIVATION = re.compile(r"Activation\s*\(\s*[\w.]*[\"']?sigmoid")


def SIGMOID_HEAD(source: str) -> bool:  # noqa: N802
    return bool(_SIGMOID_ACTIVATION.search(source)) or _SIGMOID_DENSE(source)
