"""The static half: the engine (CPython's ast, libcst where fixes are placed), its rules, and the flake8
adapter. Imports no TensorFlow."""
