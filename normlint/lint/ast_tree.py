"""A tree of normlint.lint.nodes built from CPython's ``ast``: what the analysis reads when no fix is placed.

libcst's parser costs ~12x CPython's (``ast.parse``) per byte, and importing libcst alone costs more than
linting a small project. The builder maps each ``ast`` node to the node libcst would have made (an
``Arg`` per argument in source order, an ``Element`` per list item, a ``SimpleStatementLine`` per line of
small statements, ``elif`` as an ``If`` in ``orelse``...), each with its ``ast`` range.

Positions come from ``ast`` (line, UTF-8 byte column), converted to characters only for the nodes asked
for (``Module.position``, where libcst's PositionProvider places them); ``Module.code_for_node`` slices
the source. Rendering new code (a fix's edits) needs libcst's tree: the engine uses this one when no fix
is placed (flake8, the text report) and parses with libcst what this module cannot build or a rule's fix
must render (``Unsupported``).
"""

from __future__ import annotations

import ast
import keyword
import operator
import re
from typing import Any, Callable, Iterable, Iterator

from normlint.lint.compiler_checks import ASYNC_DEF, DEF, ENABLED, LAMBDA, MODULE, CompilerChecks
from normlint.lint.fixes import Offsets
from normlint.lint.index import CallSite, IndexRecorder, _bound, _import, _import_from, with_calls
from normlint.lint.nodes import (
    AnnAssign, Annotation, Arg, AsName, Assert, Assign, AssignTarget, Attribute, AugAssign, Await,
    BinaryOperation, BooleanOperation, Break, Call, ClassDef, CompFor, CompIf, Comparison, ComparisonTarget,
    Continue, Decorator, Del, Dict, DictComp, DictElement, Element, Ellipsis, Else, ExceptHandler,
    ExceptStarHandler, Expr, Finally, Float, For, FormattedString, FormattedStringExpression, From,
    FunctionDef, GeneratorExp, Global, If, IfExp, Imaginary, Import, ImportAlias, ImportFrom, ImportStar,
    IndentedBlock, Index, Integer, Lambda, List, ListComp, Match, MatchAs, MatchCase, MatchPattern, Module,
    Name, NameItem, NamedExpr, Nonlocal, Param, ParamStar, Parameters, Pass, Raise, Return, Set, SetComp,
    SimpleStatementLine, SimpleStatementSuite, SimpleString, Slice, StarredDictElement, StarredElement,
    Subscript, SubscriptElement, Try, TryStar, Tuple, UnaryOperation, Unsupported, While, With, WithItem,
    Yield, OPERATORS, encloses,
)

__all__ = ["Unsupported", "build"]


def _ops(pairs: str) -> dict[type, Any]:
    """{ast's operator class: the shared node} from "Add:Add Sub:Subtract ..."."""
    return {getattr(ast, a): OPERATORS[b](None) for a, b in (pair.split(":") for pair in pairs.split())}


_BIN = "Add:Add Sub:Subtract Mult:Multiply Div:Divide FloorDiv:FloorDivide Mod:Modulo Pow:Power MatMult:MatrixMultiply " \
       "LShift:LeftShift RShift:RightShift BitOr:BitOr BitXor:BitXor BitAnd:BitAnd"
_BINOP = _ops(_BIN)
_AUGOP = _ops(" ".join(f"{pair}Assign" for pair in _BIN.split()))
_UNARY = _ops("USub:Minus UAdd:Plus Not:Not Invert:BitInvert")
_BOOL = _ops("And:And Or:Or")
_CMP = _ops("Eq:Equal NotEq:NotEqual Lt:LessThan LtE:LessThanEqual Gt:GreaterThan GtE:GreaterThanEqual Is:Is IsNot:IsNot "
            "In:In NotIn:NotIn")


class _Dispatch(dict):
    """The builder's table of node kinds: a kind it does not know is Unsupported."""

    def __missing__(self, key: type) -> Any:
        raise Unsupported(key.__name__)


# a node's range as ast gives it: (lineno, col_offset, end_lineno, end_col_offset), read in C
_r: Callable[[Any], tuple[int, int, int, int]] = operator.attrgetter("lineno", "col_offset", "end_lineno", "end_col_offset")


_LINES = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+$")
# what str.splitlines() also ends a line at and ast does not: in ASCII, and beyond it
_ASCII_OTHER_LINE_ENDS = ("\v", "\f", "\x1c", "\x1d", "\x1e")
_OTHER_LINE_ENDS = (*_ASCII_OTHER_LINE_ENDS, "\x85", "\u2028", "\u2029")


def source_lines(source: str) -> list[str]:
    """The lines ``ast`` counts, each with its line end (\\r\\n, \\r or \\n end one)."""
    if not any(c in source for c in (_ASCII_OTHER_LINE_ENDS if source.isascii() else _OTHER_LINE_ENDS)):
        return source.splitlines(True)  # the same lines, cheaper than the regex
    return _LINES.findall(source)


class _Builder(CompilerChecks, IndexRecorder):
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source_lines(source)
        self.ascii = source.isascii()  # byte columns are character columns
        self._offsets: Offsets | None = None

    # ---- positions
    def offsets(self) -> Offsets:
        """The source's line starts (the lines ``ast`` counts: \\r\\n, \\r and \\n end one)."""
        if self._offsets is None:
            self._offsets = Offsets(self.source, self.lines)
        return self._offsets

    def offset(self, line: int, col: int) -> int:
        """The character offset of ``ast``'s (line, UTF-8 byte column)."""
        if not self.ascii:
            text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
            if not text.isascii():
                col = len(text.encode("utf-8", "surrogatepass")[:col].decode("utf-8", "surrogatepass"))
        return self.offsets().offset(line, col)

    def line_col(self, offset: int) -> tuple[int, int]:
        """(line, 0-based character column) of a character offset."""
        line, col = self.offsets().position(offset)
        return line, col - 1

    def span(self, r: tuple[int, int, int, int]) -> tuple[int, int]:
        """Character offsets of a range, widened over the parentheses that belong to the node: libcst
        keeps ``(Conv2D(...))`` in the node; ``ast`` leaves them out. A ``(`` after a name, ``)`` or
        ``]`` opens a call's arguments, not the node's own group."""
        src = self.source
        start, end = self.offset(r[0], r[1]), self.offset(r[2], r[3])
        while True:
            i = start - 1
            while i >= 0 and src[i] in " \t\r\n\\":
                i -= 1
            j = end
            while j < len(src) and src[j] in " \t\r\n\\":
                j += 1
            if i < 0 or j >= len(src) or src[i] != "(" or src[j] != ")":
                return start, end
            k = i - 1
            while k >= 0 and src[k] in " \t\\":
                k -= 1
            if k >= 0 and (src[k] in ")]\"'" or src[k].isalnum() or src[k] == "_"):
                w = k
                while w >= 0 and (src[w].isalnum() or src[w] == "_"):
                    w -= 1
                if not keyword.iskeyword(src[w + 1:k + 1]):
                    return start, end
            start, end = i, j + 1

    # ---- helpers
    def e(self, a: ast.AST) -> Any:
        return _EXPR[type(a)](self, a)

    def opt(self, a: ast.AST | None) -> Any:
        return None if a is None else self.e(a)

    def word(self, word: str, line: int, col: int) -> Any:
        """A Name for ``word`` that the source holds at or after (line, byte col)."""
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        raw: Any = text
        needle: Any = word
        if not self.ascii and not text.isascii():
            raw, needle = text.encode("utf-8", "surrogatepass"), word.encode("utf-8", "surrogatepass")
        at = raw.find(needle, col)
        if at == -1:
            at = col
        return Name((line, at, line, at + len(needle)), word)

    def name_at_end(self, word: str, a: Any) -> Any:
        n = len(word.encode("utf-8", "surrogatepass")) if not word.isascii() else len(word)
        return Name((a.end_lineno, a.end_col_offset - n, a.end_lineno, a.end_col_offset), word)

    def block(self, stmts: list[ast.stmt], class_body: bool = False) -> Any:
        first, last = stmts[0], stmts[-1]
        r = (first.lineno, first.col_offset, last.end_lineno, last.end_col_offset)
        saved, self._class_body = self._class_body, class_body
        if self._before(first).rstrip().endswith(":"):  # `if x: y = 1`: the header's line holds the body
            built = SimpleStatementSuite(r, body=[self._small(x) for x in stmts])
        else:
            built = IndentedBlock(r, body=self.statements(stmts))
        self._class_body = saved
        return built

    def _before(self, a: ast.stmt) -> str:
        """The text of ``a``'s first line before it."""
        text = self.lines[a.lineno - 1]
        return text[:a.col_offset] if text.isascii() else text.encode("utf-8", "surrogatepass")[:a.col_offset].decode(
            "utf-8", "surrogatepass")

    def statements(self, stmts: Iterable[ast.stmt]) -> list[Any]:
        """libcst's statements: compound ones, and lines of small ones (``a = 1; b = 2`` is one line)."""
        out: list[Any] = []
        for a in stmts:
            fn = _STMT.get(type(a))
            if fn is not None:
                out.append(fn(self, a))
                continue
            small = self._small(a)
            prev: Any = out[-1] if out else None
            if type(prev) is SimpleStatementLine and prev._r[2] == a.lineno and self._before(a).rstrip().endswith(";"):
                prev.body.append(small)
                prev._r = (prev._r[0], prev._r[1], a.end_lineno, a.end_col_offset)
            else:
                out.append(SimpleStatementLine(_r(a), [small]))  # body
        return out

    def _small(self, a: ast.stmt) -> Any:
        small = _SMALL.get(type(a))
        if small is None:
            raise Unsupported(type(a).__name__)
        return small(self, a)

    def module(self, tree: ast.Module, consume: bool = False) -> Any:
        """``consume``: take the top-level statements out of ``tree`` as they are built, so that each one's
        ``ast`` nodes are freed as soon as its own are made (``tree`` is left empty)."""
        return Module((1, 0, 1, 0), body=self.statements(_taken(tree) if consume else tree.body), _b=self)

    # ---- expressions
    def name(self, a: ast.Name) -> Any:
        return Name(_r(a), a.id)

    def attribute(self, a: ast.Attribute) -> Any:
        value = a.value
        return Attribute(_r(a), _EXPR[type(value)](self, value), self.name_at_end(a.attr, a))  # value, attr

    def call(self, a: ast.Call) -> Any:
        site = CallSite(None, self._cls, self._method, self._withs, None)  # type: ignore[arg-type]  # as the call begins
        self._sites.append(site)
        func = _EXPR[type(a.func)](self, a.func)
        positional, keywords = a.args, a.keywords
        if keywords and positional and (keywords[0].lineno, keywords[0].col_offset) < (positional[-1].lineno, positional[-1].col_offset):
            # f(x=1, *rest): source order, as libcst keeps it
            mixed: list[Any] = [*positional, *keywords]
            args = [self.keyword(x) if type(x) is ast.keyword else self.arg(x)
                    for x in sorted(mixed, key=lambda x: (x.lineno, x.col_offset))]
        else:
            args = [self.arg(x) for x in positional] if positional else []
            if keywords:
                args += [self.keyword(k) for k in keywords]
        if len(keywords) > 1:
            self._check_keywords(keywords)
        if len(args) == 1 and type(args[0].value) is GeneratorExp and self._opens_call(a, args[0].value):
            args[0]._r = args[0].value.elt._r  # f(x for x in y): the "(" is the call's; libcst's Arg starts at x
        site.node = node = Call(_r(a), func, tuple(args))  # func, args
        return node

    def _opens_call(self, call: ast.Call, genexp: Any) -> bool:
        """The "(" where ``genexp``'s ast range starts is the call's own (a sole generator argument)."""
        start = self.offset(call.func.end_lineno, call.func.end_col_offset)  # type: ignore[arg-type]
        src = self.source
        while start < len(src) and src[start] in " \t\r\n\\)":  # `(f)(x for x in y)`: past f's own ")"
            start += 1
        return start == self.offset(genexp._r[0], genexp._r[1])

    def arg(self, a: ast.expr) -> Any:
        if type(a) is ast.Starred:
            return Arg(_r(a), self.e(a.value), None, "*")  # value, keyword, star
        value = _EXPR[type(a)](self, a)
        return Arg(value._r, value, None, "")

    def keyword(self, k: ast.keyword) -> Any:
        if k.arg is None:
            return Arg(_r(k), self.e(k.value), None, "**")  # value, keyword, star
        value = k.value
        return Arg(_r(k), _EXPR[type(value)](self, value), self.word(k.arg, k.lineno, k.col_offset), "")

    def constant(self, a: ast.Constant) -> Any:
        v = a.value
        r = _r(a)
        if v is None or v is True or v is False:
            return Name(r, value=str(v))
        if v is ...:
            return Ellipsis(r)
        t = type(v)  # ast's constants are of these exact types
        if t is str or t is bytes:
            return SimpleString(r, self.segment(r), v)  # value, evaluated_value
        cls = Integer if t is int else Float if t is float else Imaginary
        return cls(r, self.segment(r))  # value

    def segment(self, r: tuple[int, int, int, int]) -> str:
        if r[0] == r[2]:  # most constants: one line, where byte columns are characters unless it is not ASCII
            text = self.lines[r[0] - 1]
            if self.ascii or text.isascii():
                return text[r[1]:r[3]]
        return self.source[self.offset(r[0], r[1]):self.offset(r[2], r[3])]

    def elements(self, elts: list[ast.expr]) -> list[Any]:
        return [StarredElement(_r(x), value=self.e(x.value)) if type(x) is ast.Starred
                else self._element(self.e(x)) for x in elts]

    @staticmethod
    def _element(value: Any) -> Any:
        return Element(value._r, value)

    def sequence(self, a: Any) -> Any:
        cls = Tuple if type(a) is ast.Tuple else List if type(a) is ast.List else Set
        if cls is not Set:
            self._check_unpacking(a.elts, a.ctx)
        return cls(_r(a), elements=self.elements(a.elts))

    def dict(self, a: ast.Dict) -> Any:
        out = []
        for k, v in zip(a.keys, a.values):
            if k is None:
                value = self.e(v)
                out.append(StarredDictElement(value._r, value=value))
            else:
                key = self.e(k)
                value = self.e(v)
                out.append(DictElement((key._r[0], key._r[1], value._r[2], value._r[3]), key=key, value=value))
        return Dict(_r(a), elements=out)

    def subscript(self, a: ast.Subscript) -> Any:
        parts = a.slice.elts if isinstance(a.slice, ast.Tuple) and not self._parenthesized(a.slice) else [a.slice]
        value = self.e(a.value)
        elements = []
        for p in parts:
            inner = self.e(p)
            piece = inner if type(p) is ast.Slice else Index(inner._r, value=inner)
            elements.append(SubscriptElement(inner._r, slice=piece))
        return Subscript(_r(a), value=value, slice=tuple(elements))

    def _parenthesized(self, t: ast.Tuple) -> bool:
        """``x[(a, b)]``: one index, as libcst reads it (``x[a, b]`` and ``x[(a), 1]`` are two)."""
        return encloses(self.segment(_r(t)))

    def slice(self, a: ast.Slice) -> Any:
        r = _r(a) if hasattr(a, "lineno") else (0, 0, 0, 0)
        return Slice(r, lower=self.opt(a.lower), upper=self.opt(a.upper), step=self.opt(a.step))

    def binop(self, a: ast.BinOp) -> Any:
        return BinaryOperation(_r(a), left=self.e(a.left), operator=_BINOP[type(a.op)], right=self.e(a.right))

    def unary(self, a: ast.UnaryOp) -> Any:
        return UnaryOperation(_r(a), operator=_UNARY[type(a.op)], expression=self.e(a.operand))

    def boolop(self, a: ast.BoolOp) -> Any:
        op = _BOOL[type(a.op)]
        left = self.e(a.values[0])
        for v in a.values[1:]:  # libcst nests left to right: (a and b) and c
            right = self.e(v)
            left = BooleanOperation((a.lineno, a.col_offset, right._r[2], right._r[3]), left=left, operator=op, right=right)
        return left

    def compare(self, a: ast.Compare) -> Any:
        left = self.e(a.left)
        targets = [ComparisonTarget(c._r, operator=_CMP[type(op)], comparator=c)
                   for op, c in zip(a.ops, (self.e(x) for x in a.comparators))]
        return Comparison(_r(a), left=left, comparisons=targets)

    def ifexp(self, a: ast.IfExp) -> Any:
        test = self.e(a.test)
        return IfExp(_r(a), body=self.e(a.body), test=test, orelse=self.e(a.orelse))

    def lambda_(self, a: ast.Lambda) -> Any:
        params = self.parameters(a.args)
        saved = self._enter(LAMBDA)
        body = self.e(a.body)
        self._leave(saved)
        return Lambda(_r(a), params=params, body=body)

    def named(self, a: ast.NamedExpr) -> Any:
        self._risk(":=")
        node = NamedExpr(_r(a), target=self.e(a.target), value=self.e(a.value))
        _bound(self.index, node, NamedExpr)
        return node

    def comp(self, a: Any) -> Any:
        self._comp += 1
        if any(g.is_async for g in a.generators):
            self._check_async()
        built = self._comp_node(a)
        self._comp -= 1
        return built

    def _comp_node(self, a: Any) -> Any:
        dict_comp = type(a) is ast.DictComp
        first = (self.e(a.key), self.e(a.value)) if dict_comp else self.e(a.elt)
        parts = []
        for g in a.generators:
            target = self.e(g.target)
            it = self.e(g.iter)
            parts.append((g, target, it, [CompIf(_r(c), test=self.e(c)) for c in g.ifs]))
        for_in = None
        for g, target, it, ifs in reversed(parts):
            for_in = CompFor(target._r, target=target, iter=it, ifs=ifs, inner_for_in=for_in,
                             asynchronous=bool(g.is_async))
            _bound(self.index, for_in, CompFor)
        if dict_comp:
            return DictComp(_r(a), key=first[0], value=first[1], for_in=for_in)
        cls = ListComp if type(a) is ast.ListComp else SetComp if type(a) is ast.SetComp else GeneratorExp
        return cls(_r(a), elt=first, for_in=for_in)

    def cause(self, a: ast.expr | None) -> Any:
        value = self.opt(a)
        return None if value is None else From(value._r, item=value)  # raise ... from <cause>

    def await_(self, a: ast.Await) -> Any:
        self._check_await()
        return Await(_r(a), expression=self.e(a.value))

    def yield_(self, a: Any) -> Any:
        self._check_yield()
        value = self.opt(a.value)
        if type(a) is ast.YieldFrom:
            value = From(value._r, item=value)
        return Yield(_r(a), value=value)

    def fstring(self, a: ast.JoinedStr) -> Any:
        return FormattedString(_r(a), parts=[self.e(v) for v in a.values if type(v) is ast.FormattedValue])

    def fvalue(self, a: ast.FormattedValue) -> Any:
        expression = self.e(a.value)
        spec = self.opt(a.format_spec)
        r = _r(a) if hasattr(a, "lineno") else (0, 0, 0, 0)
        return FormattedStringExpression(r, expression=expression, format_spec=spec.parts if spec else None)

    def starred(self, a: ast.Starred) -> Any:
        self._risk("a starred expression")  # arguments and display elements are built elsewhere
        return StarredElement(_r(a), value=self.e(a.value))

    # ---- simple statements
    def target(self, t: ast.expr) -> Any:
        if isinstance(t, (ast.Tuple, ast.List)):
            self._check_unpacking(t.elts, t.ctx)
            return (Tuple if type(t) is ast.Tuple else List)(_r(t), elements=self.elements(t.elts))
        return self.e(t)

    def assign(self, s: ast.Assign) -> Any:
        targets = []
        for t in s.targets:
            target = self.target(t)
            targets.append(AssignTarget(target._r, target))
        first_site = len(self.index.calls)
        node = Assign(_r(s), targets, self.e(s.value))  # targets, value
        self._assigned(node, first_site)
        return node

    def annassign(self, s: ast.AnnAssign) -> Any:
        if self._globals:
            self._check_annotated(s.target)
        target = self.e(s.target)
        ann = self.annotation(s.annotation)
        node = AnnAssign(_r(s), target=target, annotation=Annotation(ann._r, annotation=ann), value=self.opt(s.value))
        _bound(self.index, node, AnnAssign)
        return node

    def augassign(self, s: ast.AugAssign) -> Any:
        node = AugAssign(_r(s), target=self.e(s.target), operator=_AUGOP[type(s.op)], value=self.e(s.value))
        _bound(self.index, node, AugAssign)
        return node

    def delete(self, s: ast.Delete) -> Any:
        targets = [self.target(t) for t in s.targets]
        target = targets[0] if len(targets) == 1 else Tuple(_r(s), elements=[self._element(t) for t in targets])
        return Del(_r(s), target=target)

    def names_stmt(self, s: Any) -> Any:
        self._check_scope_names(s)
        cls = Global if type(s) is ast.Global else Nonlocal
        items, col = [], s.col_offset
        for n in s.names:
            name = self.word(n, s.lineno, col + 1)
            col = name._r[3]
            items.append(NameItem(name._r, name=name))
            if cls is Global:
                self.index.bind_counts[n] += 1
        return cls(_r(s), names=items)

    def dotted(self, text: str, a: Any) -> Any:
        parts = text.split(".")
        line, col = a.lineno, a.col_offset
        node = self.word(parts[0], line, col)
        col = node._r[1]
        for p in parts[1:]:
            attr = self.word(p, line, node._r[3])
            node = Attribute((line, col, line, attr._r[3]), value=node, attr=attr)
        return node

    def alias(self, a: ast.alias) -> Any:
        name = self.dotted(a.name, a) if a.name != "*" else None
        asname = None
        if a.asname is not None:
            n = self.name_at_end(a.asname, a)
            asname = AsName(n._r, name=n)
        return ImportAlias(_r(a), name=name, asname=asname)

    def import_(self, s: ast.Import) -> Any:
        node = Import(_r(s), names=[self.alias(a) for a in s.names])
        _import(self.index, node)
        return node

    def import_from(self, s: ast.ImportFrom) -> Any:
        self._check_import_from(s)
        module = None
        if s.module:
            text = self.segment(_r(s))
            at = text.find(s.module.split(".")[0], 4)
            line = s.lineno + text.count("\n", 0, at)
            module = self.dotted(s.module, _Pos(line, 0 if line != s.lineno else s.col_offset))
        if len(s.names) == 1 and s.names[0].name == "*":
            names: Any = ImportStar(_r(s.names[0]))
        else:
            names = [self.alias(a) for a in s.names]
        node = ImportFrom(_r(s), module=module, names=names, relative="." * (s.level or 0))
        _import_from(self.index, node)
        return node

    # ---- compound statements
    def decorators(self, s: Any) -> list[Any]:
        out = []
        for d in s.decorator_list:
            expr = self.e(d)
            line = d.lineno
            text = self.lines[line - 1]
            at = text.rfind("@", 0, d.col_offset if text.isascii() else len(text.encode()[:d.col_offset].decode()))
            col = d.col_offset - 1 if at == -1 else (at if text.isascii() else len(text[:at].encode()))
            out.append(Decorator((line, col, d.end_lineno, d.end_col_offset), decorator=expr))
        return out

    def parameters(self, a: ast.arguments) -> Any:
        self._check_params(a)
        positional = [*a.posonlyargs, *a.args]
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        n = len(a.posonlyargs)  # built in FIELDS order: params, star_arg, kwonly_params, star_kwarg, posonly_params
        params = [self.param(p, d) for p, d in zip(positional[n:], defaults[n:])]
        star_arg: Any = self.param(a.vararg, None, "*") if a.vararg else None
        kwonly = [self.param(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
        if star_arg is None and kwonly:
            star_arg = ParamStar((0, 0, 0, 0))
        star_kwarg = self.param(a.kwarg, None, "**") if a.kwarg else None
        posonly = [self.param(p, d) for p, d in zip(positional[:n], defaults[:n])]
        return Parameters((0, 0, 0, 0), params=params, posonly_params=posonly, kwonly_params=kwonly,
                          star_arg=star_arg, star_kwarg=star_kwarg)

    def param(self, p: ast.arg, default: ast.expr | None, star: str = "") -> Any:
        name = Name((p.lineno, p.col_offset, p.lineno, p.col_offset + len(p.arg.encode())), value=p.arg)
        self.index.bind_counts[p.arg] += 1
        ann = None
        if p.annotation is not None:
            inner = self.annotation(p.annotation)
            ann = Annotation(inner._r, annotation=inner)
        d = self.opt(default)
        r = _r(p) if d is None else (p.lineno, p.col_offset, d._r[2], d._r[3])
        if star:  # libcst's Param starts at its * or **
            text = self.lines[p.lineno - 1]
            raw: Any = text if text.isascii() else text.encode("utf-8", "surrogatepass")
            at = raw.rfind(star if text.isascii() else star.encode(), 0, p.col_offset)
            r = (r[0], at if at != -1 else r[1], r[2], r[3])
        return Param(r, name=name, annotation=ann, default=d, star=star)

    def function(self, s: Any) -> Any:
        claim = self._claim(self.index.functions, s.name)
        method = self._method
        if self._class_body:  # a method: defined directly in a class body
            self._method = s.name
        params = self.parameters(s.args)  # FIELDS order: name, params, body, decorators, returns
        is_async = type(s) is ast.AsyncFunctionDef
        saved = self._enter(ASYNC_DEF if is_async else DEF, s)
        body = self.block(s.body)
        self._leave(saved)
        decorators = self.decorators(s)
        returns = None
        if s.returns is not None:
            inner = self.annotation(s.returns)
            returns = Annotation(inner._r, annotation=inner)
        self._method = method
        node = FunctionDef(_r(s), name=self.word(s.name, s.lineno, s.col_offset + 3),
                           params=params, body=body, decorators=decorators, returns=returns, asynchronous=is_async)
        if claim:
            self.index.functions[s.name] = node
        return node

    def class_(self, s: ast.ClassDef) -> Any:
        claim = self._claim(self.index.classes, s.name)
        marker, first_site = object(), len(self.index.calls)  # the class of the calls in it, until it is made
        place, self._cls, self._method = (self._cls, self._method), marker, None
        saved = self._enter(MODULE)  # a class body: no return, yield or await; a new block count
        body = self.block(s.body, class_body=True)  # FIELDS order: name, body, bases, keywords, decorators
        self._leave(saved)
        bases, keywords = [self.arg(b) for b in s.bases], [self.keyword(k) for k in s.keywords]
        self._check_keywords(s.keywords)
        decorators = self.decorators(s)
        self._cls, self._method = place
        node = ClassDef(_r(s), name=self.word(s.name, s.lineno, s.col_offset + 5),
                        body=body, bases=bases, keywords=keywords, decorators=decorators)
        self._class_made(node, marker, first_site)
        if claim:
            self.index.classes[s.name] = node
        return node

    def annotation(self, a: ast.expr) -> Any:
        """An annotation's expression (yield and await are not for annotations)."""
        self._comp += 1
        inner = self.e(a)
        self._comp -= 1
        return inner

    def return_(self, s: ast.Return) -> Any:
        self._check_return()
        return Return(_r(s), value=self.opt(s.value))

    def loop_jump(self, s: Any) -> Any:
        self._check_loop_jump()
        return (Break if type(s) is ast.Break else Continue)(_r(s))

    def orelse(self, stmts: list[ast.stmt]) -> Any:
        if not stmts:
            return None
        first = stmts[0]
        if len(stmts) == 1 and type(first) is ast.If and self._is_elif(first):
            return self.if_(first)
        return Else((first.lineno, first.col_offset, stmts[-1].end_lineno, stmts[-1].end_col_offset),
                    body=self.block(stmts))

    def _is_elif(self, s: ast.If) -> bool:
        """``elif x:`` (libcst: an If in orelse), not ``else:`` holding an ``if`` (an Else)."""
        return self.segment((s.lineno, s.col_offset, s.lineno, s.col_offset + 4)) == "elif"

    def if_(self, s: ast.If) -> Any:
        return If(_r(s), test=self.e(s.test), body=self.block(s.body), orelse=self.orelse(s.orelse))

    def for_(self, s: Any) -> Any:
        if type(s) is ast.AsyncFor:
            self._check_async()
        target, it = self.target(s.target), self.e(s.iter)
        node = For(_r(s), target=target, iter=it, body=self.loop_body(s.body), orelse=self.orelse(s.orelse),
                   asynchronous=type(s) is ast.AsyncFor)
        _bound(self.index, node, For)
        return node

    def while_(self, s: ast.While) -> Any:
        test = self.e(s.test)
        return While(_r(s), test=test, body=self.loop_body(s.body), orelse=self.orelse(s.orelse))

    def loop_body(self, stmts: list[ast.stmt]) -> Any:
        saved = self._loop_body()
        body = self.block(stmts)
        self._restore_loop(saved)  # the loop's else: is outside it
        return body

    def inner_block(self, stmts: list[ast.stmt], blocks: int) -> Any:
        """A try/with body: ``blocks`` more static blocks open (CPython's limit is per function)."""
        saved = self._blocks_in(blocks)
        body = self.block(stmts)
        self._restore_loop(saved)
        return body

    def with_(self, s: Any) -> Any:
        if type(s) is ast.AsyncWith:
            self._check_async()
        items = []
        for i in s.items:
            item = self.e(i.context_expr)
            asname = None
            if i.optional_vars is not None:
                target = self.target(i.optional_vars)
                asname = AsName(target._r, name=target)
                self.index.bind(target)
            end = asname._r if asname is not None else item._r
            items.append(WithItem((item._r[0], item._r[1], end[2], end[3]), item=item, asname=asname))
        withs = self._withs  # the context-manager calls are outside the block they open
        self._withs = withs + with_calls(items)
        body = self.inner_block(s.body, len(items))
        self._withs = withs
        return With(_r(s), items=items, body=body, asynchronous=type(s) is ast.AsyncWith)

    def try_(self, s: Any) -> Any:
        star = type(s) is not ast.Try
        if star:
            self._risk("except*")
        self._check_handlers(s.handlers)
        body = self.inner_block(s.body, 2)  # FIELDS order: body, handlers, orelse, finalbody
        handlers = []
        for h in s.handlers:
            name = None
            if h.name is not None:
                n = self.word(h.name, h.lineno, (h.type.end_col_offset if h.type is not None and h.type.lineno == h.lineno else h.col_offset))
                name = AsName(n._r, name=n)
            handlers.append((ExceptStarHandler if star else ExceptHandler)(_r(h), body=self.inner_block(h.body, 3),
                                                                           type=self.opt(h.type), name=name))
            if name is not None and not star:
                self.index.bind(name.name)
        orelse = self._try_else(s.orelse)
        finalbody = None
        if s.finalbody:
            b = self.inner_block(s.finalbody, 2)
            finalbody = Finally(b._r, body=b)
        return (TryStar if star else Try)(_r(s), body=body, handlers=handlers, orelse=orelse, finalbody=finalbody)

    def _try_else(self, stmts: list[ast.stmt]) -> Any:
        if not stmts:
            return None
        saved = self._blocks_in(2)
        built = self.orelse(stmts)
        self._restore_loop(saved)
        return built

    def match(self, s: Any) -> Any:
        self._risk("match")
        subject = self.e(s.subject)
        cases = [MatchCase(_r(c.pattern), pattern=self.pattern(c.pattern), body=self.block(c.body),
                           guard=self.opt(c.guard)) for c in s.cases]
        return Match(_r(s), subject=subject, cases=cases)

    def pattern(self, p: Any) -> Any:
        if type(p) is ast.MatchAs:
            name = self.name_at_end(p.name, p) if p.name else None
            if name is not None:
                self.index.bind(name)
            return MatchAs(_r(p), pattern=self.pattern(p.pattern) if p.pattern else None, name=name)
        parts = []
        for field in ("value", "patterns", "cls", "kwd_patterns", "keys", "pattern"):
            v = getattr(p, field, None)
            for x in (v if isinstance(v, list) else [v] if v is not None else []):
                parts.append(self.pattern(x) if isinstance(x, ast.pattern) else self.e(x))
        return MatchPattern(_r(p), parts=parts)


# The builder's dispatch tables: plain functions taking the builder, kept on no builder (bound methods in
# an instance's dict would tie the builder, its index and so the whole tree into a reference cycle that
# only the cyclic collector frees: it then walks every node of every file; see FileContext.release).
_B = _Builder
_EXPR: dict[type, Callable[[Any, Any], Any]] = _Dispatch({
    ast.Name: _B.name, ast.Attribute: _B.attribute, ast.Call: _B.call, ast.Constant: _B.constant,
    ast.Tuple: _B.sequence, ast.List: _B.sequence, ast.Set: _B.sequence, ast.Dict: _B.dict,
    ast.Subscript: _B.subscript, ast.BinOp: _B.binop, ast.UnaryOp: _B.unary, ast.BoolOp: _B.boolop,
    ast.Compare: _B.compare, ast.IfExp: _B.ifexp, ast.Lambda: _B.lambda_, ast.NamedExpr: _B.named,
    ast.ListComp: _B.comp, ast.SetComp: _B.comp, ast.GeneratorExp: _B.comp, ast.DictComp: _B.comp,
    ast.Await: _B.await_, ast.Yield: _B.yield_, ast.YieldFrom: _B.yield_, ast.JoinedStr: _B.fstring,
    ast.FormattedValue: _B.fvalue, ast.Starred: _B.starred, ast.Slice: _B.slice,
})
_STMT: dict[type, Callable[[Any, Any], Any]] = {
    ast.FunctionDef: _B.function, ast.AsyncFunctionDef: _B.function, ast.ClassDef: _B.class_,
    ast.If: _B.if_, ast.For: _B.for_, ast.AsyncFor: _B.for_, ast.While: _B.while_,
    ast.With: _B.with_, ast.AsyncWith: _B.with_, ast.Try: _B.try_, ast.Match: _B.match,
}
if hasattr(ast, "TryStar"):
    _STMT[ast.TryStar] = _B.try_
_SMALL: dict[type, Callable[[Any, Any], Any]] = {
    ast.Expr: lambda b, s: Expr(_r(s), b.e(s.value)),  # the hot nodes take their fields by position: value
    ast.Assign: _B.assign, ast.AnnAssign: _B.annassign, ast.AugAssign: _B.augassign,
    ast.Return: _B.return_,
    ast.Raise: lambda b, s: Raise(_r(s), exc=b.opt(s.exc), cause=b.cause(s.cause)),
    ast.Assert: lambda b, s: Assert(_r(s), test=b.e(s.test), msg=b.opt(s.msg)),
    ast.Delete: _B.delete, ast.Global: _B.names_stmt, ast.Nonlocal: _B.names_stmt,
    ast.Import: _B.import_, ast.ImportFrom: _B.import_from,
    ast.Pass: lambda b, s: Pass(_r(s)), ast.Break: _B.loop_jump, ast.Continue: _B.loop_jump,
}


class _Pos:
    def __init__(self, lineno: int, col_offset: int) -> None:
        self.lineno, self.col_offset = lineno, col_offset


def build(source: str, tree: ast.Module | None = None, consume: bool = False) -> Any:
    """The Module of ``source`` (``tree``: its ``ast.parse``, when the caller has it). Raises SyntaxError
    (and ValueError, RecursionError, MemoryError) as ``ast.parse`` does, and ``Unsupported`` for a
    construct the tree does not model. ``consume``: ``tree`` is the caller's to give up: its statements
    are taken out (and freed) as they are built, whether or not the build succeeds."""
    if tree is None:
        tree, consume = ast.parse(source), True
    return builder(source, tree).module(tree, consume)


def _taken(tree: ast.Module) -> Iterator[ast.stmt]:
    """``tree``'s top-level statements, each taken out of it as it is handed over."""
    body, tree.body = tree.body, []
    body.reverse()
    while body:
        yield body.pop()


def builder(source: str, tree: ast.Module) -> _Builder:
    """The builder of ``source``'s tree, its compiler checks started (``build`` for the usual call)."""
    b = _Builder(source)
    b._start_checks(source, tree)
    b._start_index()
    if not ENABLED:
        b.unsafe = "compiler checks not verified on this Python"
    return b
