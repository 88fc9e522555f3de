"""The analysed files are compiled only when the fast tree's builder saw something CPython's compiler could
reject (normlint.lint.compiler_checks): it must never call a tree safe that does not compile."""

from __future__ import annotations

import ast
import doctest
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from normlint.lint import ast_tree, compiler_checks
from normlint.lint.engine import lint_source

CPYTHON_TESTS = Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "test"


def _unsafe(source: str) -> str | None:
    tree = ast.parse(source)
    builder = ast_tree.builder(source, tree)
    builder.module(tree)
    return builder.unsafe


def _compiles(source: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "<snippet>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            return False
    return True


# what the parser accepts and the compiler does not (CPython 3.11's messages)
REJECTED = {
    "return at module level": "return 1\n",
    "return in a class body": "def f():\n    class A:\n        return 1\n",
    "yield at module level": "x = yield\n",
    "yield in a class body": "def f():\n    class A:\n        x = yield\n",
    "yield in a comprehension": "def f():\n    return [(yield x) for x in y]\n",
    "yield from in async def": "async def f():\n    yield from g()\n",
    "return value in an async generator": "async def f():\n    yield 1\n    return 2\n",
    "await outside async def": "def f():\n    await g()\n",
    "await in a lambda": "async def f():\n    return lambda: await g()\n",
    "async for outside async def": "def f():\n    async for x in y:\n        pass\n",
    "async with outside async def": "def f():\n    async with a:\n        pass\n",
    "async comprehension outside async def": "def f():\n    return [x async for x in y]\n",
    "break at module level": "break\n",
    "break in a loop's else": "for x in y:\n    pass\nelse:\n    break\n",
    "continue in a def inside a loop": "for x in y:\n    def f():\n        continue\n",
    "break in a class inside a loop": "while x:\n    class A:\n        break\n",
    "import * in a def": "def f():\n    from os import *\n",
    "import * in a class": "class A:\n    from os import *\n",
    "future import after code": "import os\nfrom __future__ import annotations\n",
    "future import on a line after code": "import os; from __future__ import annotations\n",
    "unknown future feature": "from __future__ import rested_snopes\n",
    "future braces": "from __future__ import braces\n",
    "future import in a def": "def f():\n    from __future__ import annotations\n",
    "duplicate parameter": "def f(a, b, a):\n    pass\n",
    "duplicate lambda parameter": "f = lambda a, *, a: 1\n",
    "duplicate *args name": "def f(a, *a):\n    pass\n",
    "repeated keyword": "f(a=1, b=2, a=3)\n",
    "repeated keyword after **": "f(a=1, **k, a=2)\n",
    "repeated class keyword": "class A(metaclass=M, metaclass=N):\n    pass\n",
    "two starred targets": "*a, *b = c\n",
    "a starred target alone": "*a = c\n",
    "two starred for targets": "for *a, *b in c:\n    pass\n",
    "starred expression statement": "*a\n",
    "256 targets before a star": ", ".join(f"a{i}" for i in range(256)) + ", *b = c\n",
    "starred value of a statement": "def f(a):\n    *a[0]\n",
    "bare except before another": "try:\n    pass\nexcept:\n    pass\nexcept ValueError:\n    pass\n",
    "assign __debug__": "__debug__ = 1\n",
    "attribute __debug__": "x.__debug__ = 1\n",
    "keyword __debug__": "f(__debug__=1)\n",
    # names are compared NFKC-normalized: a mathematical d, or a text also holding CJK punctuation (not in NFKC form)
    "__debug__ spelled with a math letter": "__\U0001d4b9ebug__ = 1\n",
    "__debug__ spelled with a math letter, fullwidth text": "s = '\uff0c'\n__\U0001d4b9ebug__ = 1\n",
    "parameter and global": "def f(a):\n    global a\n",
    "global after an assignment": "def f():\n    x = 1\n    global x\n",
    "global after a use": "def f():\n    print(x)\n    global x\n",
    "global after code at module level": "x = 1\nglobal x\n",
    "annotated global": "def f():\n    global x\n    x: int = 1\n",
    "global parameter after a docstring": 'def f(a):\n    """Doc."""\n    global a\n',
    "nonlocal parameter": "def f():\n    x = 1\n    def g(x):\n        nonlocal x\n",
    "nonlocal at module level": "nonlocal x\n",
    "walrus rebinding a comprehension variable": "[i := 0 for i in range(5)]\n",
    "match wildcard before a case": "match x:\n    case _:\n        pass\n    case 1:\n        pass\n",
    "break in except*": "for x in y:\n    try:\n        pass\n    except* ValueError:\n        break\n",
    "21 nested blocks": "".join(" " * i + "for x in y:\n" for i in range(21)) + " " * 21 + "pass\n",
}

# what model code is made of: compiled by nobody
ACCEPTED = {
    "non-ASCII text, in NFKC form or not": "s = '\u00e9'\nt = '\uff0c'  # \u4e2d\u6587\n",
    "return and yield in defs": "def f():\n    return 1\n\ndef g():\n    yield 1\n    return\n",
    "await in async def": "async def f():\n    await g()\n    async for x in y:\n        pass\n    async with a:\n        pass\n",
    "break and continue in loops": "for x in y:\n    if x:\n        break\n    continue\nwhile x:\n    try:\n        break\n"
                                   "    finally:\n        continue\n",
    "break in a loop's else inside a loop": "while x:\n    for y in z:\n        pass\n    else:\n        break\n",
    "unpacking": "a, *b = c\n[d, *e] = f\nfor g, *h in i:\n    pass\nx = [*a, *b]\nf(*a, *b, **c, **d)\n",
    "255 targets before a star": ", ".join(f"a{i}" for i in range(255)) + ", *b = c\n",
    "future imports after the docstring": '"""Doc."""\nfrom __future__ import annotations\nfrom __future__ import division\n',
    "import * at module level": "from os import *\n",
    "a def opening with global": 'def f(a):\n    """Doc."""\n    global x, y\n    global z\n    y = a\n'
                                 "    def g():\n        z: int = 1\n",
    "keywords": "f(a=1, b=2, **k)\nclass A(B, metaclass=M):\n    x: int = 1\n",
    "lambdas and comprehensions": "f = lambda a, b=1, *c, d, **e: a\nx = [i for i in y if i]\ng = {k: v for k, v in d.items()}\n",
    "try and with": "try:\n    with a as b, c:\n        pass\nexcept ValueError as e:\n    raise\nexcept:\n    pass\nelse:\n"
                    "    pass\nfinally:\n    pass\n",
    "a subclassed model": "from keras import layers\n\nclass M(keras.Model):\n    def __init__(self, **kw):\n"
                          "        super().__init__(**kw)\n        self.bn = layers.BatchNormalization()\n\n"
                          "    def call(self, x, training=False):\n        return self.bn(x, training=training)\n",
}


@pytest.mark.skipif(not compiler_checks.ENABLED, reason="compiler checks not verified on this Python")
@pytest.mark.parametrize("name", sorted(REJECTED))
def test_what_the_compiler_rejects_is_unsafe(name: str):
    source = REJECTED[name]
    ast.parse(source)  # the parser takes it
    assert not _compiles(source), "the compiler should refuse it"
    assert _unsafe(source) is not None


@pytest.mark.skipif(not compiler_checks.ENABLED, reason="compiler checks not verified on this Python")
@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_plain_code_is_safe(name: str):
    source = ACCEPTED[name]
    assert _compiles(source)
    assert _unsafe(source) is None


def test_a_python_the_checks_were_not_verified_on_compiles_every_analysed_file(monkeypatch):
    monkeypatch.setattr(ast_tree, "ENABLED", False)
    assert _unsafe(ACCEPTED["a subclassed model"]) is not None


@pytest.mark.parametrize("name", ["return at module level", "break in a loop's else", "repeated keyword"])
def test_an_analysed_file_the_compiler_rejects_is_nl000_with_cpythons_words(name: str):
    model = "from keras import layers\nx = layers.Dropout(0.5)(x)\nx = layers.BatchNormalization()(x)\n"
    source = model + REJECTED[name]
    try:
        compile(source, "m.py", "exec")
    except SyntaxError as exc:
        expected = exc.msg
    findings = lint_source(source, "m.py", check_syntax=True, fixes=False)
    assert [f.code for f in findings] == ["NL000"]
    assert findings[0].message.endswith(expected)
    assert [f.code for f in lint_source(model, "m.py", check_syntax=True, fixes=False)] == ["NL101"]


def _snippets(folder: Path) -> set[str]:
    """Every test file of ``folder``, and every string constant in them (dedented, and each doctest example)."""
    found: set[str] = set()
    parser = doctest.DocTestParser()
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (UnicodeDecodeError, SyntaxError, ValueError):
            continue
        found.add(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) < 5000:
                found.update((node.value, textwrap.dedent(node.value)))
                if ">>>" in node.value:
                    try:
                        found.update(example.source for example in parser.get_examples(node.value))
                    except ValueError:
                        pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not compiler_checks.ENABLED, reason="compiler checks not verified on this Python")
@pytest.mark.skipif(not CPYTHON_TESTS.is_dir(), reason="this Python has no test suite installed")
def test_no_snippet_of_cpythons_test_suite_that_fails_to_compile_is_called_safe():
    """CPython's own tests hold every error its compiler raises (test_syntax, test_compile, test_symtable,
    test_patma, test_named_expressions, test_coroutines...): each snippet the parser takes and the compiler
    refuses must be unsafe (or a tree the fast builder does not make, which the engine compiles)."""
    refused, missed = 0, []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the snippets' invalid escapes...
        snippets = _snippets(CPYTHON_TESTS)
    for source in snippets:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            continue
        if _compiles(source):
            continue
        refused += 1
        try:
            builder = ast_tree.builder(source, tree)
            builder.module(tree)
        except Exception:  # noqa: BLE001 - not built: the engine compiles it
            continue
        if builder.unsafe is None:
            missed.append(source)
    assert refused > 300, "the test suite's snippets were not found"
    assert not missed, f"{len(missed)} refused snippets called safe, e.g.:\n{missed[0]}"


# statements that are errors in some places and not in others, put at random lines of real files
MUTATIONS = ("return", "return 1", "break", "continue", "yield", "x = yield", "await f()", "global gx", "nonlocal nx",
             "from __future__ import annotations", "from os import *", "f(a=1, a=2)", "*a, *b = c",
             "async for q in w: pass", "async with q: pass", "[x async for x in y]", "__debug__ = 1",
             "lambda a, a: 0", "def dup(a, a): pass", "class K(metaclass=M, metaclass=N): pass", "(yield)",
             "[(yield) for q in w]", "x: int = 1", "global gx\n{indent}gx: int = 1", "a, *b = c")


@pytest.mark.slow
@pytest.mark.skipif(not compiler_checks.ENABLED, reason="compiler checks not verified on this Python")
def test_statements_put_anywhere_in_real_files_are_unsafe_wherever_the_compiler_refuses_them():
    import random

    rng = random.Random(15)
    files = sorted(Path(ast.__file__).parent.glob("*.py"))[:80] + sorted((Path(__file__).parents[1] / "normlint").rglob("*.py"))
    refused, missed = 0, []
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines(True)
        for _ in range(10):
            at = rng.randrange(len(lines) + 1)
            before = lines[at - 1] if at else ""
            indent = before[:len(before) - len(before.lstrip())] + ("    " if before.rstrip().endswith(":") else "")
            source = "".join(lines[:at]) + indent + rng.choice(MUTATIONS).replace("{indent}", indent) + "\n" + "".join(lines[at:])
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            if _compiles(source):
                continue
            refused += 1
            builder = ast_tree.builder(source, tree)
            builder.module(tree)
            if builder.unsafe is None:
                missed.append(f"{path}:{at}: {source.splitlines()[at]!r}")
    assert refused > 300
    assert not missed, missed[:5]
