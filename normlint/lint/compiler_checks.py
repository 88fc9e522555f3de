"""What CPython's compiler may still reject in a tree its parser accepted, noticed while the tree is built.

NL000 says a file does not compile whenever the running interpreter would refuse it. The parser catches
most errors; the symbol table and the code generator catch the rest (``return`` outside a function,
``break`` outside a loop, ``f(a=1, a=2)``...). For the files the analysis reads, ``compile()`` of their
``ast`` tree cost as much again as parsing them, to find what is almost never there. The fast tree's
builder (normlint.lint.ast_tree) mixes ``CompilerChecks`` in and calls its hooks at the constructs those
errors are about; when none of them can be in the file (``unsafe`` is None), the tree is not compiled.
When one might be, it is, and CPython's own words decide as before.

The checks err on one side only: a construct they do not model exactly makes the file ``unsafe``
(compiled), never safe. Checked against every snippet of CPython's own test suite that parses and does not
compile (tests/test_compiler_checks.py). Only on the Python versions that test has passed on
(``VERIFIED``); on any other the analysed files are compiled, as every file is when there is no fast tree.

What makes a file unsafe:

- ``__debug__`` anywhere in the text (assigning or binding it is an error);
- ``return`` outside a ``def``; ``yield`` outside a ``def`` or in an ``async def``, a lambda, a
  comprehension or an annotation; ``await``, ``async for``/``with`` and async comprehensions outside an
  ``async def`` (``await`` also in a comprehension, a lambda or an annotation);
- ``break``/``continue`` outside a loop body (a loop's ``else:`` is outside it; a ``def`` or ``class``
  starts afresh);
- ``nonlocal``, ``:=``, ``match``, ``try``/``except*``; ``global`` anywhere but the first statements of a
  ``def`` (after its docstring), or naming one of its parameters, or a name the ``def`` annotates;
- ``from m import *`` not at module level; ``from __future__ import`` anywhere but the file's first
  statements (after the docstring), or of a feature this Python does not have;
- a starred expression anywhere but an argument, a display element or one target of an unpacking; two
  starred targets in one unpacking, or more than 255 targets before the star;
- a parameter name twice in one ``def``/``lambda``; a keyword argument twice in one call or class;
- a bare ``except:`` before another handler;
- blocks (loops, ``try``, ``with`` items) nested deeper than 12 in one function (CPython allows 20).
"""

from __future__ import annotations

import __future__
import ast
import sys
import unicodedata
from typing import Any

# the versions tests/test_compiler_checks.py has run on (its corpus is the running Python's own tests)
VERIFIED = frozenset({(3, 11)})
ENABLED = sys.version_info[:2] in VERIFIED

_FEATURES = frozenset(__future__.all_feature_names) - {"barry_as_FLUFL"}  # that one changes the grammar
_MAX_BLOCKS = 12
# scopes: what encloses the code being built
MODULE, DEF, ASYNC_DEF, LAMBDA = 0, 1, 2, 3


class CompilerChecks:
    """The state the checks need while a tree is built: the enclosing scope, loop and block depth."""

    unsafe: str | None  # why the tree must be compiled; None: nothing the compiler could reject

    def _start_checks(self, source: str, tree: ast.Module) -> None:
        self.unsafe = None
        self._scope = MODULE  # MODULE also for a class body: no return, yield, await there
        self._comp = 0  # inside a comprehension or an annotation
        self._loop = False  # directly in a loop body of the current function or class
        self._blocks = 0  # static blocks open in the current function or class
        self._top = True  # at module level, outside any def or class
        self._leading: frozenset[int] = frozenset()  # the global statements the current def opens with
        self._params: frozenset[str] = frozenset()  # the current def's parameters
        self._globals: set[str] = set()  # the names the current def declares global
        # names are compared NFKC-normalized (a text already in that form is its own normal form)
        if "__debug__" in source or (not source.isascii() and not unicodedata.is_normalized("NFKC", source)
                                     and "__debug__" in unicodedata.normalize("NFKC", source)):
            self.unsafe = "__debug__"
        self._futures = _future_prefix(tree.body)

    def _risk(self, why: str) -> None:
        if self.unsafe is None:
            self.unsafe = why

    # ---- scopes
    def _enter(self, scope: int, node: Any = None) -> tuple[Any, ...]:
        """A def (``node``), a class body or a lambda begins: what the enclosing code had, to ``_leave``."""
        saved = (self._scope, self._comp, self._loop, self._blocks, self._top, self._leading, self._params, self._globals)
        if scope != LAMBDA:
            self._loop, self._blocks, self._top = False, 0, False
            self._leading, self._params, self._globals = frozenset(), frozenset(), set()
            if node is not None:
                self._leading = _leading_globals(node.body)
                if self._leading:
                    a = node.args
                    self._params = frozenset(p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg)
                                             if p is not None)
        self._scope, self._comp = scope, 0 if scope != LAMBDA else self._comp
        return saved

    def _leave(self, saved: tuple[Any, ...]) -> None:
        (self._scope, self._comp, self._loop, self._blocks, self._top, self._leading, self._params,
         self._globals) = saved

    def _loop_body(self) -> tuple[bool, int]:
        """Inside a loop's body: one more block, and break/continue allowed."""
        saved = self._blocks_in(1)
        self._loop = True
        return saved

    def _blocks_in(self, more_blocks: int) -> tuple[bool, int]:
        """Inside a try/with body: the loop state stays, the block depth grows."""
        saved = (self._loop, self._blocks)
        self._blocks += more_blocks
        if self._blocks > _MAX_BLOCKS:
            self._risk("blocks nested deeply")
        return saved

    def _restore_loop(self, saved: tuple[bool, int]) -> None:
        self._loop, self._blocks = saved

    # ---- statements and expressions
    def _check_return(self) -> None:
        if self._scope != DEF and self._scope != ASYNC_DEF:
            self._risk("return outside a def")

    def _check_loop_jump(self) -> None:
        if not self._loop:
            self._risk("break/continue outside a loop")

    def _check_yield(self) -> None:
        if self._scope != DEF or self._comp:
            self._risk("yield")

    def _check_await(self) -> None:
        if self._scope != ASYNC_DEF or self._comp:
            self._risk("await")

    def _check_async(self) -> None:
        if self._scope != ASYNC_DEF:
            self._risk("async outside an async def")

    def _check_scope_names(self, s: ast.Global | ast.Nonlocal) -> None:
        if type(s) is ast.Global and id(s) in self._leading and self._params.isdisjoint(s.names):
            self._globals.update(s.names)  # a def that opens with ``global x``: nothing can precede it
        else:
            self._risk("global/nonlocal")

    def _check_annotated(self, target: ast.expr) -> None:
        if type(target) is ast.Name and target.id in self._globals:
            self._risk("an annotated global")

    def _check_import_from(self, s: ast.ImportFrom) -> None:
        if s.module == "__future__" and id(s) not in self._futures:
            self._risk("a __future__ import")
        elif not self._top and any(a.name == "*" for a in s.names):
            self._risk("import * below module level")

    def _check_params(self, a: ast.arguments) -> None:
        names = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
        names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        if len(names) > 1 and len(set(names)) != len(names):
            self._risk("a parameter twice")

    def _check_keywords(self, keywords: list[ast.keyword]) -> None:
        if len(keywords) > 1:
            names = [k.arg for k in keywords if k.arg is not None]
            if len(set(names)) != len(names):
                self._risk("a keyword argument twice")

    def _check_unpacking(self, elts: list[ast.expr], ctx: Any) -> None:
        """A tuple/list that is assigned to (or deleted): at most one starred target, at most 255 before it."""
        if type(ctx) is ast.Load:
            return
        stars = [i for i, x in enumerate(elts) if type(x) is ast.Starred]
        if stars and (len(stars) > 1 or stars[0] >= 1 << 8 or len(elts) - stars[0] - 1 >= (2**31 - 1) >> 8
                      or type(ctx) is not ast.Store):
            self._risk("starred targets")  # CPython's limits: 255 targets before the star, 2**23 after

    def _check_handlers(self, handlers: list[ast.ExceptHandler]) -> None:
        if any(h.type is None for h in handlers[:-1]):
            self._risk("a bare except: before another handler")


def _leading_globals(body: list[ast.stmt]) -> frozenset[int]:
    """The ``global`` statements a def's body opens with (after its docstring)."""
    found = set()
    for s in _after_docstring(body):
        if type(s) is not ast.Global:
            break
        found.add(id(s))
    return frozenset(found)


def _future_prefix(body: list[ast.stmt]) -> frozenset[int]:
    """The ``from __future__ import`` statements the compiler accepts: the file's first statements (after a
    docstring), each naming features this Python has."""
    ok = set()
    for s in _after_docstring(body):
        if type(s) is not ast.ImportFrom or s.module != "__future__":
            break
        if s.level or any(a.name not in _FEATURES for a in s.names):
            break
        ok.add(id(s))
    return frozenset(ok)


def _after_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a body after its docstring (a first statement that is a string), as CPython reads it."""
    if body and type(body[0]) is ast.Expr and type(body[0].value) is ast.Constant and type(body[0].value.value) is str:
        return body[1:]
    return body
