"""Where libcst nodes are: the positions of findings and fixes on the libcst path (normlint.lint.engine).

The fast tree (normlint.lint.ast_tree) knows its own positions; libcst's are computed here, only for the
nodes asked for.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import Mapping

import libcst as cst
from libcst.metadata import CodePosition, CodeRange, MetadataWrapper, PositionProvider

from normlint.lint.fixes import Offsets
from normlint.lint.index import descendants


def deep_call(fn, *args, stack_mb: int = 512, limit: int = 200_000):
    """``fn(*args)`` in a thread with a large stack and a raised recursion limit: libcst's metadata
    providers recurse once per nesting level, and generated code nests thousands deep. Re-raises what
    ``fn`` raised (RecursionError included, when even this is not enough)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    try:
        threading.stack_size(stack_mb << 20)
        sys.setrecursionlimit(max(old_limit, limit))
        worker = threading.Thread(target=target, name="normlint-deep")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _occurrences(text: str, part: str) -> list[int]:
    found, at = [], text.find(part)
    while at != -1 and part:
        found.append(at)
        at = text.find(part, at + 1)
    return found


_LINE_END = re.compile(r"\r\n|\r|\n")


def _resolve_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    try:
        return wrapper.resolve(PositionProvider)
    except RecursionError:  # a deeply nested file: once more on a deep stack
        return deep_call(wrapper.resolve, PositionProvider)


class Positions(Mapping[cst.CSTNode, CodeRange]):
    """libcst's PositionProvider ranges of the nodes asked for, computed one top-level statement at a time.

    The provider renders the module it is given to place every node in it, which costs more than the
    parse. A top-level statement is written at column 0 and rendered verbatim, so its text occurs in
    the source exactly as libcst renders it: the statement is placed by a text search, the provider runs
    on a module holding that statement alone, and the lines are shifted. The whole module is rendered
    only when a statement's text is not found once at the start of a line (a top-level line written
    twice, a file with \\r\\n line ends)."""

    def __init__(self, source: str, module: cst.Module) -> None:
        self.source = source
        self.module = module
        self._full: Mapping[cst.CSTNode, CodeRange] | None = None
        self._top_of: dict[int, int] = {}  # id of a node -> index of its top-level statement
        self._walked = 0  # top-level statements whose nodes are in _top_of
        self._sub: dict[int, tuple[Mapping[cst.CSTNode, CodeRange], cst.CSTNode, int] | None] = {}
        self._starts: dict[int, int | None] = {}

    def get(self, node: cst.CSTNode, default: CodeRange | None = None) -> CodeRange | None:  # type: ignore[override]
        if self._full is None:
            index = self._top_index(node)
            if index is not None:
                found = self._statement(index)
                if found is not None:
                    mapping, stripped, shift = found
                    r = mapping.get(stripped if node is self.module.body[index] else node)
                    if r is not None:
                        return CodeRange(CodePosition(r.start.line + shift, r.start.column),
                                         CodePosition(r.end.line + shift, r.end.column))
        return self.full().get(node, default)

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self.get(node)
        if found is None:
            raise KeyError(node)
        return found

    def __iter__(self):
        return iter(self.full())

    def __len__(self) -> int:
        return len(self.full())

    def full(self) -> Mapping[cst.CSTNode, CodeRange]:
        if self._full is None:
            self._full = _resolve_positions(self.module)
        return self._full

    def _top_index(self, node: cst.CSTNode) -> int | None:
        key = id(node)
        body = self.module.body
        while key not in self._top_of and self._walked < len(body):
            for n in descendants(body[self._walked]):
                self._top_of[id(n)] = self._walked
            self._walked += 1
        return self._top_of.get(key)

    def find_in_statement(self, node: cst.CSTNode, text: str) -> int | None:
        """The offset of ``text`` (``node``'s own) when it occurs once within the source of the top-level
        statement that holds ``node``, found without rendering that statement (only its first lines)."""
        index = self._top_index(node)
        if index is None:
            return None
        start = self._start(index)
        if start is None:
            return None
        end = self._start(index + 1) if index + 1 < len(self.module.body) else None
        region = self.source[start: end if end is not None else len(self.source)]
        at = region.find(text)
        if at == -1 or region.find(text, at + 1) != -1:
            return None
        return start + at

    def _start(self, index: int) -> int | None:
        """Where top-level statement ``index`` starts: its first lines (decorators and header of a compound
        statement, the whole of a simple one) found once at the start of a line."""
        if index in self._starts:
            return self._starts[index]
        self._starts[index] = None
        top = self.module.body[index].with_changes(leading_lines=[])
        body = getattr(top, "body", None)
        if isinstance(body, cst.IndentedBlock):
            stub = self.module.code_for_node(top.with_changes(body=body.with_changes(
                body=[cst.SimpleStatementLine([cst.Pass()])], footer=[])))
            lines = stub.splitlines(keepends=True)
            cut = next((i for i, line in enumerate(lines) if line.strip() == "pass"), None)
            head = "".join(lines[:cut]) if cut else ""
        else:
            head = self.module.code_for_node(top) if isinstance(top, cst.SimpleStatementLine) else ""
        starts = [at for at in _occurrences(self.source, head) if at == 0 or self.source[at - 1] in "\r\n"]
        if head and len(starts) == 1:
            self._starts[index] = starts[0]
        return self._starts[index]

    def _statement(self, index: int) -> tuple[Mapping[cst.CSTNode, CodeRange], cst.CSTNode, int] | None:
        if index not in self._sub:
            self._sub[index] = None
            top = self.module.body[index]
            stripped = top.with_changes(leading_lines=[])
            text = self.module.code_for_node(stripped)
            starts = [at for at in _occurrences(self.source, text) if at == 0 or self.source[at - 1] in "\r\n"]
            if len(starts) == 1 and text:
                shift = len(_LINE_END.findall(self.source, 0, starts[0]))
                alone = self.module.with_changes(header=[], body=[stripped], footer=[], has_trailing_newline=True)
                self._sub[index] = (_resolve_positions(alone), stripped, shift)
        return self._sub[index]


class Locator:
    """(line, 0-based column) of a node.

    Findings are few: a node whose exact text occurs once in the source is placed by a text search
    (libcst round-trips the source exactly, so that one occurrence is the node); the rest, and the
    nodes of fixes, by ``Positions``.
    """

    def __init__(self, source: str, module: cst.Module) -> None:
        self.source = source
        self.module = module
        self._positions: Positions | None = None
        self._offsets: Offsets | None = None

    def __call__(self, node: cst.CSTNode) -> tuple[int, int]:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:  # the `def` line, not the decorator's
            start = self.positions()[node].start
            return start.line, start.column
        if getattr(node, "lpar", None):  # where the node's own text starts, as PositionProvider places it
            node_text = self.module.code_for_node(node.with_changes(lpar=[], rpar=[]))  # type: ignore[attr-defined]
        else:
            node_text = self.module.code_for_node(node)
        text = node_text.strip()
        found = self.source.find(text) if text else -1
        first: int | None = found if found != -1 else None
        if found != -1 and self.source.find(text, found + 1) != -1:  # the text repeats: look in its statement
            first = self.positions().find_in_statement(node, text)
        if first is not None:
            line, col = self.offsets().position(first)  # \r\n, \r and \n end a line, as they do for Python
            return line, col - 1
        start = self.positions()[node].start
        return start.line, start.column

    def offsets(self) -> Offsets:
        if self._offsets is None:
            self._offsets = Offsets(self.source)
        return self._offsets

    def positions(self) -> Positions:
        if self._positions is None:
            self._positions = Positions(self.source, self.module)
        return self._positions
