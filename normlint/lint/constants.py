"""Values held in names: ``CHANNEL_AXIS = 1``, ``BATCH_SIZE = 4``, ``cfg = dict(momentum=0.1)``.

A name is a constant when every binding of it in the file is an assignment of a value that evaluates
to the same constant (numbers, strings, booleans, None, lists/tuples/dicts of them, simple arithmetic,
other constants). A parameter, a loop variable, an import, two different values, or anything computed
(``1 if K.image_data_format() == "channels_first" else -1``) makes it unknown: never a guess.

``literal()`` (normlint.lint.context) reads constants through the table of the file being linted, which
the engine makes current for the duration of the file (``current``), so every rule sees through names
without asking.
"""

from __future__ import annotations

import contextvars
import operator
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from normlint.lint.syntax import cst

from normlint.lint.nodes import kind

NO_VALUE: Any = object()
_MAX_DEPTH = 8
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    cst.Add: operator.add, cst.Subtract: operator.sub, cst.Multiply: operator.mul, cst.Divide: operator.truediv,
    cst.FloorDivide: operator.floordiv, cst.Modulo: operator.mod, cst.Power: operator.pow,
}


class Constants:
    """The file's names that hold one known value, evaluated on demand."""

    def __init__(self, assignments: dict[str, list[cst.BaseExpression]], bind_counts) -> None:
        self._assignments = assignments
        self._bind_counts = bind_counts
        self._cache: dict[str, Any] = {}
        self._busy: set[str] = set()

    def value_of(self, name: str, depth: int = 0) -> Any:
        if name in self._cache:
            return self._cache[name]
        values = self._assignments.get(name)
        if not values or len(values) != self._bind_counts.get(name, 0) or name in self._busy or depth > _MAX_DEPTH:
            return NO_VALUE
        self._busy.add(name)
        try:
            results = [evaluate(v, self, depth + 1) for v in values]
        finally:
            self._busy.discard(name)
        first = results[0]
        value = first if all(r is not NO_VALUE and r == first and type(r) is type(first) for r in results) else NO_VALUE
        self._cache[name] = value
        return value

    def node_of(self, name: str) -> cst.BaseExpression | None:
        """The expression a constant name was assigned (the first), for ``**cfg`` expansion."""
        if self.value_of(name) is NO_VALUE:
            return None
        return self._assignments[name][0]


_CURRENT: contextvars.ContextVar[Constants | None] = contextvars.ContextVar("normlint_constants", default=None)


@contextmanager
def current(table: Callable[[], Constants]) -> Iterator[None]:
    """Make a file's constants (built lazily by ``table``) what ``literal()`` reads, for a ``with`` block."""
    token = _CURRENT.set(_Lazy(table))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _CURRENT.reset(token)


class _Lazy:
    def __init__(self, build: Callable[[], Constants]) -> None:
        self._build = build
        self._table: Constants | None = None

    def __getattr__(self, name: str) -> Any:
        if self._table is None:
            self._table = self._build()
        return getattr(self._table, name)


def active() -> Constants | None:
    return _CURRENT.get()


def evaluate(expr: cst.BaseExpression | None, table: Constants | None = None, depth: int = 0) -> Any:
    """The Python value of ``expr``, through the constants of ``table`` (default: the current file's)."""
    if expr is None or depth > _MAX_DEPTH:
        return NO_VALUE
    if table is None:
        table = active()
    t = kind(expr)
    if t is cst.Integer:
        return _int(expr.value)  # type: ignore[attr-defined]
    if t is cst.Float:
        return float(expr.value.replace("_", ""))  # type: ignore[attr-defined]
    if t is cst.SimpleString or t is cst.ConcatenatedString:
        try:
            return expr.evaluated_value  # type: ignore[attr-defined]
        except Exception:
            return NO_VALUE
    if t is cst.Name:
        name = expr.value  # type: ignore[attr-defined]
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        return table.value_of(name, depth) if table is not None else NO_VALUE
    if t is cst.UnaryOperation:
        inner = evaluate(expr.expression, table, depth + 1)  # type: ignore[attr-defined]
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            if isinstance(expr.operator, cst.Minus):  # type: ignore[attr-defined]
                return -inner
            if isinstance(expr.operator, cst.Plus):  # type: ignore[attr-defined]
                return inner
        return NO_VALUE
    if t is cst.BinaryOperation:
        op = _BINOPS.get(kind(expr.operator))  # type: ignore[attr-defined]
        left = evaluate(expr.left, table, depth + 1)  # type: ignore[attr-defined]
        right = evaluate(expr.right, table, depth + 1)  # type: ignore[attr-defined]
        if op is None or not _number(left) or not _number(right):
            return NO_VALUE
        if op is operator.pow and (abs(right) > 64 or abs(left) > 1 << 16):
            return NO_VALUE  # never compute a huge number from a file
        try:
            return op(left, right)
        except (ArithmeticError, ValueError):
            return NO_VALUE
    if t is cst.List or t is cst.Tuple:
        values = [evaluate(e.value, table, depth + 1) for e in expr.elements]  # type: ignore[attr-defined]
        if any(v is NO_VALUE for v in values) or any(isinstance(e, cst.StarredElement) for e in expr.elements):  # type: ignore[attr-defined]
            return NO_VALUE
        return values
    if t is cst.Dict or t is cst.Call:
        items = dict_items(expr, table, depth)
        if items is None:
            return NO_VALUE
        out = {k: evaluate(v, table, depth + 1) for k, v in items.items()}
        return NO_VALUE if any(v is NO_VALUE for v in out.values()) else out
    if t is cst.Subscript:
        return _subscript(expr, table, depth)  # type: ignore[arg-type]
    return NO_VALUE


def dict_keys(expr: cst.BaseExpression | None, table: Constants | None = None, depth: int = 0) -> frozenset[str] | None:
    """The keys ``**expr`` can hold, when the file shows them all: a dict display with string keys
    (``{"device": device, "dtype": dtype}``: the values need not be known), ``dict(k=v)``, or a name that
    every binding gives one of these (a helper's local bound the same way in each function); None otherwise."""
    if table is None:
        table = active()
    if depth > _MAX_DEPTH:
        return None
    if isinstance(expr, cst.Name):
        values = table._assignments.get(expr.value) if table is not None else None
        if not values or len(values) != table._bind_counts.get(expr.value, 0):  # type: ignore[union-attr]
            return None
        keys: set[str] = set()
        for value in values:
            found = dict_keys(value, table, depth + 1)
            if found is None:
                return None
            keys |= found
        return frozenset(keys)
    if isinstance(expr, cst.Dict):
        keys = set()
        for el in expr.elements:
            if isinstance(el, cst.DictElement):
                key = evaluate(el.key, table, depth + 1)
                if not isinstance(key, str):
                    return None
                keys.add(key)
            else:  # {**base, "padding": "same"}
                inner = dict_keys(el.value, table, depth + 1)
                if inner is None:
                    return None
                keys |= inner
        return frozenset(keys)
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict" \
            and (table is None or table.value_of("dict") is NO_VALUE) and all(a.keyword is not None for a in expr.args):
        return frozenset(a.keyword.value for a in expr.args if a.keyword is not None)
    return None


def dict_items(expr: cst.BaseExpression | None, table: Constants | None = None, depth: int = 0
               ) -> dict[str, cst.BaseExpression] | None:
    """``{"momentum": 0.1}`` / ``dict(momentum=0.1)`` / a name holding one: its string keys and value nodes."""
    if table is None:
        table = active()
    if isinstance(expr, cst.Name) and table is not None and depth <= _MAX_DEPTH:
        node = table.node_of(expr.value)
        return dict_items(node, table, depth + 1) if node is not None else None
    if isinstance(expr, cst.Dict):
        out: dict[str, cst.BaseExpression] = {}
        for el in expr.elements:
            if not isinstance(el, cst.DictElement):
                return None
            key = evaluate(el.key, table, depth + 1)
            if not isinstance(key, str):
                return None
            out[key] = el.value
        return out
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict":
        if table is not None and table.value_of("dict") is not NO_VALUE:
            return None
        if any(a.keyword is None for a in expr.args):
            return None
        return {a.keyword.value: a.value for a in expr.args if a.keyword is not None}
    return None


def keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    """The expression passed as ``name=`` to ``call``, also through ``**cfg`` when cfg is a constant dict."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a.value
    for a in call.args:
        if a.star == "**":
            items = dict_items(a.value)
            if items and name in items:
                return items[name]
    return None


def _subscript(expr: cst.Subscript, table: Constants | None, depth: int) -> Any:
    if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
        return NO_VALUE
    base = evaluate(expr.value, table, depth + 1)
    key = evaluate(expr.slice[0].slice.value, table, depth + 1)
    if isinstance(base, dict) and isinstance(key, str):
        return base.get(key, NO_VALUE)
    if isinstance(base, list) and isinstance(key, int) and not isinstance(key, bool) and -len(base) <= key < len(base):
        return base[key]
    return NO_VALUE


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(text: str) -> Any:
    try:
        return int(text, 0)
    except ValueError:
        return NO_VALUE if text.strip("0_") else 0
