"""normlint: catch normalization mistakes in Keras/TensorFlow code before they burn GPU hours."""

__version__ = "0.1.0"
