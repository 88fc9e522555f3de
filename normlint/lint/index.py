"""One fast pass over a parsed module: imports, bindings, classes, functions and every call in context.

libcst's visitor machinery rebuilds nodes as it goes and costs ~10x a parse; this walker reads the
dataclass fields that hold code (not whitespace or punctuation) with an explicit stack.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterator, Sequence

from normlint.lint.syntax import cst
from normlint.records import field, record

from normlint.lint.nodes import KIND, FastNode, kind

_SKIP_FIELDS = frozenset(
    {"lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators", "header", "footer",
     "newline", "colon", "equal", "dot", "star", "lbracket", "rbracket", "lbrace", "rbrace", "asynchronous",
     "trailing_whitespace", "first_line", "operator", "default_indent", "default_newline", "encoding",
     "has_trailing_newline", "whitespace", "value_whitespace"}
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(t: type) -> tuple[str, ...]:
    names = _FIELDS.get(t)  # a libcst class (a fast node's children come from its own kids())
    if names is None:
        import dataclasses  # libcst's nodes are dataclasses (and libcst imports the module anyway)

        names = tuple(
            f.name for f in dataclasses.fields(t) if f.name not in _SKIP_FIELDS and not f.name.startswith("whitespace")
        )
        _FIELDS[t] = names
    return names


_IS_NODE: dict[type, bool] = {}


def _is_node(t: type) -> bool:
    r = _IS_NODE.get(t)
    if r is None:
        r = _IS_NODE[t] = issubclass(t, cst.CSTNode)
    return r


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    if isinstance(node, FastNode):
        return node.kids(node)  # type: ignore[attr-defined]
    out: list[cst.CSTNode] = []
    for name in child_fields(type(node)):
        v = getattr(node, name)
        t = type(v)
        if t is list or t is tuple:
            out.extend(x for x in v if _is_node(type(x)))
        elif _is_node(t):
            out.append(v)
    return out


# the expressions that are scopes of their own (their loop names are not the enclosing code's)
COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node under it (depth first, no recursion: generated code nests deep)."""
    todo = [node]
    while todo:
        n = todo.pop()
        yield n
        todo.extend(children(n))


def dotted(expr: cst.BaseExpression | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    kind = KIND[type(expr)]
    if kind is not cst.Attribute:  # most often a bare name
        return expr.value if kind is cst.Name else None  # type: ignore[union-attr]
    parts = []
    while KIND[type(expr)] is cst.Attribute:
        parts.append(expr.attr.value)  # type: ignore[union-attr]
        expr = expr.value  # type: ignore[union-attr]
    if KIND[type(expr)] is not cst.Name:
        return None
    parts.append(expr.value)
    return ".".join(reversed(parts))


@record(eq=False)
class CallSite:
    """One call in the file and where it stands."""

    node: cst.Call
    cls: cst.ClassDef | None  # innermost enclosing class
    method: str | None  # name of the function defined directly in that class that holds the call
    with_items: tuple[cst.Call, ...]  # context managers around it (calls only)
    assigned_to: cst.BaseExpression | None  # `target = <this call>`


@record
class FileIndex:
    imports: dict[str, str] = field(default_factory=dict)
    bind_counts: Counter = field(default_factory=Counter)
    aliases: dict[str, cst.BaseExpression] = field(default_factory=dict)
    assignments: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)  # name = value (Name targets)
    # names bound by unpacking (``(x_train, y_train), _ = load_data()``) or augmented (``x /= 255``): the
    # value they came from (the whole right-hand side / the augmented statement)
    derived: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    # names a loop binds (``for x, y in train_ds``, comprehensions too): what it iterates
    iterated: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    classes: dict[str, cst.ClassDef] = field(default_factory=dict)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    calls: list[CallSite] = field(default_factory=list)

    def bind(self, target: cst.CSTNode) -> None:
        for name in _target_names(target):  # type: ignore[arg-type]
            self.bind_counts[name] += 1


def _target_names(target: cst.BaseExpression) -> list[str]:
    k = KIND[type(target)]
    if k is cst.Name:
        return [target.value]  # type: ignore[attr-defined]
    if k is cst.Tuple or k is cst.List:
        return [n for el in target.elements for n in _target_names(el.value)]  # type: ignore[attr-defined]
    if k is cst.StarredElement:
        return _target_names(target.value)  # type: ignore[attr-defined]
    return []


def _import(index: FileIndex, node: cst.Import) -> None:
    for alias in node.names:
        full = dotted(alias.name) or ""
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            name = alias.asname.name.value
            index.imports[name] = full
        else:
            name = full.split(".", 1)[0]
            index.imports[name] = name
        index.bind_counts[name] += 1


def _import_from(index: FileIndex, node: cst.ImportFrom) -> None:
    module = dotted(node.module) if node.module is not None else ""
    base = "." * len(node.relative) + (module or "")
    if KIND[type(node.names)] is cst.ImportStar:
        return
    for alias in node.names:
        orig = dotted(alias.name) or ""
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            name = alias.asname.name.value
        else:
            name = orig
        index.imports[name] = f"{base}.{orig}" if base else orig
        index.bind_counts[name] += 1


# keras-applications: `backend, layers, models, utils = get_submodules_from_kwargs(kwargs)` hands the
# Keras modules in at run time; the names then mean those modules wherever the file uses them
_INJECTED = ("keras.backend", "keras.layers", "keras.models", "keras.utils")


def _injected_modules(index: FileIndex, target: cst.Tuple, call: cst.Call) -> None:
    name = dotted(call.func) or ""
    if name.rsplit(".", 1)[-1] != "get_submodules_from_kwargs":
        return
    for el, module in zip(target.elements, _INJECTED):
        if isinstance(el.value, cst.Name):
            index.imports.setdefault(el.value.value, module)


_ALIAS_KINDS: tuple[type, ...] = (cst.Name, cst.Attribute)


# the nodes the index records something of (besides calls)
_RECORDED = frozenset({cst.Assign, cst.FunctionDef, cst.ClassDef, cst.Param, cst.Import, cst.ImportFrom, cst.AnnAssign,
                       cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr, cst.With, cst.ExceptHandler, cst.Global,
                       cst.MatchAs})
# nodes with no children and nothing to record: never pushed on the walk's stack
_INERT = frozenset({cst.Name, cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis})


def _assign(index: FileIndex, node: cst.Assign) -> cst.BaseExpression | None:
    """Record ``node``; the target of ``target = <call>`` (one target, a call's value), else None."""
    value = node.value
    for each in node.targets:
        index.bind(each.target)
        k = KIND[type(each.target)]
        if k is cst.Name:
            index.assignments.setdefault(each.target.value, []).append(value)  # type: ignore[attr-defined]
        elif k is cst.Tuple or k is cst.List:
            for name in _target_names(each.target):
                index.derived.setdefault(name, []).append(value)
    if len(node.targets) != 1:
        return None
    target = node.targets[0].target
    tk, vk = KIND[type(target)], KIND[type(value)]
    if tk is cst.Tuple and vk is cst.Call:
        _injected_modules(index, target, value)  # type: ignore[arg-type]
    if tk is cst.Name and vk in _ALIAS_KINDS:
        index.aliases[target.value] = value  # type: ignore[attr-defined]
    return target if vk is cst.Call else None


def _bound(index: FileIndex, node: cst.CSTNode, t: type) -> None:
    """Record an AnnAssign, AugAssign, For, CompFor or NamedExpr."""
    index.bind(node.target)  # type: ignore[attr-defined]
    if t is cst.AnnAssign and node.value is not None and kind(node.target) is cst.Name:  # type: ignore[attr-defined]
        index.assignments.setdefault(node.target.value, []).append(node.value)  # type: ignore[attr-defined]
    elif t is cst.AugAssign and kind(node.target) is cst.Name:  # type: ignore[attr-defined]
        index.derived.setdefault(node.target.value, []).append(node)  # type: ignore[attr-defined]
    elif t is cst.For or t is cst.CompFor:  # for images, masks in train_ds.take(2): what they came from
        for name in _target_names(node.target):  # type: ignore[attr-defined]
            index.iterated.setdefault(name, []).append(node.iter)  # type: ignore[attr-defined]


def build_index(module: cst.Module) -> FileIndex:
    """The index of any tree (libcst's, or a fast tree: ``IndexRecorder`` builds the same one while the
    fast tree is built, and a test holds the two equal), by one walk in FIELDS order."""
    index = FileIndex()
    assigned: dict[int, cst.BaseExpression] = {}
    fast = isinstance(module, FastNode)  # a fast tree: its kids() are generated per class
    # (node, where it stands: (class, method, with-calls, directly in the class body)); nodes that share a
    # place share one tuple
    top: tuple[cst.ClassDef | None, str | None, tuple[cst.Call, ...], bool] = (None, None, (), False)
    stack: list[tuple[cst.CSTNode, tuple]] = [(module, top)]
    pop, push = stack.pop, stack.append
    while stack:
        node, place = pop()
        kids_place = place
        t = KIND[type(node)]
        if t is cst.Call:
            cls, method, withs, _ = place
            index.calls.append(CallSite(node, cls, method, withs, assigned.get(id(node))))
        elif t not in _RECORDED:
            pass
        elif t is cst.Assign:
            target = _assign(index, node)
            if target is not None:
                assigned[id(node.value)] = target
        elif t is cst.FunctionDef:
            index.bind_counts[node.name.value] += 1
            index.functions.setdefault(node.name.value, node)
            if place[3]:  # a method: defined directly in a class body
                kids_place = (place[0], node.name.value, place[2], False)
        elif t is cst.ClassDef:
            index.bind_counts[node.name.value] += 1
            index.classes.setdefault(node.name.value, node)
            kids_place = (node, None, place[2], True)
        elif t is cst.Param:
            index.bind_counts[node.name.value] += 1
        elif t is cst.Import:
            _import(index, node)
        elif t is cst.ImportFrom:
            _import_from(index, node)
        elif t is cst.AnnAssign or t is cst.AugAssign or t is cst.For or t is cst.CompFor or t is cst.NamedExpr:
            _bound(index, node, t)
        elif t is cst.With:
            for item in node.items:
                if item.asname is not None:
                    index.bind(item.asname.name)
            # the context-manager calls themselves are outside the with-block they open
            inner = (place[0], place[1], place[2] + with_calls(node.items), False)
            outer = place if not place[3] else (place[0], place[1], place[2], False)
            items = {id(i) for i in node.items}
            for kid in reversed(node.kids(node) if fast else children(node)):
                push((kid, outer if id(kid) in items else inner))
            continue
        elif t is cst.ExceptHandler:
            if node.name is not None:
                index.bind(node.name.name)
        elif t is cst.Global:
            for n in node.names:
                index.bind_counts[n.name.value] += 1
        elif t is cst.MatchAs:
            if node.name is not None:
                index.bind(node.name)
        if kids_place is place and place[3] and t is not cst.IndentedBlock and t is not cst.SimpleStatementSuite:
            kids_place = (place[0], place[1], place[2], False)  # only a class body's block is "directly in the class"
        kids = node.kids(node) if fast else children(node)
        for kid in reversed(kids):
            if KIND[type(kid)] not in _INERT:
                push((kid, kids_place))
    return index


def with_calls(items: Sequence[cst.WithItem]) -> tuple[cst.Call, ...]:
    """The context managers of a ``with``'s items that are calls."""
    return tuple(i.item for i in items if kind(i.item) is cst.Call)  # type: ignore[misc]


class IndexRecorder:
    """The index of a fast tree, recorded while normlint.lint.ast_tree builds it (mixed into its builder):
    the same FileIndex as ``build_index`` walking the finished tree, without the walk (tested equal).

    The builder makes each node's children in FIELDS order and appends a CallSite to ``_sites`` as a call
    begins: the calls in the walk's pre-order. The other nodes the index reads are recorded when made
    (statements never nest in one another: their order is the walk's); a definition claims its name as
    it begins (``_claim``), so the first in the walk's order keeps it; a class's calls get the ClassDef
    once it is made (``_class_made``)."""

    index: FileIndex

    def _start_index(self) -> None:
        self.index = FileIndex()
        self._sites = self.index.calls
        self._cls: object = None  # the innermost class (its marker until it is made), method, with-calls
        self._method: str | None = None
        self._withs: tuple[cst.Call, ...] = ()
        self._class_body = False  # the block being built is a class's body (its defs are methods)

    def _assigned(self, node: cst.Assign, first_site: int) -> None:
        """An Assign is made; ``first_site``: the number of calls before its value was built."""
        target = _assign(self.index, node)
        if target is not None:
            self.index.calls[first_site].assigned_to = target

    def _claim(self, table: dict[str, Any], name: str) -> bool:
        self.index.bind_counts[name] += 1
        if name in table:
            return False
        table[name] = None
        return True

    def _class_made(self, node: cst.ClassDef, marker: object, first_site: int) -> None:
        for site in self.index.calls[first_site:]:
            if site.cls is marker:
                site.cls = node
