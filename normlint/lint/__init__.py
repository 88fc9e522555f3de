"""The static half: the engine (CPython's ast, libcst where fixes are placed), its rules, and the flake8
adapter. Imports no TensorFlow."""

from normlint.regexes import preload

preload()  # the rules' regexes, compiled ahead into re's cache before their modules compile them
