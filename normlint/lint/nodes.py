"""The node classes the analysis reads: libcst's names and code-holding fields, whichever tree it reads.

The analysis (index, names, constants, flow, rules) reads a small part of libcst's API: node classes,
their code-holding fields and ``isinstance`` checks. These classes have libcst's names and fields
(whitespace, parentheses and punctuation left out); normlint.lint.ast_tree builds trees of them from
CPython's ``ast``. The analysis names them (normlint.lint.syntax), and a libcst node is an instance of
them too (``CSTNode.__subclasshook__``: ``libcst.Call`` is a ``Call``), so every rule runs unchanged on
either tree, and nothing here imports libcst. ``kind(node)`` is the class a node of either tree is.
"""

from __future__ import annotations

import sys
from abc import ABCMeta
from typing import Any

from normlint.lint import node_code


class Unsupported(Exception):
    """The file holds a construct this tree does not model, or a fix needs libcst: parse it with libcst."""


class FastNode:
    """What every node of this module's trees is (a libcst node is not)."""

    __slots__ = ()
    _r: tuple[int, int, int, int]  # set by CSTNode's __slots__


class CSTNode(FastNode, metaclass=ABCMeta):
    """A node: its code-holding fields (``FIELDS``, in libcst's order) and its source range
    ``_r`` = (line, byte column, end line, end byte column), 1-based lines."""

    __slots__ = ("_r",)
    _r: tuple[int, int, int, int]
    FIELDS: tuple[str, ...] = ()
    TWIN = "CSTNode"  # the libcst class it stands for

    @classmethod
    def __subclasshook__(cls, sub: type) -> Any:
        if sub.__module__.startswith("libcst"):  # libcst.Call is a Call (and a BaseExpression, a CSTNode)
            twin = getattr(sys.modules.get("libcst"), cls.TWIN, None)
            return twin is not None and issubclass(sub, twin)
        return NotImplemented

    @staticmethod
    def kids(node: Any) -> list[Any]:
        """The nodes in ``node``'s FIELDS, in order (each class has its own, generated: the walks' inner loop)."""
        return []

    @property
    def children(self) -> list[Any]:
        return self.kids(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}@{self._r[0]}:{self._r[1]}"

    def with_changes(self, **changes: Any) -> Any:
        raise Unsupported("a fix renders new code: libcst's tree does that")

    @property
    def indent(self) -> Any:
        raise Unsupported("a fix reads indentation: libcst's tree holds it")


def _abstract(name: str, *bases: type) -> Any:
    return ABCMeta(name, bases or (CSTNode,), {"__slots__": (), "TWIN": name, "__module__": __name__})


BaseExpression = _abstract("BaseExpression")
BaseStatement = _abstract("BaseStatement")
BaseCompoundStatement = _abstract("BaseCompoundStatement", BaseStatement)
BaseSmallStatement = _abstract("BaseSmallStatement")
BaseSuite = _abstract("BaseSuite")
BaseBinaryOp = _abstract("BaseBinaryOp")
BaseAugOp = _abstract("BaseAugOp")
BaseUnaryOp = _abstract("BaseUnaryOp")
BaseBooleanOp = _abstract("BaseBooleanOp")
BaseCompOp = _abstract("BaseCompOp")


class _ModuleNode(CSTNode):
    """The root: libcst's Module with the source behind it (``code_for_node``, ``position``)."""

    __slots__ = ()
    _b: Any  # the ast_tree builder: the source, its lines and offsets

    @property
    def default_indent(self) -> Any:
        raise Unsupported("a fix reads indentation: libcst's tree holds it")

    def code_for_node(self, node: Any) -> str:
        if not node._r[0]:
            return str(getattr(node, "value", ""))  # a node the analysis made (made_string)
        r = node._r
        decorators = getattr(node, "decorators", None)
        if decorators:  # libcst renders a definition from its first decorator
            r = (decorators[0]._r[0], decorators[0]._r[1], r[2], r[3])
        start, end = self._b.span(r)
        return self._b.source[start:end]

    def position(self, node: Any) -> tuple[int, int]:
        """(line, 0-based character column) where ``node`` starts, as libcst's PositionProvider places it:
        its own parentheses and a definition's decorators left out."""
        b = self._b
        if type(node) in _WRAPPERS:  # libcst's Element/Arg starts at its value's own "(", which ast leaves out
            return b.line_col(b.span(node._r)[0])
        at = b.offset(node._r[0], node._r[1])
        if type(node) in _PARENTHESIZED and b.source[at:at + 1] == "(" and _own_parenthesis(node, b):
            at += 1  # ast counts a tuple's own parentheses in; libcst starts at what they hold
            while at < len(b.source) and b.source[at] in " \t\r\n\\":
                at += 1
        return b.line_col(at)


def _node(name: str, base: type, fields: str = "", extra: str = "", twin: str | None = None) -> Any:
    """A node class called ``name`` with code fields ``fields`` and plain attributes ``extra``, standing
    for ``libcst.<twin or name>``."""
    code = tuple(fields.split())
    slots = code + tuple(extra.split())
    init, kids = _generated(code, slots)
    return ABCMeta(name, (base,), {"__slots__": slots, "FIELDS": code, "TWIN": twin or name, "__module__": __name__,
                                   "__init__": init, "kids": staticmethod(kids)})


_GENERATED: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[Any, Any]] = {}


def _generated(code: tuple[str, ...], slots: tuple[str, ...]) -> tuple[Any, Any]:
    """``__init__`` and ``kids`` for these fields, shared by the classes that have the same (they set and
    read attributes by name). Written out in normlint/lint/node_code.py (``python -m normlint.lint.nodes``
    rewrites it; a test fails when it is stale), so importing them costs no compile; a field set that
    file lacks is compiled here."""
    key = (code, slots)
    found = _GENERATED.get(key)
    if found is None:
        found = node_code.CODE.get(key)
        if found is None:
            namespace: dict[str, Any] = {}
            exec(_source(code, slots, "__init__", "kids"), namespace)
            found = namespace["__init__"], namespace["kids"]
        _GENERATED[key] = found
    return found


def _source(code: tuple[str, ...], slots: tuple[str, ...], init: str, kids: str) -> str:
    params = "".join(f", {f}=None" for f in slots)
    # a field holds a node, None, or a list/tuple of nodes
    body = "".join(f"    v = n.{f}\n    if v is not None:\n        if type(v) is list or type(v) is tuple:\n"
                   f"            out.extend(v)\n        else:\n            out.append(v)\n" for f in code)
    return (f"def {init}(self, _r{params}):\n    self._r = _r\n" + "".join(f"    self.{f} = {f}\n" for f in slots)
            + f"\n\ndef {kids}(n):\n    out = []\n{body}    return out\n")


def node_code_module() -> str:
    """The text of normlint/lint/node_code.py for the node classes defined here."""
    # the field sets in the order the classes above first name them
    functions = [_source(code, slots, f"init_{i}", f"kids_{i}") for i, (code, slots) in enumerate(_GENERATED)]
    table = "".join(f"    ({code!r},\n     {slots!r}): (init_{i}, kids_{i}),\n" for i, (code, slots) in enumerate(_GENERATED))
    return ('"""The node classes\' ``__init__`` and ``kids`` (normlint.lint.nodes), generated by\n'
            '``python -m normlint.lint.nodes``: do not edit."""\n\n\n' + "\n\n".join(functions)
            + "\n\nCODE = {\n" + table + "}\n")


def kind(node: Any) -> type:
    """The class of this module ``node`` is: its own type, or for a libcst node the class of the same name."""
    return KIND[type(node)]


def kind_of_type(t: type) -> type:
    if t.__module__ == __name__ or not t.__module__.startswith("libcst"):
        return t
    found = globals().get(t.__name__, t)
    return found if isinstance(found, type) else t


class _Kinds(dict):
    """type -> kind, each type worked out once."""

    def __missing__(self, t: type) -> type:
        found = self[t] = kind_of_type(t)
        return found


# type(node) -> kind(node) in one lookup: ``KIND[type(x)] is Attribute`` is the cheap test in hot loops (a
# failed isinstance() against these ABCMeta classes costs a Python-level __instancecheck__)
KIND: dict[type, type] = _Kinds()


class Dispatch(dict):
    """{node class: what to do with it}, looked up by ``type(node)`` in one step on either tree: a libcst
    class takes its twin's entry (or ``default``) on first sight."""

    def __init__(self, table: dict[type, Any], default: Any = None) -> None:
        super().__init__(table)
        self.default = default

    def __missing__(self, t: type) -> Any:
        found = self[t] = self.get(kind_of_type(t), self.default)
        return found


E, S, C, N, W = BaseExpression, BaseSmallStatement, BaseCompoundStatement, CSTNode, BaseSuite
Module = _node("Module", _ModuleNode, "body", "_b")
SimpleStatementLine = _node("SimpleStatementLine", BaseStatement, "body")
IndentedBlock = _node("IndentedBlock", W, "body")
SimpleStatementSuite = _node("SimpleStatementSuite", W, "body")
Expr = _node("Expr", S, "value")
Assign = _node("Assign", S, "targets value")
AssignTarget = _node("AssignTarget", N, "target")
AnnAssign = _node("AnnAssign", S, "target annotation value")
Annotation = _node("Annotation", N, "annotation")
AugAssign = _node("AugAssign", S, "target value", "operator")
Return = _node("Return", S, "value")
Raise = _node("Raise", S, "exc cause")
Assert = _node("Assert", S, "test msg")
Del = _node("Del", S, "target")
Global = _node("Global", S, "names")
Nonlocal = _node("Nonlocal", S, "names")
NameItem = _node("NameItem", N, "name")
Import = _node("Import", S, "names")
ImportFrom = _node("ImportFrom", S, "module names", "relative")
ImportAlias = _node("ImportAlias", N, "name asname")
AsName = _node("AsName", N, "name")
ImportStar = _node("ImportStar", N)
Pass = _node("Pass", S)
Break = _node("Break", S)
Continue = _node("Continue", S)
FunctionDef = _node("FunctionDef", C, "name params body decorators returns", "asynchronous")
Parameters = _node("Parameters", N, "params star_arg kwonly_params star_kwarg posonly_params")
Param = _node("Param", N, "name annotation default", "star")
ParamStar = _node("ParamStar", N)
Decorator = _node("Decorator", N, "decorator")
ClassDef = _node("ClassDef", C, "name body bases keywords decorators")
If = _node("If", C, "test body orelse")
Else = _node("Else", N, "body")
For = _node("For", C, "target iter body orelse", "asynchronous")
While = _node("While", C, "test body orelse")
With = _node("With", C, "items body", "asynchronous")
WithItem = _node("WithItem", N, "item asname")
Try = _node("Try", C, "body handlers orelse finalbody")
TryStar = _node("TryStar", C, "body handlers orelse finalbody")
ExceptHandler = _node("ExceptHandler", N, "body type name")
ExceptStarHandler = _node("ExceptStarHandler", N, "body type name")
Finally = _node("Finally", N, "body")
Match = _node("Match", C, "subject cases")
MatchCase = _node("MatchCase", N, "pattern body guard")
MatchAs = _node("MatchAs", N, "pattern name")
MatchPattern = _node("MatchPattern", N, "parts", twin="MatchValue")  # any other pattern: its parts, for the walk
Name = _node("Name", E, "", "value")
Attribute = _node("Attribute", E, "value attr")
Call = _node("Call", E, "func args")
Arg = _node("Arg", N, "value keyword", "star")
SimpleString = _node("SimpleString", E, "", "value evaluated_value")
ConcatenatedString = _node("ConcatenatedString", E, "left right")  # never built: ast joins "a" "b" into one string
FormattedString = _node("FormattedString", E, "parts")
FormattedStringExpression = _node("FormattedStringExpression", N, "expression format_spec")
Integer = _node("Integer", E, "", "value")
Float = _node("Float", E, "", "value")
Imaginary = _node("Imaginary", E, "", "value")
Ellipsis = _node("Ellipsis", E)
Tuple = _node("Tuple", E, "elements")
List = _node("List", E, "elements")
Set = _node("Set", E, "elements")
Element = _node("Element", N, "value")
StarredElement = _node("StarredElement", E, "value")
Dict = _node("Dict", E, "elements")
DictElement = _node("DictElement", N, "key value")
StarredDictElement = _node("StarredDictElement", N, "value")
Subscript = _node("Subscript", E, "value slice")
SubscriptElement = _node("SubscriptElement", N, "slice")
Index = _node("Index", N, "value")
Slice = _node("Slice", N, "lower upper step")
BinaryOperation = _node("BinaryOperation", E, "left right", "operator")
UnaryOperation = _node("UnaryOperation", E, "expression", "operator")
BooleanOperation = _node("BooleanOperation", E, "left right", "operator")
Comparison = _node("Comparison", E, "left comparisons")
ComparisonTarget = _node("ComparisonTarget", N, "comparator", "operator")
IfExp = _node("IfExp", E, "test body orelse")
Lambda = _node("Lambda", E, "params body")
NamedExpr = _node("NamedExpr", E, "target value")
ListComp = _node("ListComp", E, "elt for_in")
SetComp = _node("SetComp", E, "elt for_in")
GeneratorExp = _node("GeneratorExp", E, "elt for_in")
DictComp = _node("DictComp", E, "key value for_in")
CompFor = _node("CompFor", N, "target iter ifs inner_for_in", "asynchronous")
CompIf = _node("CompIf", N, "test")
Await = _node("Await", E, "expression")
Yield = _node("Yield", E, "value")
From = _node("From", N, "item")

# operators carry no code of their own: one shared instance each
_OPERATOR_NAMES = {
    BaseBinaryOp: "Add Subtract Multiply Divide FloorDivide Modulo Power MatrixMultiply LeftShift RightShift BitOr BitXor BitAnd",
    BaseAugOp: "AddAssign SubtractAssign MultiplyAssign DivideAssign FloorDivideAssign ModuloAssign PowerAssign "
               "MatrixMultiplyAssign LeftShiftAssign RightShiftAssign BitOrAssign BitXorAssign BitAndAssign",
    BaseUnaryOp: "Minus Plus Not BitInvert",
    BaseBooleanOp: "And Or",
    BaseCompOp: "Equal NotEqual LessThan LessThanEqual GreaterThan GreaterThanEqual Is IsNot In NotIn",
}
OPERATORS = {name: _node(name, base) for base, names in _OPERATOR_NAMES.items() for name in names.split()}
globals().update(OPERATORS)  # cst.Minus, cst.AddAssign, ... for the analysis's isinstance checks


# ast's range of these starts at their own "(" (a sole generator argument's: the call's); libcst's at the first element
_PARENTHESIZED = (Tuple, GeneratorExp)
_WRAPPERS = (Element, Arg, SubscriptElement, Index)


def _own_parenthesis(node: Any, builder: Any) -> bool:
    """The "(" at the start of a tuple's (a generator's) range is its own, not its first element's."""
    if type(node) is Tuple:
        return encloses(builder.segment(node._r))
    return bool(node.elt._r[:2] != node._r[:2])


def encloses(text: str) -> bool:
    """``text`` is one parenthesized group: ``(a, b)``, not ``(a), b`` or ``(a), (b)``."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth, quote = 0, ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return True


def _quote(self: Any) -> str:
    raw = self.value.lstrip("rbuRBUfF")
    return raw[:3] if raw[:3] in ('"""', "'''") else raw[:1]


SimpleString.quote = property(_quote)


def made_string(value: str) -> Any:
    """A string node the analysis makes (no place in the source; its code is its literal)."""
    return SimpleString((0, 0, 0, 0), value=repr(value), evaluated_value=value)


def made(node: Any) -> bool:
    """``node`` was made by the analysis, not read from the source."""
    return isinstance(node, FastNode) and not node._r[0]


if __name__ == "__main__":  # python -m normlint.lint.nodes: rewrite node_code.py
    from pathlib import Path

    from normlint.lint import nodes as _self  # the classes as the package defines them

    Path(__file__).with_name("node_code.py").write_text(_self.node_code_module())
