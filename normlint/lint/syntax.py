"""``cst``: the node classes the analysis names, whichever tree it reads.

At run time they are normlint.lint.nodes's classes, which a libcst node is an instance of too, so
linting without fixes never imports libcst (~0.15 s of a run). The type checker reads libcst's own
classes: a fast tree has the same names and fields.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst
else:
    from normlint.lint import nodes as cst

__all__ = ["cst"]
