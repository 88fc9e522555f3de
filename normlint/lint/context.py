"""What a rule sees of one file: the parsed module, name resolution, the layer flow, and an index of calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import libcst as cst

from normlint.lint.flow import Flow, analyze
from normlint.lint.index import CallSite, FileIndex, build_index
from normlint.lint.names import Names

__all__ = ["CallSite", "FileContext", "is_literal", "literal"]

_NO_LITERAL = object()


def literal(expr: cst.BaseExpression | None) -> Any:
    """The Python value of a literal expression (numbers, strings, True/False/None, lists), else NO_LITERAL."""
    if expr is None:
        return _NO_LITERAL
    if isinstance(expr, cst.Integer):
        return _int(expr.value)
    if isinstance(expr, cst.Float):
        return float(expr.value.replace("_", ""))
    if isinstance(expr, cst.SimpleString):
        try:
            return expr.evaluated_value
        except Exception:
            return _NO_LITERAL
    if isinstance(expr, cst.Name) and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        inner = literal(expr.expression)
        return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else _NO_LITERAL
    if isinstance(expr, (cst.List, cst.Tuple)):
        values = [literal(e.value) for e in expr.elements]
        return _NO_LITERAL if any(v is _NO_LITERAL for v in values) else values
    return _NO_LITERAL


def _int(text: str) -> Any:
    try:
        return int(text, 0)
    except ValueError:
        return _NO_LITERAL if text.strip("0_") else 0


def is_literal(value: Any) -> bool:
    return value is not _NO_LITERAL


@dataclass(eq=False)
class FileContext:
    module: cst.Module
    source: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def index(self) -> FileIndex:
        return build_index(self.module)

    @cached_property
    def names(self) -> Names:
        return Names(self.index)

    @cached_property
    def flow(self) -> Flow:
        return analyze(self.module, self.names)

    @property
    def calls(self) -> list[CallSite]:
        return self.index.calls

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)
