"""What a layer object is, whichever framework built it: the questions the rules ask of ``LayerObj.kind``.

Keras and PyTorch spell the same concept differently (``BatchNormalization`` / ``BatchNorm2d``) and some
names collide (both have a ``Dropout``), so a kind is read with the framework that made it.
"""

from __future__ import annotations

from normlint.lint import keras_api, torch_api
from normlint.lint.graph import LayerObj

_KERAS_WEIGHTED = keras_api.CONV | keras_api.DENSE | frozenset({
    "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "TimeDistributed", "ConvLSTM1D", "ConvLSTM2D",
    "ConvLSTM3D", "LocallyConnected1D", "LocallyConnected2D", "MultiHeadAttention", "GroupQueryAttention",
    "Highway", "MaxoutDense", "CuDNNLSTM", "CuDNNGRU",
})
_KERAS_BARRIERS = frozenset({"LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization"})


def is_torch(layer: LayerObj) -> bool:
    return layer.framework == "torch"


# is_torch() written out below: these are asked of every layer on every path the rules walk


def is_batchnorm(layer: LayerObj) -> bool:
    return layer.kind in (torch_api.BATCHNORM if layer.framework == "torch" else keras_api.BATCHNORM)


def is_dropout(layer: LayerObj) -> bool:
    return layer.kind in (torch_api.DROPOUT if layer.framework == "torch" else keras_api.DROPOUT)


def is_weighted(layer: LayerObj) -> bool:
    """A layer with weights of its own (Conv, Dense/Linear, RNN, Embedding, attention)."""
    return layer.kind in (torch_api.WEIGHTED if layer.framework == "torch" else _KERAS_WEIGHTED)


def is_other_normalization(layer: LayerObj) -> bool:
    """A normalization that is not a BatchNorm (LayerNorm, GroupNorm...): what is above it is its question."""
    return layer.kind in (torch_api.BARRIERS if layer.framework == "torch" else _KERAS_BARRIERS)


def is_biased_projection(layer: LayerObj) -> bool:
    """Conv*/Dense (Keras) or Conv*/Linear (PyTorch): a layer whose bias a following BatchNorm cancels."""
    if is_torch(layer):
        return layer.kind in torch_api.CONV or layer.kind in ("Linear", "LazyLinear")
    return layer.kind in keras_api.CONV or layer.kind in keras_api.DENSE


def batchnorm_word(layer: LayerObj) -> str:
    """How a message names the BatchNorm: Keras's class name, or PyTorch's own (BatchNorm2d)."""
    return layer.kind if is_torch(layer) else "BatchNormalization"
