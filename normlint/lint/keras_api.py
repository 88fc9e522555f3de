"""Static knowledge of the Keras / TensorFlow API surface that the rules talk about.

Nothing here imports TensorFlow: the names were read once from ``keras.layers`` (Keras 3.15) and are
kept as plain data so that linting stays light.
"""

from __future__ import annotations

LAYER_CLASSES = frozenset(
    """
Activation ActivityRegularization AdaptiveAveragePooling1D AdaptiveAveragePooling2D AdaptiveAveragePooling3D
AdaptiveMaxPooling1D AdaptiveMaxPooling2D AdaptiveMaxPooling3D Add AdditiveAttention AlphaDropout Attention
AugMix AutoContrast Average AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D
BatchNormalization Bidirectional CategoryEncoding CenterCrop Concatenate
ContrastLimitedAdaptiveHistogramEqualization Conv1D Conv1DTranspose Conv2D Conv2DTranspose Conv3D
Conv3DTranspose ConvLSTM1D ConvLSTM2D ConvLSTM3D Convolution1D Convolution1DTranspose Convolution2D
Convolution2DTranspose Convolution3D Convolution3DTranspose Cropping1D Cropping2D Cropping3D CutMix Dense
DepthwiseConv1D DepthwiseConv2D Discretization Dot Dropout ELU EinsumDense Embedding Equalization Flatten
FlaxLayer GRU GRUCell GaussianDropout GaussianNoise GlobalAveragePooling1D GlobalAveragePooling2D
GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D GlobalMaxPool1D GlobalMaxPool2D
GlobalMaxPool3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GroupNormalization
GroupQueryAttention HashedCrossing Hashing Identity InputLayer IntegerLookup JaxLayer LSTM LSTMCell Lambda
Layer LayerNormalization LeakyReLU Masking MaxNumBoundingBoxes MaxPool1D MaxPool2D MaxPool3D MaxPooling1D
MaxPooling2D MaxPooling3D Maximum MelSpectrogram Minimum MixUp MultiHeadAttention Multiply Normalization PReLU
Permute Pipeline RMSNormalization RNN RandAugment RandomBrightness RandomColorDegeneration RandomColorJitter
RandomContrast RandomCrop RandomElasticTransform RandomErasing RandomFlip RandomGaussianBlur RandomGrayscale
RandomHue RandomInvert RandomPerspective RandomPosterization RandomRotation RandomSaturation RandomSharpness
RandomShear RandomTranslation RandomZoom ReLU RepeatVector Rescaling Reshape Resizing ReversibleEmbedding
STFTSpectrogram SeparableConv1D SeparableConv2D SeparableConvolution1D SeparableConvolution2D SimpleRNN
SimpleRNNCell Softmax Solarization SpatialDropout1D SpatialDropout2D SpatialDropout3D SpectralNormalization
StackedRNNCells StringLookup Subtract TFSMLayer TextVectorization TimeDistributed TorchModuleWrapper
UnitNormalization UpSampling1D UpSampling2D UpSampling3D Wrapper ZeroPadding1D ZeroPadding2D ZeroPadding3D
SyncBatchNormalization
""".split()
) | frozenset(
    # Keras 1 and 2 layers that are gone from Keras 3 but fill old code
    """
AtrousConvolution1D AtrousConvolution2D Deconvolution2D Deconvolution3D LocallyConnected1D LocallyConnected2D
Highway MaxoutDense Merge ThresholdedReLU CuDNNLSTM CuDNNGRU
""".split()
)
# other spellings of a class, read as the class (tf.keras internals, TF 2.x v1/v2 variants)
ALIASES = {"BatchNormalizationV1": "BatchNormalization", "BatchNormalizationV2": "BatchNormalization",
           "LayerNormalizationV1": "LayerNormalization"}

# Model containers: layers too, but they hold other layers.
MODEL_CLASSES = frozenset({"Model", "Sequential", "Functional"})
# Base classes a user subclasses to write a layer or a model.
SUBCLASS_BASES = frozenset({"Layer", "Model", "Sequential"})

# Layers that hold no variables (no weights, no seed generator): built inside call() they are only wasteful,
# where a layer with variables fails under fit()'s tf.function or trains fresh weights every step
# (tests/test_rule_claims.py builds each on an input and counts its variables)
STATELESS_LAYERS = frozenset(
    """
Activation ReLU Softmax LeakyReLU ELU Identity Add Subtract Multiply Average Maximum Minimum Concatenate Dot Reshape
Flatten Permute RepeatVector Masking Cropping1D Cropping2D Cropping3D ZeroPadding1D ZeroPadding2D ZeroPadding3D
UpSampling1D UpSampling2D UpSampling3D MaxPooling1D MaxPooling2D MaxPooling3D MaxPool1D MaxPool2D MaxPool3D
AveragePooling1D AveragePooling2D AveragePooling3D AvgPool1D AvgPool2D AvgPool3D GlobalAveragePooling1D
GlobalAveragePooling2D GlobalAveragePooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D GlobalMaxPooling1D
GlobalMaxPooling2D GlobalMaxPooling3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D Resizing Rescaling CenterCrop
UnitNormalization ActivityRegularization Lambda
""".split()
)
DROPOUT = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout"})
BATCHNORM = frozenset({"BatchNormalization", "SyncBatchNormalization"})
CONV = frozenset(
    n for n in LAYER_CLASSES
    if n.startswith(("Conv", "SeparableConv", "DepthwiseConv", "AtrousConv", "Deconv")) and "LSTM" not in n
)
DENSE = frozenset({"Dense", "EinsumDense"})
# Layers whose output is the adapted/statistics-holding normalization of the issue texts.
STAT_NORMS = frozenset({"BatchNormalization", "SyncBatchNormalization", "Normalization"})
SCALING = frozenset({"Rescaling", "Normalization"})

# keras.applications models and the normalization layers inside them (read once from Keras 3.15 with
# weights=None): calling one in a GradientTape or fitting it with a tiny batch is the same mistake as
# with a model written out layer by layer.
_APPS_WITH_BATCHNORM = """
DenseNet121 DenseNet169 DenseNet201 EfficientNetB0 EfficientNetB1 EfficientNetB2 EfficientNetB3 EfficientNetB4
EfficientNetB5 EfficientNetB6 EfficientNetB7 EfficientNetV2B0 EfficientNetV2B1 EfficientNetV2B2 EfficientNetV2B3
EfficientNetV2L EfficientNetV2M EfficientNetV2S InceptionResNetV2 InceptionV3 MobileNet MobileNetV2
MobileNetV3Large MobileNetV3Small NASNetLarge NASNetMobile ResNet101 ResNet101V2 ResNet152 ResNet152V2 ResNet50
ResNet50V2 Xception
""".split()
APPLICATIONS: dict[str, frozenset[str]] = {
    **{name: frozenset({"BatchNormalization"}) for name in _APPS_WITH_BATCHNORM},
    **{f"ConvNeXt{size}": frozenset({"LayerNormalization"}) for size in ("Tiny", "Small", "Base", "Large", "XLarge")},
    "VGG16": frozenset(),
    "VGG19": frozenset(),
}

# TF1 functional layers (tf.layers.x / tf.compat.v1.layers.x) and the Keras class each one mirrors.
TF1_LAYERS = {
    "batch_normalization": "BatchNormalization",
    "dropout": "Dropout",
    "dense": "Dense",
    "conv1d": "Conv1D",
    "conv2d": "Conv2D",
    "conv3d": "Conv3D",
    "conv2d_transpose": "Conv2DTranspose",
    "separable_conv2d": "SeparableConv2D",
    "max_pooling1d": "MaxPooling1D",
    "max_pooling2d": "MaxPooling2D",
    "max_pooling3d": "MaxPooling3D",
    "average_pooling2d": "AveragePooling2D",
    "flatten": "Flatten",
}

CATEGORICAL_LOSSES = frozenset(
    {
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "CategoricalCrossentropy",
        "SparseCategoricalCrossentropy",
    }
)

# What each keras.applications module's preprocess_input does (read from Keras 3.15's sources):
# "caffe" (BGR, ImageNet means subtracted, 0-255), "tf" (scaled to [-1, 1]), "torch" (0-1, ImageNet
# mean/std), "none" (the model rescales its own input; preprocess_input is the identity).
PREPROCESS_MODE = {
    "resnet": "caffe", "resnet50": "caffe", "vgg16": "caffe", "vgg19": "caffe",
    "resnet_v2": "tf", "mobilenet": "tf", "mobilenet_v2": "tf", "inception_v3": "tf", "inception_resnet_v2": "tf",
    "xception": "tf", "nasnet": "tf",
    "densenet": "torch",
    "efficientnet": "none", "efficientnet_v2": "none", "convnext": "none", "mobilenet_v3": "none", "regnet": "none",
}


def application_mode(kind: str) -> str | None:
    """The preprocessing a keras.applications model expects: "self" for one that rescales its own
    input (EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3 with include_preprocessing=True)."""
    if kind.startswith(("EfficientNet", "ConvNeXt", "MobileNetV3", "RegNet")):
        return "self"
    if kind.startswith("ResNet"):
        return "tf" if kind.endswith("V2") else "caffe"
    if kind.startswith("VGG"):
        return "caffe"
    if kind.startswith("DenseNet"):
        return "torch"
    if kind.startswith(("MobileNet", "Inception", "Xception", "NASNet")):
        return "tf"
    return None


SCALERS = frozenset({"StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "Normalizer",
                     "QuantileTransformer", "PowerTransformer"})
