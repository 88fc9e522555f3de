"""Static knowledge of the PyTorch / torchvision API surface that the rules talk about.

Nothing here imports torch: the names were read once from ``torch.nn`` (torch 2.13) and torchvision's
transforms, and are kept as plain data so that linting needs no PyTorch install.
"""

from __future__ import annotations

from normlint.lint.syntax import cst

MODULE_CLASSES = frozenset(
    """
AdaptiveAvgPool1d AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveLogSoftmaxWithLoss AdaptiveMaxPool1d AdaptiveMaxPool2d
AdaptiveMaxPool3d AlphaDropout AvgPool1d AvgPool2d AvgPool3d BCELoss BCEWithLogitsLoss BatchNorm1d BatchNorm2d
BatchNorm3d Bilinear CELU CTCLoss ChannelShuffle CircularPad1d CircularPad2d CircularPad3d ConstantPad1d
ConstantPad2d ConstantPad3d Container Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d
CosineEmbeddingLoss CosineSimilarity CrossEntropyLoss CrossMapLRN2d DataParallel Dropout Dropout1d Dropout2d
Dropout3d ELU Embedding EmbeddingBag FeatureAlphaDropout Flatten Fold FractionalMaxPool2d FractionalMaxPool3d GELU
GLU GRU GRUCell GaussianNLLLoss GroupNorm Hardshrink Hardsigmoid Hardswish Hardtanh HingeEmbeddingLoss HuberLoss
Identity InstanceNorm1d InstanceNorm2d InstanceNorm3d KLDivLoss L1Loss LPPool1d LPPool2d LPPool3d LSTM LSTMCell
LayerNorm LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d LazyConv1d LazyConv2d LazyConv3d LazyConvTranspose1d
LazyConvTranspose2d LazyConvTranspose3d LazyInstanceNorm1d LazyInstanceNorm2d LazyInstanceNorm3d LazyLinear
LeakyReLU Linear LocalResponseNorm LogSigmoid LogSoftmax MSELoss MarginRankingLoss MaxPool1d MaxPool2d MaxPool3d
MaxUnpool1d MaxUnpool2d MaxUnpool3d Mish Module ModuleDict ModuleList MultiLabelMarginLoss
MultiLabelSoftMarginLoss MultiMarginLoss MultiheadAttention NLLLoss NLLLoss2d PReLU PairwiseDistance ParameterDict
ParameterList PixelShuffle PixelUnshuffle PoissonNLLLoss RMSNorm RNN RNNBase RNNCell RNNCellBase RReLU ReLU ReLU6
ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d ReplicationPad3d SELU Sequential
SiLU Sigmoid SmoothL1Loss SoftMarginLoss Softmax Softmax2d Softmin Softplus Softshrink Softsign SyncBatchNorm Tanh
Tanhshrink Threshold Transformer TransformerDecoder TransformerDecoderLayer TransformerEncoder
TransformerEncoderLayer TripletMarginLoss TripletMarginWithDistanceLoss Unflatten Unfold Upsample
UpsamplingBilinear2d UpsamplingNearest2d ZeroPad1d ZeroPad2d ZeroPad3d
""".split()
)
# Base classes a user subclasses to write a module (any torch.nn module class is one too).
SUBCLASS_BASES = frozenset({"Module", "Sequential", "ModuleList", "ModuleDict", "Container"})

BATCHNORM = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                       "LazyBatchNorm3d", "SyncBatchNorm", "batch_norm"})
# modules that hold parameters, buffers or a train/eval behaviour: one built in forward() is a new one
# each call, unregistered (not trained, saved, moved or switched by eval()); the rest are stateless
_STATELESS = frozenset(
    n for n in MODULE_CLASSES
    if n.endswith(("Loss", "Pool1d", "Pool2d", "Pool3d", "Pad1d", "Pad2d", "Pad3d"))
    or n in {"CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
             "LogSigmoid", "LogSoftmax", "Mish", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax",
             "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold",
             "Flatten", "Unflatten", "Identity", "Fold", "Unfold", "Upsample", "UpsamplingBilinear2d",
             "UpsamplingNearest2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "CosineSimilarity",
             "PairwiseDistance", "Module", "Container", "NLLLoss2d"}
)
STATEFUL_MODULES = MODULE_CLASSES - _STATELESS

# momentum, by position, in each BatchNorm's signature (num_features, eps, momentum, ...)
MOMENTUM_POSITION = {**{k: 2 for k in BATCHNORM}, "LazyBatchNorm1d": 1, "LazyBatchNorm2d": 1, "LazyBatchNorm3d": 1}
DROPOUT = frozenset({"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                     "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"})
CONV = frozenset(n for n in MODULE_CLASSES if n.startswith(("Conv", "LazyConv")))
LINEAR = frozenset({"Linear", "LazyLinear", "Bilinear"})
WEIGHTED = CONV | LINEAR | frozenset({"Embedding", "EmbeddingBag", "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell",
                                      "RNNCell", "MultiheadAttention", "Transformer", "TransformerEncoder",
                                      "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer"})
# normalizations that end a "what feeds this BatchNorm" question
BARRIERS = frozenset({"LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "RMSNorm",
                      "LocalResponseNorm", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d",
                      "layer_norm", "group_norm", "instance_norm", "rms_norm"})
# torch.nn.functional calls read as layers applied where they are called
FUNCTIONAL = frozenset(
    {"batch_norm", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"})

# nn.Module methods that return the module itself: ``Net().to(device)`` is still the Net
SELF_RETURNING = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "eval",
                            "requires_grad_", "apply", "type", "to_empty", "share_memory"})


def module_class(canon: str | None) -> str | None:
    """'BatchNorm2d' for ``torch.nn.BatchNorm2d`` (a canonical name), else None."""
    if canon and canon.startswith("torch.nn.") and canon.count(".") == 2 and canon[9:] in MODULE_CLASSES:
        return canon[9:]
    return None


def functional(canon: str | None) -> str | None:
    """'batch_norm' / 'dropout' for ``torch.nn.functional.batch_norm`` / ``.dropout`` (canonical), else None."""
    name = canon[len("torch.nn.functional."):] if canon and canon.startswith("torch.nn.functional.") else None
    return name if name in FUNCTIONAL else None


def unwrap(expr):
    """``model`` for ``model.to(device).train()``: the module a chain of self-returning calls is called on."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value in SELF_RETURNING:
        expr = expr.func.value
    return expr


# torchvision.models constructors: every classification model holds BatchNorm or Dropout (most both)
TORCHVISION_MODELS_PREFIX = "torchvision.models."
# torchvision.models functions that make no model
_TORCHVISION_NOT_MODELS = ("get_", "list_")
_TORCHVISION_WEIGHTS = ("Weights", "WeightsEnum")


def torchvision_model(canon: str | None) -> str | None:
    """The constructor's name when ``canon`` names one that builds a torchvision model: a function or a
    model class of ``torchvision.models`` or of a module under it (``resnet18``, ``get_model``,
    ``detection.fasterrcnn_resnet50_fpn``, ``resnet.resnet50``, ``ResNet``); None for the weights enums and
    what hangs off them (``EfficientNet_B2_Weights.DEFAULT.transforms()`` makes the preprocessing
    pipeline), ``get_weight`` and ``list_models``."""
    if canon is None or not canon.startswith(TORCHVISION_MODELS_PREFIX):
        return None
    *modules, name = canon[len(TORCHVISION_MODELS_PREFIX):].split(".")
    if not all(m.islower() for m in modules):  # past a class: ResNet50_Weights.DEFAULT.transforms
        return None
    if name[:1].islower() and name.startswith(_TORCHVISION_NOT_MODELS) and name != "get_model":
        return None
    if not name[:1].islower() and name.endswith(_TORCHVISION_WEIGHTS):
        return None
    return name


TRANSFORMS_PREFIXES = ("torchvision.transforms.v2.", "torchvision.transforms.")


def transform_name(canon: str | None) -> str | None:
    """'Normalize' for ``torchvision.transforms.Normalize`` / ``transforms.v2.Normalize``, else None."""
    if canon is None:
        return None
    for prefix in TRANSFORMS_PREFIXES:
        if canon.startswith(prefix):
            rest = canon[len(prefix):]
            return rest if "." not in rest and rest[:1].isupper() else None
    return None
