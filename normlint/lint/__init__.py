"""The static half: a libcst engine, its rules, and the flake8 adapter. Imports no TensorFlow."""
