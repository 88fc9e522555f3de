"""The runtime half: imports TensorFlow, builds models, checks normalization layers against NumPy."""
