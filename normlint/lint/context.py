"""What a rule sees of one file: the rule-facing API. A rule's ``check(ctx)`` reads only this.

Pick the cheapest view that answers the rule's question:

1. **The call index** (``ctx.calls``): every call in the file, with its resolved name, in source order.
   Enough for rules about one call's arguments::

       for site in ctx.calls:  # CallSite: node, enclosing cls/method, with_items, assigned_to
           if ctx.names.layer_class(site.node.func) == "BatchNormalization":
               axis = next((a.value for a in site.node.args if a.keyword and a.keyword.value == "axis"), None)
               if literal(axis) == 0:
                   yield Hit(site.node, "...")

2. **Name resolution** (``ctx.names``): what a dotted name means under the file's imports, e.g.
   ``ctx.names.layer_class(call.func)`` gives ``"Dropout"`` for ``L.Dropout`` after
   ``from keras import layers as L`` (``qualname`` gives the dotted name); classes and functions defined
   in the file are never taken for Keras's.

3. **Literals** (``literal(expr)``, ``is_literal(value)``): the Python value of a literal argument
   (numbers, strings, booleans, None, lists/tuples of them, a negated number); anything else is
   "not a literal", never a guess::

       momentum = literal(call_arg)
       if is_literal(momentum) and momentum < 0.5: ...

4. **The layer flow** (``ctx.flow``, see normlint.lint.graph): layer objects, where each is applied and
   what feeds it, through Sequential lists, ``.add()``, functional chains, helpers and subclassed
   models. The costliest view (computed once per file, on first use): use it when the question is
   "what reaches what"::

       for app in ctx.flow.applications:
           if app.layer.kind == "BatchNormalization":
               upstream = [a.layer.kind for a in ancestors(app.inputs[0])]

``ctx.code(node)`` is a node's source text; ``ctx.options`` holds option values by key (read them with
``Rule.option(ctx, name)``, which applies the declared default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import libcst as cst

from normlint.lint.flow import analyze
from normlint.lint.graph import Flow
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
