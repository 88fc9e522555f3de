"""Text prefilter patterns shared by the rules.

A rule's ``required`` substrings are checked first (plain ``in``, the fast reject that most files
stop at); then its ``triggers`` must all match the raw source before the file is parsed for that rule, so each
pattern errs on the side of matching: it may let a file through that the rule then finds clean, but
must not hide a file the rule would flag.  A trigger is a regex (compiled with re.MULTILINE) or a
function of the source text.
"""

from __future__ import annotations

import re
from typing import Callable

# the arguments of a call, allowing one level of nested parentheses
_ARGS = r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)"


def use(names: str) -> str:
    """A use of one of ``names``: a call ``X(``, an import alias ``X as Y``, an alias ``Y = mod.X``."""
    return (
        rf"(?<!class )(?<!def )(?:{names})(?:\s*\(|\s+as\s+(?!(?:{names})\b)\w+)"
        rf"|=[ \t]*[\w.]*(?:{names})[ \t]*$"
    )


_BN_NAMES = r"BatchNormalization|layers\.batch_normalization|batch_norm"
_TF1_BN_IMPORT = r"|from\s+[\w.]*layers\s+import\s[^)\n]*\bbatch_normalization\b"
BN_USE = use(_BN_NAMES) + _TF1_BN_IMPORT
DROPOUT_USE = use(r"Dropout\w*|layers\.dropout|nn\.dropout")
NORM_NAMES = r"(?:Layer|Group|Unit|RMS)?Normalization"
NORM_USE = use(NORM_NAMES)
# axis=0, axis=[0, 1], axis=(1, 0), or a literal 0 / [0 ...] as the first positional argument
AXIS_ZERO = r"axis\s*=\s*(?:0\b|[\[(][^\])]*\b0\b)|^\s*(?:0\b|[\[(]\s*0\b)"
AXIS_NONZERO = r"axis\s*=\s*-?[1-9]|^\s*-?[1-9]"
# momentum literal below 0.5
SMALL_MOMENTUM = r"momentum\s*=\s*(?:0(?:\.[0-4]\d*)?|\.[0-4]\d*)(?![\d.])"
CATEGORICAL_LOSS = r"(?i:categorical_?crossentropy)"
# plain substrings for Rule.required
BN_TEXT = ("BatchNorm", "batch_norm")
NORM_TEXT = ("Normalization", "batch_norm")


def _alias(names: str) -> str:
    return rf"(?:{names})\s+as\s+(?!(?:{names})\b)\w+|=[ \t]*[\w.]*(?:{names})[ \t]*$"


def call_with(names: str, arg: str) -> Callable[[str], bool]:
    """True when some ``X(...)`` call of ``names`` has ``arg`` among its arguments.

    When the file aliases the symbol (``import X as Y``, ``Y = layers.X``) the call cannot be found by
    text, so any ``arg`` anywhere is enough.
    """
    call_re = re.compile(rf"(?<!class )(?<!def )(?:{names})\s*{_ARGS}")
    alias_re = re.compile(_alias(names), re.M)
    arg_re = re.compile(arg, re.M)

    def matches(source: str) -> bool:
        if any(arg_re.search(m.group(1)) for m in call_re.finditer(source)):
            return True
        return bool(alias_re.search(source) and arg_re.search(source))

    return matches


def call_without(names: str, forbidden: str) -> Callable[[str], bool]:
    """True when some ``X(...)`` call of ``names`` lacks ``forbidden`` in its arguments (or X is aliased)."""
    call_re = re.compile(rf"(?<!class )(?<!def )(?:{names})\s*{_ARGS}")
    alias_re = re.compile(_alias(names), re.M)
    forbidden_re = re.compile(forbidden)

    def matches(source: str) -> bool:
        if any(not forbidden_re.search(m.group(1)) for m in call_re.finditer(source)):
            return True
        return bool(alias_re.search(source))

    return matches


CONV_DENSE_NAMES = r"Conv\w*|Dense|layers\.conv[123]d\w*|layers\.dense|layers\.separable_conv2d"
# a Conv/Dense call that keeps its bias and has no activation of its own
CONV_WITH_BIAS = call_without(
    CONV_DENSE_NAMES, r"use_bias\s*=|activation\s*=\s*(?!None\b|[\"']linear)|Dense\s*\(\s*\w+\s*,\s*[\w\"']"
)
CONV_CHANNELS_FIRST = call_with(CONV_DENSE_NAMES, r"data_format\s*=\s*[\"']channels_first")
BN_WITH_AXIS_ZERO = call_with(_BN_NAMES + r"|batch_normalization", AXIS_ZERO)
BN_WITH_AXIS_NONZERO = call_with(_BN_NAMES + r"|batch_normalization", AXIS_NONZERO)
BN_WITH_SMALL_MOMENTUM = call_with(_BN_NAMES + r"|batch_normalization", SMALL_MOMENTUM)
NORM_WITH_AXIS_ZERO = call_with(NORM_NAMES, AXIS_ZERO + r"|^\s*\w+\s*,\s*(?:0\b|[\[(]\s*0\b)")

# a Dense call with a sigmoid whose first argument is not the literal 1, or an Activation("sigmoid")
_SIGMOID_DENSE = call_with(r"Dense", r"^(?!\s*(?:units\s*=\s*)?1\s*[,)]?\s*(?:,|$))[\s\S]*sigmoid")
_SIGMOID_ACTIVATION = re.compile(r"Activation\s*\(\s*[\w.]*[\"']?sigmoid")


def SIGMOID_HEAD(source: str) -> bool:  # noqa: N802 - reads like the other pattern constants
    return bool(_SIGMOID_ACTIVATION.search(source)) or _SIGMOID_DENSE(source)


FIT_WITH_BATCH_SIZE = call_with(r"\.fit", r"batch_size\s*=\s*\d")
