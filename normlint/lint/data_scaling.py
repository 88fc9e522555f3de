"""Which data of a file is scaled: the names its code binds to scaled values, followed by name.

The input-normalization rules ask "was this array / dataset / generator scaled before it reached the
model?". Data paths through NumPy, tf.data and scikit-learn are not layers, so this reads the file's
assignments instead of the layer flow: a name is *scaled* when a value it is bound to (an assignment,
an unpacking, ``x /= 255``) scales (``/ 255``, ``* (1/255)``, ``/ 127.5 - 1``, ``- mean``, ``/ std``, a
``Rescaling``/``Normalization`` layer applied, ``preprocess_input``, ``scaler.transform``, a function of
the file that scales, called or handed to ``.map(...)``, an ``ImageDataGenerator(rescale=...)`` flow) or
reads a scaled name; a list is scaled when what is appended to it is (``patches.append(patch / 255.)``).
What the text does not show (a helper of another module) is unknown, and the rules stay silent."""

from __future__ import annotations

import bisect
import re
from typing import Any

from normlint.lint.nodes import KIND
from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, is_literal, literal
from normlint.lint.index import COMPREHENSIONS, _target_names, children, descendants
from normlint.lint.names import dotted

# Every alternative starts with a literal character, so the regex engine jumps to where one can start (the
# word-boundary checks come after the word, ``scale(?<!\wscale)`` = ``\bscale``): 9x faster than with them first.
SCALING = re.compile(
    r"/=?\s*\(?\s*255|\*=?\s*\(?\s*1\.?0*\s*/\s*255|/=?\s*127\.5|rescale(?<!\wrescale)\s*=\s*(?!None\b|1\b)|Rescaling\s*\(|"
    r"Normalization(?<![A-Za-z]Normalization)\([^()]*\)\s*\(|normaliz(?<!\wnormaliz)\w*\s*\(|"
    r"standardiz(?<!\wstandardiz)\w*\s*\(|preprocess_input|\.transform\s*\(|fit_transform\s*\(|scale(?<!\wscale)\s*\(|"
    r"-=?\s*\w*mean|/=?\s*\w*std|image\.convert_image_dtype|per_image_standardization|minmax_scale|robust_scale|"
    r"preprocessing_function\s*=\s*(?!None\b)"
)
_COMMENT = re.compile(r"#[^\n]*")
EVAL_WORDS = frozenset({"test", "tests", "val", "valid", "validation", "eval", "evaluation", "holdout"})
TRAIN_WORDS = frozenset({"train", "training"})
_WORD_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def words(expr: cst.BaseExpression) -> set[str]:
    """Identifier words of a data expression: x_test -> x, test; valDs -> val, ds; d['test'] -> test
    (names, attributes, the callee of a call, string keys of a subscript; not call arguments)."""
    out: set[str] = set()
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name):
            for part in node.value.split("_"):
                out |= {w.lower() for w in _WORD_SPLIT.findall(part) or [part]}
        elif isinstance(node, cst.Attribute):
            stack.append(node.value)
            stack.append(node.attr)
        elif isinstance(node, cst.Call):
            stack.append(node.func)
        elif isinstance(node, cst.Subscript):
            stack.append(node.value)
            for el in node.slice:
                if isinstance(el.slice, cst.Index) and isinstance(el.slice.value, cst.SimpleString):
                    value = el.slice.value.evaluated_value
                    out.add((value.decode("latin-1") if isinstance(value, bytes) else value).lower())
    return out


def names_in(expr: cst.CSTNode) -> set[str]:
    out: set[str] = set()
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        k = KIND[type(node)]  # not isinstance(): a miss against the node classes (ABCs) is slow
        if k is cst.Name:
            out.add(node.value)  # type: ignore[attr-defined]
        elif k is cst.Attribute:
            stack.append(node.value)  # type: ignore[attr-defined]
            continue
        stack.extend(node.children)
    return out


_NUMPY = frozenset({"np", "numpy", "math"})


def _read_before_bound(stmt: Any, at: cst.CSTNode) -> bool:  # a statement of either tree, told apart by KIND
    """``at`` is read in the value of the statement's only assignment (``x = np.expand_dims(x, 0)``): it
    reads what the name held before the statement."""
    if KIND[type(stmt)] is not cst.SimpleStatementLine or len(stmt.body) != 1 or KIND[type(stmt.body[0])] is not cst.Assign:
        return False
    return any(n is at for n in descendants(stmt.body[0].value))


def _binds(tree: cst.CSTNode, name: str) -> bool:
    """Some statement or expression in ``tree`` binds ``name`` in the scope ``tree`` runs in (see
    ``_bound_names``)."""
    bound = _bound_names(tree)
    return bound is None or name in bound


# what holds statements, and the parts of statements that bind names: without ``:=`` in the text, the
# expressions elsewhere bind nothing and are not walked
_STATEMENT_PARTS = frozenset({
    cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine, cst.If, cst.Else, cst.For, cst.While,
    cst.With, cst.WithItem, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.Match,
    cst.MatchCase, cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Import, cst.ImportFrom, cst.FunctionDef,
    cst.ClassDef, cst.Global, cst.Nonlocal})


def _bound_names(tree: cst.CSTNode, walrus: bool = True) -> set[str] | None:
    """The names statements and expressions in ``tree`` bind in the scope ``tree`` runs in (an assignment's
    or a loop's target, ``with ... as``, ``:=``, an import, a def or class); None for any name (``from x
    import *``). A function's or a class's body, a lambda and a comprehension are scopes of their own.
    ``walrus=False``: the file has no ``:=``, so only statements are walked."""
    out: set[str] = set()
    stack = [tree]
    while stack:
        n = stack.pop()
        k = KIND[type(n)]
        if not walrus and k not in _STATEMENT_PARTS and n is not tree:
            continue
        if k is cst.Assign:
            for t in n.targets:  # type: ignore[attr-defined]
                out.update(_target_names(t.target))
        elif k is cst.AugAssign or k is cst.AnnAssign or k is cst.For or k is cst.NamedExpr:
            out.update(_target_names(n.target))  # type: ignore[attr-defined]
        elif k is cst.WithItem or k is cst.ExceptHandler:
            asname = n.asname if k is cst.WithItem else n.name  # type: ignore[attr-defined]
            if asname is not None:
                out.update(_target_names(asname.name))
        elif k is cst.Import or k is cst.ImportFrom:
            if isinstance(n.names, cst.ImportStar):  # type: ignore[attr-defined]
                return None  # from x import *: anything
            out.update(a.asname.name.value if a.asname is not None else (dotted(a.name) or "").split(".", 1)[0]
                       for a in n.names)  # type: ignore[attr-defined]
        elif k is cst.FunctionDef or k is cst.ClassDef:
            out.add(n.name.value)  # type: ignore[attr-defined]
            continue
        elif k is cst.Lambda or k in COMPREHENSIONS:
            continue
        elif k is cst.Global or k is cst.Nonlocal:
            continue
        stack.extend(children(n))
    return out


class DataScaling:
    """Scaled names of one file (computed once, on first use)."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._memo: dict[str, bool] = {}
        self._functions: set[str] | None = None
        self._body: list[Any] = list(ctx.module.body)  # the module's statements, for ``reaching``
        self._starts: list[int] | None = None
        self._bound: dict[int, set[str] | None] = {}
        self._walrus = ":=" in ctx.source
        self._at: dict[tuple[str, int], bool] = {}  # (name, id of where it is read) -> scaled there

    def _values(self, name: str) -> list[cst.CSTNode]:
        index = self.ctx.index
        return [*index.assignments.get(name, []), *index.derived.get(name, [])]

    def name_scaled(self, name: str) -> bool:
        """A value the name is bound to scales, or reads a scaled name, at most 8 names away (asked on
        demand, remembered); a loop's name is scaled when what it iterates is (``for images, _ in
        train_ds.take(1)``). Breadth first, each name's answer its own: an answer remembered while a cycle
        (``x = f(x)``) was cut short would depend on the order the names were asked in, which follows
        Python's string hashing (findings then changed with PYTHONHASHSEED)."""
        found = self._memo.get(name)
        if found is None:
            found = self._memo[name] = self._reaches_scaling(name)
        return found

    def _reaches_scaling(self, name: str) -> bool:
        seen, level = {name}, [name]
        for _ in range(8):
            following: list[str] = []
            for current in level:
                for value in [*self._values(current), *self.ctx.index.iterated.get(current, []), *self.added(current)]:
                    if self._scales(value):
                        return True
                    fresh = names_in(value) - seen
                    seen |= fresh
                    following.extend(fresh)
            if not following:
                return False
            level = following
        return False

    def added(self, name: str) -> list[cst.CSTNode]:
        """What ``name.append(x)``, ``.extend(xs)`` and ``.insert(i, x)`` put in the list ``name`` (patches
        scaled one by one in a loop, then ``np.array(patches)``)."""
        out: list[cst.CSTNode] = []
        for call in self.ctx.name_methods.get(name, []):
            args = [a.value for a in call.args if a.keyword is None and not a.star]
            if args and call.func.attr.value in ("append", "extend", "insert"):  # type: ignore[attr-defined]
                out.append(args[-1])
        return out

    def _scales(self, value: cst.CSTNode) -> bool:
        if isinstance(value, cst.Call) and is_image_data_generator(self.ctx, value.func):
            return generator_scales(value)  # its keywords decide, not the words in them
        if SCALING.search(_COMMENT.sub("", self.ctx.code(value))):
            return True
        # a function of the file that scales: x = preprocess(x), ds.map(normalize_img)
        return bool(names_in(value) & self._scaling_functions)

    @property
    def _scaling_functions(self) -> set[str]:
        if self._functions is None:
            self._functions = {name for name, fn in self.ctx.index.functions.items()
                               if self.ctx.index.bind_counts[name] == 1
                               and SCALING.search(_COMMENT.sub("", self.ctx.code(fn.body)))}
        return self._functions

    def is_scaled(self, expr: cst.BaseExpression) -> bool:
        """``expr`` scales, or reads a scaled name; where one assignment of the module's straight-line code
        reaches a name read here (``reaching``), that value decides for it, and so on back along the
        module's statements (a notebook that binds ``X`` to raw blobs in one cell and to something scaled in
        another; ``img = test_images[1]`` then ``img = np.expand_dims(img, 0)``)."""
        return self._scales(expr) or any(self._scaled_at(name, expr) for name in names_in(expr))

    def _scaled_at(self, name: str, at: cst.CSTNode) -> bool:
        key = (name, id(at))
        found = self._at.get(key)
        if found is None:
            # each step goes to an earlier statement of the module: the walk back ends, whatever the order
            value = None if self.added(name) else self.reaching(name, at)
            if value is None:  # not straight-line, or a list filled by append(): every value the name gets
                found = self.name_scaled(name)
            else:
                found = self._scales(value) or any(self._scaled_at(n, value) for n in names_in(value))
            self._at[key] = found
        return found

    def bound_here(self, name: str) -> bool:
        """The file binds the name to a value (not only as a parameter): its data path can be read."""
        return bool(self._values(name))

    def is_raw(self, expr: cst.BaseExpression) -> bool:
        """A name (or a slice of one) that the file binds, never to a scaled value, passed unscaled."""
        base = expr
        while isinstance(base, cst.Subscript):
            base = base.value
        if not isinstance(base, cst.Name) or self.is_scaled(expr):
            return False
        return self.bound_here(base.value) and not self.made_up(base.value, at=expr)

    def made_up(self, name: str, _depth: int = 0, at: cst.CSTNode | None = None) -> bool:
        """Every value the name is bound to is made from literals by NumPy (a plotting grid of
        ``np.meshgrid(np.linspace(...))``, ``np.c_[...]``, random numbers): no data that needed scaling.
        ``at``: where the name is read; when one assignment of the module's straight-line code is the only
        one that can reach it (a notebook that binds ``axes`` to a figure's axes in one cell and to plot
        limits in the next), only that value counts."""
        reaching = self.reaching(name, at) if at is not None else None
        values = [reaching] if reaching is not None else self._values(name)
        if not values or _depth > 8:
            return False
        for value in values:
            for used in names_in(value) - _NUMPY:
                if used == name or not self.made_up(used, _depth + 1, at=value if reaching is not None else None):
                    return False
        return True

    def _holder(self, at: cst.CSTNode) -> int | None:
        """The index of the module's statement that holds ``at``: found by line where the tree gives them
        (the fast tree's ranges; a decorator's lines come before its ``def``'s), else by a walk."""
        body = self._body
        r = getattr(at, "_r", None)
        if r is not None:
            if self._starts is None:
                self._starts = [getattr(stmt, "_r", (0,))[0] for stmt in body]
            i = bisect.bisect_right(self._starts, r[0]) - 1  # the module's statements never overlap
            if i >= 0 and (body[i]._r[0], body[i]._r[1]) <= (r[0], r[1]) and (r[2], r[3]) <= (body[i]._r[2], body[i]._r[3]):
                return i
        return next((i for i, stmt in enumerate(body) if any(n is at for n in descendants(stmt))), None)

    def _bound_at(self, i: int) -> set[str] | None:
        """The names the module's statement ``i`` binds (None: any), worked out once."""
        if i not in self._bound:
            self._bound[i] = _bound_names(self._body[i], self._walrus)
        return self._bound[i]

    def reaching(self, name: str, at: cst.CSTNode) -> cst.CSTNode | None:
        """The value of the module-level assignment that binds ``name`` last before the top-level statement
        that holds ``at``, when it is the only binding that can reach ``at``: a simple statement of the module
        (``name = value``, ``a, name = value``), no other binding of the name in the statements after it
        nor in the statement that holds ``at`` (a function's body is its own scope: None there)."""
        body = self._body
        here = self._holder(at)
        if here is None or KIND[type(body[here])] in (cst.FunctionDef, cst.ClassDef):
            return None
        names = self._bound_at(here)
        if (names is None or name in names) and not _read_before_bound(body[here], at):
            return None
        stmt: Any  # a statement of either tree, told apart by KIND
        for i in range(here - 1, -1, -1):
            names, stmt = self._bound_at(i), body[i]
            if names is not None and name not in names:
                continue
            if KIND[type(stmt)] is not cst.SimpleStatementLine:
                return None  # bound in a loop, a branch, a with block: which binding reaches is not straight-line
            assigns = [small for small in stmt.body if _binds(small, name)]
            if len(assigns) != 1 or KIND[type(assigns[0])] is not cst.Assign:
                return None  # x = ...; x += 1 on one line, or an augmented or annotated binding
            return assigns[0].value
        return None


GENERATOR_SCALING = ("rescale", "preprocessing_function", "samplewise_center", "samplewise_std_normalization",
                     "featurewise_center", "featurewise_std_normalization", "zca_whitening")


def is_image_data_generator(ctx: FileContext, func: cst.BaseExpression) -> bool:
    """``func`` names Keras 2's ImageDataGenerator (under any import spelling or alias)."""
    return (ctx.names.canonical(func) or ctx.code(func)).endswith("ImageDataGenerator")


def generator_scales(call: cst.Call) -> bool:
    """An ImageDataGenerator(...) that rescales, preprocesses or standardizes (a keyword set to something
    other than None/False/1)."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value in GENERATOR_SCALING:
            value = literal(a.value)
            if not (is_literal(value) and value in (None, False, 1, 1.0, 0)):
                return True
    return False


def scaling(ctx: FileContext) -> DataScaling:
    found = ctx.memo.get("data_scaling")
    if found is None:
        found = ctx.memo["data_scaling"] = DataScaling(ctx)
    return found


def method_calls(ctx: FileContext, *names: str):
    """(site, receiver text) of ``receiver.name(...)`` calls."""
    for site in ctx.calls:
        func = site.node.func
        if KIND[type(func)] is cst.Attribute and func.attr.value in names:  # type: ignore[attr-defined]
            yield site, dotted(func.value) or ctx.code(func.value)  # type: ignore[attr-defined]


def data_arg(call: cst.Call, keyword: str = "x") -> cst.BaseExpression | None:
    """The first positional argument, or ``keyword=``."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return a.value
    return next((a.value for a in call.args if a.keyword is None and not a.star), None)
