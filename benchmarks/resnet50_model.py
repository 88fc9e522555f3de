"""A ResNet-50-size model for benchmarks/bench_check.py: keras.applications.ResNet50, random weights
(no download), 224x224x3 inputs, 53 BatchNormalization layers.

    python benchmarks/bench_check.py benchmarks/resnet50_model.py --repeat 1
"""
import keras

INPUT_SHAPE = (224, 224, 3)


def build_model():
    return keras.applications.ResNet50(weights=None, input_shape=INPUT_SHAPE, classes=10)
