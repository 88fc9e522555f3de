"""Keras 1 and Keras 2 spellings, read as today's Keras: the names of the rules' world.

Tutorials and widely copied repositories still build models with Keras 1 keywords
(``Convolution2D(nb_filter, 3, 3, border_mode="same", bias=False)``,
``BatchNormalization(mode=0, axis=1)``, ``Dense(output_dim, init=..., W_regularizer=...)``) and import
layers from module paths that no longer exist (``keras.layers.normalization``,
``keras.layers.convolutional``, ``keras.layers.core``...; names.canonicalize maps those).
``modernize`` rewrites one call's keywords to the Keras 3 names the rules read, so
``bias=False`` means no bias and ``dim_ordering="th"`` means channels_first.
"""

from __future__ import annotations

from normlint.lint.nodes import made_string
from normlint.lint.syntax import cst

# keywords that only Keras 1 had (any of them marks a call as Keras 1)
KERAS1_KEYWORDS = frozenset({
    "border_mode", "nb_filter", "nb_row", "nb_col", "nb_depth", "init", "W_regularizer", "b_regularizer",
    "W_constraint", "b_constraint", "subsample", "dim_ordering", "mode", "output_dim", "bias", "beta_init",
    "gamma_init", "atrous_rate", "inner_init", "forget_bias_init",
})
_RENAMES = {
    "bias": "use_bias",
    "border_mode": "padding",
    "subsample": "strides",
    "nb_filter": "filters",
    "output_dim": "units",
    "init": "kernel_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "beta_init": "beta_initializer",
    "gamma_init": "gamma_initializer",
}
_DIM_ORDERING = {"th": "channels_first", "tf": "channels_last"}
# Keras 1 class names whose positional arguments are (nb_filter, nb_row, nb_col[, nb_depth])
_KERAS1_CONV = frozenset({"Convolution2D", "Convolution3D", "AtrousConvolution2D", "Deconvolution2D",
                          "Deconvolution3D", "SeparableConvolution2D"})


def is_keras1(call: cst.Call, kind: str | None = None) -> bool:
    """The call uses a Keras 1 keyword, or ``Convolution2D(64, 3, 3)`` with the kernel as two numbers."""
    if any(a.keyword is not None and a.keyword.value in KERAS1_KEYWORDS for a in call.args):
        return True
    if kind in _KERAS1_CONV:
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        rank = 3 if kind.endswith("3D") else 2
        return len(positional) > rank and all(isinstance(p, cst.Integer) for p in positional[1: rank + 1])
    return False


def modernize(call: cst.Call, kind: str, args: list[cst.BaseExpression], kwargs: dict[str, cst.BaseExpression]
              ) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
    """Today's keywords for a Keras 1 call (positional arguments past the first are not read: their
    meaning changed between versions)."""
    if not is_keras1(call, kind):
        return args, kwargs
    out: dict[str, cst.BaseExpression] = {}
    for key, value in kwargs.items():
        if key == "dim_ordering":
            if isinstance(value, cst.SimpleString) and value.evaluated_value in _DIM_ORDERING:
                out["data_format"] = made_string(_DIM_ORDERING[str(value.evaluated_value)])
            continue
        out.setdefault(_RENAMES.get(key, key), value)
    return args[:1], out
