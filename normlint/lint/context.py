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

3. **Literals** (``literal(expr)``, ``is_literal(value)``): the Python value of a constant argument
   (numbers, strings, booleans, None, lists/tuples/dicts of them, simple arithmetic, and names the file
   binds to one constant value: ``CHANNEL_AXIS = 1``); anything else is "not a literal", never a guess.
   ``keyword(call, "momentum")`` finds an argument also through ``**cfg`` of a constant dict::

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

from functools import cached_property
from typing import Any

from normlint.lint.syntax import cst
from normlint.records import field, record

from normlint.lint.nodes import KIND, made
from normlint.lint.constants import NO_VALUE, Constants, evaluate, keyword
from normlint.lint.flow import analyze
from normlint.lint.graph import Flow
from normlint.lint.index import CallSite, FileIndex, build_index
from normlint.lint.names import Names

__all__ = ["CallSite", "FileContext", "is_literal", "keyword", "literal"]

_NO_LITERAL = NO_VALUE


def literal(expr: cst.BaseExpression | None) -> Any:
    """The Python value of a constant expression, else NO_LITERAL: numbers, strings, True/False/None,
    lists/tuples/dicts of them, simple arithmetic (``1 / 255``, ``1 - 0.01``) and names that hold one
    value in the file being linted (``CHANNEL_AXIS = 1``; see normlint.lint.constants)."""
    return evaluate(expr)


def is_literal(value: Any) -> bool:
    return value is not _NO_LITERAL


@record(eq=False)
class FileContext:
    module: cst.Module
    source: str
    path: str
    options: dict[str, Any] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # what one rule computed that another reads (per file)

    @cached_property
    def index(self) -> FileIndex:
        recorded = getattr(getattr(self.module, "_b", None), "index", None)  # a fast tree's, made with it
        return recorded if recorded is not None else build_index(self.module)

    @cached_property
    def constants(self) -> Constants:
        return Constants(self.index.assignments, self.index.bind_counts)

    @cached_property
    def names(self) -> Names:
        return Names(self.index)

    @cached_property
    def flow(self) -> Flow:
        return analyze(self.module, self.names)

    @property
    def calls(self) -> list[CallSite]:
        return self.index.calls

    @cached_property
    def name_methods(self) -> dict[str, list[cst.Call]]:
        """name -> the calls of a method on that bare name, in source order (``layers.append(x)``: what the
        file puts in a list, for the rules that read a list's contents)."""
        out: dict[str, list[cst.Call]] = {}
        for site in self.calls:
            func: Any = site.node.func
            if KIND[type(func)] is cst.Attribute and KIND[type(func.value)] is cst.Name:
                out.setdefault(func.value.value, []).append(site.node)
        return out

    def release(self) -> None:
        """Break the reference cycles of the file's analysis once its findings are made (a rule's memo holds
        objects that hold this context; a tensor and the application that produced it name each other), so
        that reference counting frees it, and the tree it points at, at once. Left to the cyclic collector,
        each collection first walks every object of the file: ~7 % of a lint run's CPU on model code
        (benchmarks/bench_gc.py)."""
        self.memo.clear()
        flow = self.__dict__.get("flow")  # computed only if a rule asked for it
        if flow is not None:
            flow.release()

    def code(self, node: cst.CSTNode) -> str:
        if made(node):  # legacy's data_format="channels_first" for dim_ordering="th": its literal
            return str(getattr(node, "value", ""))
        return self.module.code_for_node(node)
