"""The index a fast tree's builder records as it builds (normlint.lint.index.IndexRecorder) is the index
``build_index`` walks out of the finished tree: the same calls in the same order, each in the same class,
method and with-blocks and assigned to the same target, and the same imports, bindings, aliases,
assignments, classes and functions (node for node)."""

from __future__ import annotations

import ast
import os
import warnings
from pathlib import Path

import pytest

from normlint.lint import ast_tree
from normlint.lint.index import FileIndex, build_index
from tests.helpers import FIXTURES, ROOT
from tests.test_ast_tree import SYNTAX_ZOO

# where the builder's order of making children and the walk's FIELDS order differ, and every place a call
# can stand in (class, method, with-block, assignment)
INDEX_ZOO = '''\
import keras
from keras import layers as L
backend, layers, models, utils = get_submodules_from_kwargs(kwargs)
Dense = L.Dense
@register(name=deco_key())
class Model(keras.Model, metaclass=meta(), **options()):
    units = compute()
    with scope():
        def built_in_with(self):
            return L.Dense(units())
    if flag():
        def in_if(self):
            return L.Dropout(rate())
    @decorate(arg())
    def call(self, x: hint() = default(), /, y=other(), *rest, z=kw(), **more) -> result():
        def inner(v=inner_default()):
            return L.ReLU()(v)
        class Local(base()):
            def method(self):
                return L.BatchNormalization()(x)
        return inner(self.dense(x))
    async def forward(self, x):
        async with lock() as held, other_lock():
            return [await step(i) async for i in stream() if keep(i)]
def call(x):  # a second definition of the name: the first keeps it
    def call(y):
        return y
    return call(x)
class Model:
    pass
v = a() if test() else b()
d = {key(): value(), **more()}
s = table()[index()][lo():hi():step()]
c = left() < mid() <= right()
f = f"{value():{spec()}}"
g = [elt() for a in first() if cond() for b in second(a)]
h = {k(): v() for k in keys()}
i = f(x=one(), *rest(), y=two())
j = k = shared()
(m, n), o = pair(), single()
p: hint() = annotated()
q += increment()
r = (walrus := inside())
match subject():
    case [first, *others] if guard():
        handle(first)
    case {"key": kept} as whole:
        handle(whole)
try:
    attempt()
except error() as caught:
    recover(caught)
else:
    otherwise()
finally:
    cleanup()
for t, (u, w) in pairs():
    loop(t)
global gx
lam = lambda a=lam_default(): body()
'''


def index_difference(recorded: FileIndex, walked: FileIndex) -> str | None:
    """What differs between two indexes of one tree (nodes compared by identity), or None."""
    if len(recorded.calls) != len(walked.calls):
        return f"{len(recorded.calls)} calls recorded, {len(walked.calls)} walked"
    for i, (a, b) in enumerate(zip(recorded.calls, walked.calls)):
        for field in ("node", "cls", "assigned_to"):
            if getattr(a, field) is not getattr(b, field):
                return f"call {i} ({b.node!r}): {field} {getattr(a, field)!r}, walked {getattr(b, field)!r}"
        if a.method != b.method:
            return f"call {i} ({b.node!r}): method {a.method!r}, walked {b.method!r}"
        if len(a.with_items) != len(b.with_items) or any(x is not y for x, y in zip(a.with_items, b.with_items)):
            return f"call {i} ({b.node!r}): with-items differ"
    if recorded.imports != walked.imports:
        return f"imports {recorded.imports}, walked {walked.imports}"
    if +recorded.bind_counts != +walked.bind_counts:
        return f"bind counts {dict(recorded.bind_counts)}, walked {dict(walked.bind_counts)}"
    for field in ("aliases", "classes", "functions"):
        a, b = getattr(recorded, field), getattr(walked, field)
        if a.keys() != b.keys() or any(a[k] is not b[k] for k in a):
            return f"{field} differ"
    for field in ("assignments", "derived"):
        a, b = getattr(recorded, field), getattr(walked, field)
        if a.keys() != b.keys() or any(len(a[k]) != len(b[k]) or any(x is not y for x, y in zip(a[k], b[k])) for k in a):
            return f"{field} differ"
    return None


def _difference(source: str) -> str | None:
    with warnings.catch_warnings():  # a file's invalid escapes are not this test's to report
        warnings.simplefilter("ignore")
        tree = ast.parse(source)
    module = ast_tree.build(source, tree)
    return index_difference(module._b.index, build_index(module))


def test_the_index_zoo_parses_and_records_everything():
    module = ast_tree.build(INDEX_ZOO)
    index = module._b.index
    sites = {module.code_for_node(s.node.func): s for s in index.calls}
    assert sites["L.Dense"].cls is index.classes["Model"]
    assert [module.code_for_node(c) for c in sites["L.Dense"].with_items] == ["scope()"]
    # a def inside a `with` or an `if` of the class body is no method (as the walk reads it)
    assert sites["L.Dense"].method is None and sites["L.Dropout"].method is None
    assert sites["L.BatchNormalization"].cls.name.value == "Local" and sites["L.BatchNormalization"].method == "method"
    assert sites["inner_default"].method == "call" and sites["decorate"].method == "call"
    assert sites["deco_key"].cls is index.classes["Model"]  # a class's decorators and bases stand in it, as walked
    assert index.functions["call"].body is not None and index.functions["call"] is not index.functions.get("inner")
    assert module.code_for_node(sites["shared"].assigned_to or sites["shared"].node) == "shared()"
    assert module.code_for_node(sites["annotated"].node) == "annotated()"
    assert index.imports["layers"] == "keras.layers"


@pytest.mark.parametrize("source", [INDEX_ZOO, SYNTAX_ZOO], ids=["index zoo", "syntax zoo"])
def test_recorded_index_is_the_walked_index(source):
    assert _difference(source) is None


def _python_files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def test_recorded_index_is_the_walked_index_on_the_fixtures_tests_and_sources():
    files = _python_files(FIXTURES, ROOT / "tests", ROOT / "normlint", ROOT / "benchmarks")
    assert len(files) > 100
    differing = [f"{p}: {d}" for p in files if (d := _difference(p.read_text(encoding="utf-8")))]
    assert not differing


@pytest.mark.slow
def test_recorded_index_is_the_walked_index_on_real_code():
    """The model corpus (../shared/corpus, when present) and the Python sources of installed packages."""
    roots = [ROOT.parent / "shared" / "corpus" / "models", Path(os.__file__).parent / "asyncio",
             Path(os.__file__).parent / "email", Path(ast_tree.__file__).parent]
    try:
        import keras
        roots.append(Path(keras.__file__).parent)
    except ImportError:
        pass
    differing, compared = [], 0
    for path in _python_files(*(r for r in roots if r.is_dir())):
        try:
            source = path.read_text(encoding="utf-8")
            difference = _difference(source)
        except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, ast_tree.Unsupported):
            continue
        compared += 1
        if difference:
            differing.append(f"{path}: {difference}")
    assert compared > 500
    assert not differing
