"""Fixes: what a rule proposes to rewrite, as text edits of the linted source.

A rule attaches a ``FixSpec`` to its Hit: node-level edits (replace a node's text, insert after a node,
move whole statement lines) with an applicability, as Ruff classifies them:

- ``safe``: the program computes the same thing afterwards (``use_bias=False`` before a centering
  BatchNormalization removes a parameter that had no effect);
- ``unsafe``: it changes numerics or weights (another axis, another momentum, layers hoisted out of
  ``call()``): applied only with ``--unsafe-fixes``.

The engine resolves the nodes to character offsets of the source (``Edit``), so a finding carries a
``Fix`` that reports (JSON, SARIF) and ``normlint.lint.autofix`` use without libcst.
"""

from __future__ import annotations

import re
from itertools import accumulate
from typing import TYPE_CHECKING, Callable, Literal, Mapping

from normlint.lint.syntax import cst
from normlint.records import record

if TYPE_CHECKING:
    from libcst.metadata import CodeRange

SAFE, UNSAFE = "safe", "unsafe"
Mode = Literal["replace", "insert_after", "insert_before", "delete_lines", "insert_after_lines", "insert_before_lines"]


@record(frozen=True)
class NodeEdit:
    """One edit in terms of a node: ``replace`` its text; ``insert_after``/``insert_before`` it;
    ``delete_lines``: remove the whole lines it spans; ``insert_after_lines``/``insert_before_lines``: add
    text after its last line / before its first."""

    node: cst.CSTNode
    text: str = ""
    mode: Mode = "replace"


@record(frozen=True)
class FixSpec:
    """``edits`` may be a function that makes them: a fix that renders code (libcst's tree) says what it
    does without rendering anything where no edit is placed (the fast tree: flake8, the text report)."""

    message: str
    applicability: str
    edits: tuple[NodeEdit, ...] | Callable[[], tuple[NodeEdit, ...]]

    def node_edits(self) -> tuple[NodeEdit, ...]:
        return self.edits() if callable(self.edits) else self.edits


@record(frozen=True, order=True)
class Edit:
    """Replace ``source[start:end]`` with ``text``; (line, col) are 1-based, for reports."""

    start: int
    end: int
    text: str
    start_line: int = 0
    start_col: int = 0
    end_line: int = 0
    end_col: int = 0


@record(frozen=True)
class Fix:
    message: str
    applicability: str
    edits: tuple[Edit, ...]


_NEWLINE = re.compile(r"\r\n|\r|\n")


class Offsets:
    """(line, column) of libcst positions to character offsets of the source, and back."""

    def __init__(self, source: str, lines: list[str] | None = None) -> None:
        """``lines``: the source's lines with their ends (\\r\\n, \\r, \\n), when the caller has them."""
        self.source = source
        if lines is None:
            self.starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
        else:  # the line ends' offsets: each line's end, but for a last line with none
            self.starts = [0, *accumulate(map(len, lines))]
            if lines and not lines[-1].endswith(("\n", "\r")):
                self.starts.pop()
        first = _NEWLINE.search(source)
        self.newline = first.group() if first else "\n"

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col if line - 1 < len(self.starts) else len(self.source)

    def line_start(self, line: int) -> int:
        return self.starts[line - 1] if line - 1 < len(self.starts) else len(self.source)

    def line_after(self, line: int) -> int:
        """Offset just past line ``line``'s newline (the end of the source for the last line)."""
        return self.starts[line] if line < len(self.starts) else len(self.source)

    def position(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self.starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self.starts[lo] + 1


def resolve(spec: FixSpec, positions: Mapping[cst.CSTNode, CodeRange], offsets: Offsets) -> Fix | None:
    """The spec's edits as offsets of the source; None when a node has no position (not in the module)."""
    edits = []
    for e in spec.node_edits():
        where = positions.get(e.node)
        if where is None:
            return None
        start = offsets.offset(where.start.line, where.start.column)
        end = offsets.offset(where.end.line, where.end.column)
        if e.mode == "insert_after":
            start = end
        elif e.mode == "insert_before":
            end = start
        elif e.mode == "delete_lines":
            start, end = offsets.line_start(where.start.line), offsets.line_after(where.end.line)
        elif e.mode == "insert_after_lines":
            start = end = offsets.line_after(where.end.line)
        elif e.mode == "insert_before_lines":
            start = end = offsets.line_start(where.start.line)
        text = e.text.replace("\n", offsets.newline) if offsets.newline != "\n" else e.text
        edits.append(Edit(start, end, text, *offsets.position(start), *offsets.position(end)))
    return Fix(spec.message, spec.applicability, tuple(sorted(edits)))


def apply(source: str, edits: list[Edit]) -> str:
    """``source`` with non-overlapping ``edits`` applied."""
    out, last = [], 0
    for e in sorted(edits):
        out.append(source[last:e.start])
        out.append(e.text)
        last = e.end
    out.append(source[last:])
    return "".join(out)


def overlaps(a: Edit, b: Edit) -> bool:
    """Two edits that touch the same text (two inserts at one point count: their order would matter)."""
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    return a.start < b.end and b.start < a.end


def call_insert(call: cst.Call, keyword: str, value: str, func_code: str) -> NodeEdit:
    """``keyword=value`` in ``call``: the value replaced when the keyword is there, else added as the
    last argument (``func_code``: the text of call.func, for a call without arguments)."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == keyword:
            return NodeEdit(a.value, value, "replace")
    if not call.args:
        return NodeEdit(call, f"{func_code}({keyword}={value})", "replace")
    # after the Arg node: its range holds the value's own parentheses, ``(1, 1)``, and not its comma
    return NodeEdit(call.args[-1], f", {keyword}={value}", "insert_after")


def indentation(module: cst.Module, blocks) -> str:
    """The indentation of statements inside ``blocks`` (the IndentedBlocks from the module down)."""
    return "".join((b.indent if b.indent is not None else module.default_indent)
                   for b in blocks if isinstance(b, cst.IndentedBlock))


def written_literal(expr: cst.BaseExpression) -> bool:
    """The value is written out in the call (``0.1``, ``-1``, ``[0, 3]``, ``1 - 0.9``), not read from a name,
    an attribute or a subscript: a fix may rewrite it without touching what the name serves elsewhere."""
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name) and node.value not in ("True", "False", "None"):
            return False
        if isinstance(node, (cst.Attribute, cst.Subscript, cst.Call)):
            return False
        stack.extend(node.children)
    return True
