"""The tree built from CPython's ast (normlint.lint.ast_tree, nodes.py) stands for libcst's: same node classes,
children and positions, node for node, and the same findings, messages and fix labels on every file."""

from __future__ import annotations

import ast
import subprocess
import sys

import libcst as cst
import pytest

from normlint.config import Config
from normlint.lint import ast_tree, engine, nodes
from normlint.lint.nodes import kind
from normlint.lint.fixes import Offsets
from normlint.lint.flake8_plugin import Plugin
from normlint.lint.index import children
from normlint.lint.positions import _resolve_positions
from tests.helpers import FIXTURES, ROOT, fixture_files

# nodes no rule reports on, whose start libcst places elsewhere (at a keyword or an operator ast has no
# position for): their children are still compared
_UNPLACED = ("ComparisonTarget", "Parameters", "AsName", "Else", "Finally", "CompFor", "CompIf", "StarredDictElement",
             "FormattedStringExpression", "ParamStar", "From", "MatchCase")
# children libcst keeps and the fast tree leaves out: punctuation, string pieces, one-line suites' whitespace
_PUNCTUATION = ("Colon", "Dot", "FormattedStringText", "SimpleWhitespace", "ParamSlash")

# every construct the builder handles, in the layouts where ast and libcst place things differently
SYNTAX_ZOO = '''\
from __future__ import annotations
import os, sys as system
import torch.nn as nn
from .. import sibling
from . import (a as b,
               c)
from keras.layers import *
x: int = 1; y = 2
z = (x, y); w = x, y; (p, q), r = (1, 2), 3
s = "a" "b" f"{x!r:>{y}}" r'raw'; bs = b"bytes"
t = x if y else -x; u = not x or y and z; v = 1 < x <= 2 and x is not None
lam = lambda a, /, b=2, *c, d, e=5, **f: (a, b, c, d, e, f)
sub = w[0], w[1:2], w[::2], w[:, 0], w[(0, 1)], w[(0), 1], w[...]
comp = [i for i in range(3) if i for j in range(i)], {i for i in w}, {i: j for i, j in w}, (i for i in w)
call = f(x for x in w), g((x for x in w), 1), h(*w, **{"k": 1}, k=2), m(k=1, *w)
d = {**{}, "a": [1, *w], 2: {3}}
if (n := len(w)) > 1:
    pass
elif n:
    x += 1
else:
    if y: y -= 1
    else: y //= 2
for i, (j, k) in enumerate(w):
    continue
else:
    pass
while False:
    break
with open(os.devnull) as fh, open(os.devnull):
    del fh
try:
    raise ValueError("x") from None
except (ValueError, TypeError) as err:
    assert err, "msg"
else:
    pass
finally:
    pass
try:
    pass
except* OSError:
    pass
match w:
    case [1, *rest] if rest:
        pass
    case {"k": v, **kw}:
        pass
    case Point(x=0) | None as what:
        pass
    case _:
        pass


@decorator
@other.decorator(1)
class Model(nn.Module, metaclass=type):
    """doc"""
    size: int

    def __init__(self, n: int = 3) -> None:
        super().__init__()
        global x
        self.bn = (nn.BatchNorm2d(n))
        self.drop = nn.Dropout(0.5)

    @staticmethod
    async def run(*args, key=None, **kwargs):
        nonlocal_thing = [await v async for v in args]
        async with lock:
            yield nonlocal_thing

    def gen(self):
        yield from self.args

    def forward(self, x):
        return self.bn(self.drop(x)) @ x ** 2 % 3 << 1 >> 1 | 1 ^ 1 & 1 // 1 / 1 * 1 - 1 + 1


def outer():
    value = 0

    def inner():
        nonlocal value
        value = ~value
    return inner
'''


def _pairs(source: str):
    """(libcst node, fast node) for every node of both trees, walked together."""
    module = cst.parse_module(source)
    fast = ast_tree.build(source)
    stack = [(module, fast)]
    while stack:
        a, b = stack.pop()
        if type(a).__name__.startswith("Match") and type(a).__name__ not in ("Match", "MatchCase"):
            continue  # a match pattern: one generic node holding its parts (no rule reads patterns)
        yield module, fast, a, b
        if type(a).__name__ == "ConcatenatedString":
            continue  # ast joins "a" "b" into one string (a FormattedString with an f-string in it)
        kids_a = [k for k in children(a) if type(k).__name__ not in _PUNCTUATION]
        kids_b = children(b)
        assert len(kids_a) == len(kids_b), (type(a).__name__, [type(k).__name__ for k in kids_a],
                                            [type(k).__name__ for k in kids_b])
        stack.extend(zip(kids_a, kids_b))


def _agree(source: str) -> int:
    count = 0
    positions = None
    for module, fast, a, b in _pairs(source):
        positions = positions or _resolve_positions(module)
        if type(a).__name__ == "ConcatenatedString":  # ast joins "a" "b" into one string: its value is the same
            same = kind(b) is nodes.SimpleString and b.evaluated_value == a.evaluated_value
            assert same or kind(b) is nodes.FormattedString
            continue
        assert kind(a) is kind(b), (type(a).__name__, type(b).__name__, module.code_for_node(a)[:60])
        if a is not module and type(a).__name__ not in _UNPLACED and a in positions:
            start = positions[a].start
            assert fast.position(b) == (start.line, start.column), (type(a).__name__, module.code_for_node(a)[:60])
        count += 1
    return count


def test_the_syntax_zoo_compiles():
    compile(SYNTAX_ZOO, "zoo.py", "exec")


@pytest.mark.parametrize("layout", ["lf", "crlf", "cr", "non-ascii", "tabs", "odd whitespace"])
def test_every_node_of_the_syntax_zoo(layout):
    source = SYNTAX_ZOO
    if layout in ("crlf", "cr"):
        source = source.replace("\n", "\r\n" if layout == "crlf" else "\r")
    elif layout == "odd whitespace":  # str.splitlines() splits at these; Python's lines do not
        source = source.replace("\n\n\ndef outer", "\n\x0c\n\ndef outer").replace('"""doc"""', '"""doc\x0b\x1c\u2028"""  # \x85 \u2029')
    elif layout == "non-ascii":  # columns count characters, ast counts UTF-8 bytes
        source = source.replace('"""doc"""', '"""dé€😀"""; é = "ü"; ok = (é, ü) if é else é')
        source = source.replace("self.bn = (", "self.bñ = '€'; self.bn = (")
    elif layout == "tabs":
        source = source.replace("    ", "\t")
    assert _agree(source) > 400


@pytest.mark.parametrize("text", ["", "a", "a\n", "\n\n", "a\r", "\r\n", "a\r\nb\rc\nd", "x\x0cy\n", "x\x0by",
                                  "\x1c\n\x1d\x1e", "a\x85b\n", "a\u2028b\u2029c", "é\x0cx\n", "é\r\nü"])
def test_source_lines_are_the_lines_ast_counts(text):
    """The builder's lines: str.splitlines() where it agrees with ast (no \\f, \\v, \\x1c-\\x1e, \\x85,
    \\u2028, \\u2029), else the regex of ast's line ends."""
    assert ast_tree.source_lines(text) == ast_tree._LINES.findall(text)
    # the line starts the builder's Offsets takes from these lines are the ones found by searching the text
    assert Offsets(text, ast_tree.source_lines(text)).starts == Offsets(text).starts


def test_every_node_of_the_fixtures_and_tests():
    files = fixture_files() + sorted((ROOT / "tests").glob("*.py"))
    assert sum(_agree(p.read_text(encoding="utf-8")) for p in files) > 40_000


def test_code_for_node_is_the_source_text():
    source = "m = (Conv2D(8,\n  3))(x)  # é\nn = (\n  (1, 2)\n)\n@dec\ndef f(): return (a)\n"
    fast = ast_tree.build(source)
    module = cst.parse_module(source)
    for (_, _, a, b) in _pairs(source):
        if kind(b) in (nodes.Call, nodes.Tuple, nodes.FunctionDef, nodes.Name, nodes.Integer):
            assert fast.code_for_node(b) == module.code_for_node(a).strip(), type(a).__name__


def _findings(source: str, path: str, fixes: bool, prefilter: bool = True):
    found = engine.lint_source(source, path, Config(), fixes=fixes, prefilter=prefilter)
    return [(f, f.fix and (f.fix.message, f.fix.applicability)) for f in found]


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_same_findings_on_either_tree(path, monkeypatch):
    """Text and flake8 output (the fast tree) say what JSON, SARIF and --fix (libcst) say, fix labels too."""
    monkeypatch.setattr(engine, "STRICT", True)  # a fast tree that raises is a failure here, not a fallback
    source = path.read_text(encoding="utf-8")
    assert _findings(source, str(path), fixes=False) == _findings(source, str(path), fixes=True)


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_old_mac_and_windows_line_ends_place_findings_on_the_same_lines(newline, monkeypatch):
    """Python ends a line at \\r too: a finding's line and column agree on either tree (libcst's text
    search counted \\n only, and put every finding of a \\r file on line 1)."""
    monkeypatch.setattr(engine, "STRICT", True)
    source = (FIXTURES / "rules" / "NL101_positive.py").read_text(encoding="utf-8").replace("\n", newline)
    fast = engine.lint_source(source, "m.py", Config(), fixes=False)
    full = engine.lint_source(source, "m.py", Config(), fixes=True)
    unix = engine.lint_source(source.replace(newline, "\n"), "m.py", Config(), fixes=False)
    assert [(f.line, f.col, f.message) for f in fast] == [(f.line, f.col, f.message) for f in full] == \
        [(f.line, f.col, f.message) for f in unix]


def test_every_rule_on_the_syntax_zoo_and_the_tests(monkeypatch):
    monkeypatch.setattr(engine, "STRICT", True)
    sources = [SYNTAX_ZOO] + [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests").glob("*.py"))]
    for source in sources:
        assert _findings(source, "x.py", False, prefilter=False) == _findings(source, "x.py", True, prefilter=False)


def test_the_fast_path_parses_nothing_with_libcst(monkeypatch):
    """Without fixes, every fixture (model code with every rule's findings, fixes that render code and read
    indentation among them: NL101's reorder, NL401's hoist) is analysed on the fast tree alone."""
    def refuse(*args, **kwargs):
        raise AssertionError("libcst parsed a file that the fast tree holds")

    monkeypatch.setattr(cst, "parse_module", refuse)
    monkeypatch.setattr(engine, "STRICT", True)
    codes = set()
    for path in sorted(FIXTURES.rglob("*.py")):
        found = engine.lint_source(path.read_text(encoding="utf-8"), str(path), Config(), fixes=False)
        codes |= {f.code for f in found}
    assert {"NL101", "NL102", "NL401"} <= codes


def test_a_fix_that_renders_code_renders_only_where_edits_are_placed(monkeypatch):
    """NL101's reorder fix renders statements (libcst's tree): without fixes the fast tree gives the same
    finding and fix label, and no edits."""
    monkeypatch.setattr(engine, "STRICT", True)
    source = ("from keras import layers, models\nmodel = models.Sequential()\nmodel.add(layers.Dense(8))\n"
              "model.add(layers.Dropout(0.5))\nmodel.add(layers.BatchNormalization())\n")
    fast = engine.lint_source(source, "m.py", Config(), fixes=False)
    full = engine.lint_source(source, "m.py", Config(), fixes=True)
    assert [f.code for f in fast] == ["NL101"] and fast == full
    assert fast[0].fix is not None and fast[0].fix.edits == () and full[0].fix is not None and full[0].fix.edits


def test_flake8_plugin_uses_flake8s_tree():
    source = (FIXTURES / "rules" / "NL101_positive.py").read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
    with_tree = list(Plugin(ast.parse(source), lines, "m.py").run())
    without = list(Plugin(None, lines, "m.py").run())
    assert with_tree == without and with_tree


def test_linting_without_fixes_does_not_import_libcst(tmp_path):
    """`normlint lint` and flake8's plugin never import libcst unless a fix is asked for (~0.15 s a run)."""
    model = tmp_path / "model.py"
    model.write_text((FIXTURES / "rules" / "NL102_positive.py").read_text(encoding="utf-8"), encoding="utf-8")
    probe = ("import sys\nfrom normlint.cli import main\n"
             "try:\n    main(['lint', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print('libcst' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", probe, str(model)], capture_output=True, text=True, timeout=120)
    assert "NL102" in out.stdout and out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
    out = subprocess.run([sys.executable, "-c", probe.replace("['lint', sys.argv[1]]", "['lint', '--format', 'json', sys.argv[1]]"),
                          str(model)], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "True"  # JSON places fixes' edits: libcst's tree


def test_the_node_classes_code_is_generated_and_current():
    """normlint/lint/node_code.py holds every node class's __init__ and kids, as nodes.py would compile them
    (importing nodes then compiles nothing); `python -m normlint.lint.nodes` rewrites it."""
    from normlint.lint import node_code

    path = ROOT / "normlint" / "lint" / "node_code.py"
    assert path.read_text() == nodes.node_code_module(), "stale: run `python -m normlint.lint.nodes`"
    made = {(c.FIELDS, c.__slots__): c for c in vars(nodes).values()
            if isinstance(c, type) and issubclass(c, nodes.CSTNode) and "__init__" in vars(c)}
    assert len(made) == len(node_code.CODE) > 40
    for key, cls in made.items():
        assert (vars(cls)["__init__"], vars(cls)["kids"].__func__) == node_code.CODE[key], cls.__name__
    call = nodes.Call((1, 0, 1, 4), nodes.Name((1, 0, 1, 1), "f"), ())
    assert (call.func.value, call.args, nodes.Call.kids(call)) == ("f", (), [call.func])
