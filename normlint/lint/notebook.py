"""Jupyter notebooks: their code cells as one Python text, and positions mapped back to cells.

A notebook is JSON; linting that text as Python would report it clean, so ``.ipynb`` files go through
here. Only code cells are read, in order (numbered from 1 among the code cells, as nbQA numbers them).
IPython syntax that is not Python is neutralised line by line, keeping the line count so positions map
back exactly:

- line magics and shell lines (``%matplotlib inline``, ``!pip install x``, ``files = !ls``) become
  ``pass`` / ``files = None`` at the same indentation; help lines (``obj?``, ``??obj``) likewise; only
  where a logical line starts, as IPython reads them (``%(epoch, loss))`` continuing a ``print(`` is
  Python's modulo, and so is a ``%`` line inside a triple-quoted string or after a backslash);
- a cell magic (``%%bash``, ``%%writefile``) skips its cell, except the ones whose body is Python
  (``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``), whose body is linted;
- a cell indented as a whole is dedented (IPython's leading-indent cleanup), IPython's top-level
  ``await`` is accepted;
- a cell that still does not compile is reported (NL000, with its cell and line) and left out; the
  other cells are linted.

Each line of the joined text knows its cell, its line in the cell and its line in the ``.ipynb`` file
(where the JSON string holding it starts), so text reports say ``nb.ipynb:cell 3:4:5`` and CI
annotations point at the real file.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from typing import Any

from normlint.records import field, record

_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_MAGIC = re.compile(r"^(\s*)(?:[%!]|\?\??\w)")
_ASSIGNED_MAGIC = re.compile(r"^(\s*)([\w.\[\]'\", ]+?)\s*=\s*[%!]")
_HELP = re.compile(r"^(\s*)[\w.\[\]()]+\?\??\s*$")
_TOP_LEVEL_AWAIT = re.compile(r"\bawait\s+")
_FLAGS = ast.PyCF_ONLY_AST | getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0)


class NotebookError(ValueError):
    """The file is not a notebook normlint can read (not JSON, no cells)."""


@record(frozen=True)
class Place:
    cell: int  # 1-based among code cells
    line: int  # 1-based line in the cell
    file_line: int  # 1-based line of the .ipynb file


@record
class Notebook:
    source: str  # the code cells, joined: what the engine lints
    lines: list[tuple[int, int]] = field(default_factory=list)  # (cell, line in the cell) of each line of ``source``
    broken: list[tuple[Place, int, str]] = field(default_factory=list)  # cells left out: where, column, why
    # where each cell's lines are stored in the .ipynb file: worked out when a place is first asked for
    stored: StoredLines | None = field(default=None, compare=False)
    # ``ast.parse(source)`` when the reader made it (every cell parsed at once): the engine's to take
    tree: ast.Module | None = field(default=None, compare=False)

    def place(self, line: int) -> Place:
        if 0 < line <= len(self.lines):
            cell, at = self.lines[line - 1]
        elif self.lines:
            cell, at = self.lines[-1]
        else:
            return Place(1, 1, 1)
        return Place(cell, at, self.stored.line(cell, at) if self.stored is not None else 1)


class StoredLines:
    """The .ipynb line of each line of each code cell (where the JSON string holding it starts), found
    in the raw text once, when a finding first needs one: a notebook without findings never pays for it."""

    def __init__(self, raw: str, texts: list[list[str]], cells: list[dict]) -> None:
        self._raw, self._texts, self._cells = raw, texts, cells
        self._found: list[list[int]] | None = None

    def line(self, cell: int, line: int) -> int:
        """The file line of ``line`` (1-based) of code cell ``cell`` (1-based); past its end, its last."""
        if self._found is None:
            self._found = _json_positions(self._raw, self._texts, self._cells)
        at = self._found[cell - 1] if 0 < cell <= len(self._found) else []
        return at[line - 1] if 0 < line <= len(at) else at[-1] if at else 1


def code_cells(doc: object) -> list[dict] | None:
    """The code cells of a parsed notebook (nbformat 4, or 3's worksheets); None without a cells list."""
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if cells is None and isinstance(doc, dict) and isinstance(doc.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in doc["worksheets"] if isinstance(ws, dict) for c in ws.get("cells") or []]
    if not isinstance(cells, list):
        return None
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def source_key(cell: dict) -> str:
    return "source" if "source" in cell or "input" not in cell else "input"  # nbformat 3 called it "input"


def source_pieces(cell: dict) -> list[str]:
    """A cell's source as stored: a list of strings (odd items dropped), or one string."""
    src = cell.get(source_key(cell), "")
    return [s for s in src if isinstance(s, str)] if isinstance(src, list) else [src] if isinstance(src, str) else []


def _cell_lines(cell: dict) -> list[str]:
    return "".join(source_pieces(cell)).splitlines()


def _neutralise(lines: list[str]) -> list[str] | None:
    """The cell's lines with IPython syntax replaced, same count; None for a cell magic that is not Python."""
    out = list(lines)
    first = next((i for i, s in enumerate(lines) if s.strip()), None)
    if first is not None and lines[first][:1] in (" ", "\t"):  # IPython drops a cell's leading indentation
        indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
        out = [s[len(indent):] if s.startswith(indent) else s for s in out]
        lines = out
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].lstrip()[2:].split(None, 1)[0] if lines[first].strip() != "%%" else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return None
        out[first] = ""
    if not any("%" in line or "!" in line or "?" in line for line in out):
        return out  # every form below holds one of these: most cells have none
    i = 0
    scan = _Scanner()
    while i < len(out):
        line = out[i]
        if scan.inside:  # a line that continues a bracket, a string or a backslash: ``%(a, b)`` is modulo there
            scan.read(line)
            i += 1
            continue
        m = _ASSIGNED_MAGIC.match(line)
        if m and not line.lstrip().startswith(("%", "!")):
            out[i] = f"{m.group(1)}{m.group(2)} = None"
        elif _MAGIC.match(line) or _HELP.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            out[i] = f"{indent}pass"
            while line.rstrip().endswith("\\") and i + 1 < len(out):  # a magic continued on the next line
                i += 1
                line = out[i]
                out[i] = f"{indent}pass"
        scan.read(out[i])
        i += 1
    return out


class _Scanner:
    """Where a cell's lines stand, as IPython sees them: an escape (``%``, ``!``, ``?``) means a magic only
    at the start of a logical line, not inside brackets, a triple-quoted string or after a backslash."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote = ""  # the open triple quote, if any
        self.continued = False

    @property
    def inside(self) -> bool:
        return bool(self.depth or self.quote or self.continued)

    def read(self, line: str) -> None:
        i, n = 0, len(line)
        self.continued = False
        while i < n:
            if self.quote:
                end = line.find(self.quote, i)
                while end > 0 and _escaped(line, end):
                    end = line.find(self.quote, end + 1)
                if end < 0:
                    return
                i, self.quote = end + len(self.quote), ""
                continue
            c = line[i]
            if c == "#":
                return
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(self.depth - 1, 0)
            elif c in "'\"":
                if line.startswith(c * 3, i):
                    self.quote, i = c * 3, i + 3
                    continue
                end = line.find(c, i + 1)
                while end > 0 and _escaped(line, end):
                    end = line.find(c, end + 1)
                if end < 0:
                    self.continued = line.rstrip().endswith("\\")
                    return  # an unclosed one-line string: the compiler says so
                i = end + 1
                continue
            elif c == "\\" and not line[i + 1:].strip():
                self.continued = True
                return
            i += 1


def _escaped(line: str, at: int) -> bool:
    """The character at ``at`` follows an odd number of backslashes."""
    k = at
    while k > 0 and line[k - 1] == "\\":
        k -= 1
    return (at - k) % 2 == 1


def _syntax_problem(text: str, flags: int = _FLAGS) -> tuple[int, int, str] | None:
    """Where and why ``text`` does not compile (IPython's top-level await allowed by default), or None."""
    return _compiled(text, flags)[1]


def _compiled(text: str, flags: int = _FLAGS) -> tuple[Any, tuple[int, int, str] | None]:
    """(what ``compile()`` made of ``text``: an ``ast`` tree with the default flags, else None; where and
    why it refused, else None)."""
    try:
        with warnings.catch_warnings():  # the user's invalid escapes are not ours to print
            warnings.simplefilter("ignore")
            return compile(text, "<cell>", "exec", flags=flags, dont_inherit=True), None
    except SyntaxError as exc:
        return None, (exc.lineno or 1, max(exc.offset or 1, 1), exc.msg)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return None, (1, 1, type(exc).__name__)


def _plain_syntax_problem(lines: list[str]) -> tuple[int, int, str] | None:
    """The same, as plain Python compiles it (no top-level await)."""
    return _syntax_problem("\n".join(lines) + "\n", flags=0)


def _json_positions(raw: str, cells: list[list[str]], raw_cells: list[dict]) -> list[list[int]]:
    """For each code cell, the .ipynb line of each of its lines (the JSON string that starts it)."""
    result: list[list[int]] = []
    offset = 0
    counted, newlines = 0, 0  # the newlines of raw[:counted]: the search only moves forward

    def line_of(pos: int) -> int:
        nonlocal counted, newlines
        if pos < counted:  # never, as the offsets only grow: counted afresh rather than wrong
            return raw.count("\n", 0, pos) + 1
        newlines += raw.count("\n", counted, pos)
        counted = pos
        return newlines + 1

    for lines, cell in zip(cells, raw_cells):
        pieces = source_pieces(cell)
        found: list[int] = []
        start = raw.find('"source"', offset)
        if start != -1:
            offset = start
        base_line = line_of(offset)
        for piece in pieces:
            pos = -1
            for encoded in (json.dumps(piece), json.dumps(piece, ensure_ascii=False)):
                pos = raw.find(encoded, offset)
                if pos != -1:
                    break
            line = line_of(pos) if pos != -1 else (found[-1] if found else base_line)
            if pos != -1:
                offset = pos + 1
            # one JSON string may hold several lines (a source written as one string)
            found.extend([line] * max(1, str(piece).count("\n") + (0 if str(piece).endswith("\n") else 1)))
        result.append((found + [found[-1] if found else base_line] * len(lines))[: len(lines)])
    return result


def read_notebook(raw: str) -> Notebook:
    """The code cells of a notebook's JSON text, ready to lint."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotebookError(f"not a notebook: invalid JSON ({exc})") from None
    code = code_cells(doc)
    if code is None:
        raise NotebookError("not a notebook: no 'cells' list")
    meta = doc.get("metadata")
    info = meta.get("language_info") if isinstance(meta, dict) else None
    language = info.get("name", "python") if isinstance(info, dict) else "python"
    if isinstance(language, str) and language.lower() not in ("python", "python3", "ipython", ""):
        return Notebook("")  # an R or Julia notebook: nothing here is Python
    texts = [_cell_lines(c) for c in code]
    stored = StoredLines(raw, texts, code)
    cells = [(number, lines, cleaned) for number, lines in enumerate(texts, 1)
             if (cleaned := _neutralise(lines)) is not None]
    nb = _parsed_whole(cells, stored)
    return nb if nb is not None else _cell_by_cell(cells, stored)


def _joined(cells: list[tuple[int, list[str], list[str]]], stored: StoredLines) -> tuple[Notebook, list[str], list[int]]:
    """(the notebook of these cells, its lines, the line numbers of the blank line after each cell)."""
    nb = Notebook("", stored=stored)
    out: list[str] = []
    after: list[int] = []
    for number, _, cleaned in cells:
        out.extend(cleaned)
        nb.lines.extend((number, i) for i in range(1, len(cleaned) + 1))
        out.append("")  # a blank line between cells keeps a cell's dedent from touching the next
        nb.lines.append((number, len(cleaned) + 1))
        after.append(len(out))
    nb.source = "\n".join(out) + ("\n" if out else "")
    return nb, out, after


def _parsed_whole(cells: list[tuple[int, list[str], list[str]]], stored: StoredLines) -> Notebook | None:
    """The notebook when its cells joined parse as one text in which no statement, bracket or line
    continuation crosses from one cell into the next: then each cell parses alone too (what
    ``_cell_by_cell`` asks, one ``compile()`` per cell), and the engine reads the tree made here instead of
    parsing the text again. None when that cannot be told so: a cell that uses ``await`` (IPython's
    top-level await), a text that does not parse, a cell boundary inside or between the tokens of a statement."""
    nb, lines, after = _joined(cells, stored)
    if "await" in nb.source:
        return None
    tree, problem = _compiled(nb.source)
    if problem is not None or not _cells_apart(tree.body, lines, after):
        return None
    nb.tree = tree
    return nb


def _cells_apart(body: list[ast.stmt], lines: list[str], after: list[int]) -> bool:
    """Whether each line of ``after`` (1-based) lies between two top-level statements with nothing but
    blanks and comments around it: no statement covers it, and no bracket or backslash outside a
    statement's own range (``(`` before a parenthesized expression, a ``\\`` after one) reaches it."""
    ends = [(1, 0)]  # where the text before each statement starts: the end of the one before it
    starts = []
    for stmt in body:
        decorators = getattr(stmt, "decorator_list", None)
        starts.append((decorators[0].lineno, 0) if decorators else (stmt.lineno, stmt.col_offset))
        ends.append((stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0))
    starts.append((len(lines) + 1, 0))
    gaps = list(zip(ends, starts))  # the text between statements, one gap before each and one at the end
    g = 0
    for line in after:
        while g < len(gaps) and gaps[g][1][0] <= line:  # this gap ends before the line: the next one
            g += 1
        if g == len(gaps) or gaps[g][0][0] > line or (gaps[g][0][0] == line and gaps[g][0][1] > 0):
            return False  # a statement covers the line
        if not _blank_between(lines, *gaps[g]):
            return False
    return True


def _blank_between(lines: list[str], start: tuple[int, int], end: tuple[int, int]) -> bool:
    """Whether the text from ``start`` to ``end`` ((line, UTF-8 column), lines 1-based) holds only blanks
    and comments (no string can be there: a string is a statement's, or inside one)."""
    for number in range(start[0], min(end[0], len(lines)) + 1):
        text = _columns(lines[number - 1], start[1] if number == start[0] else 0, end[1] if number == end[0] else None)
        if text.split("#", 1)[0].strip():
            return False
    return True


def _columns(text: str, start: int, end: int | None) -> str:
    """``text`` from UTF-8 column ``start`` to ``end`` (None: its end), as ``ast`` counts columns."""
    if text.isascii():
        return text[start:end]
    return text.encode("utf-8", "surrogatepass")[start:end].decode("utf-8", "surrogatepass")


def _cell_by_cell(cells: list[tuple[int, list[str], list[str]]], stored: StoredLines) -> Notebook:
    """The notebook of the cells that parse alone, each compiled on its own; the others are ``broken``."""
    good: list[tuple[int, list[str], list[str]]] = []
    broken: list[tuple[Place, int, str]] = []
    for number, lines, cleaned in cells:
        problem = _syntax_problem("\n".join(cleaned) + "\n")
        if problem is None and _TOP_LEVEL_AWAIT.search("\n".join(cleaned)) and _plain_syntax_problem(cleaned):
            cleaned = [_TOP_LEVEL_AWAIT.sub("", line) for line in cleaned]  # IPython's top-level await
            problem = _plain_syntax_problem(cleaned)
        if problem is not None:
            line, col, msg = problem
            line = min(max(line, 1), max(len(lines), 1))
            broken.append((Place(number, line, stored.line(number, line)), col, msg))
            continue
        good.append((number, lines, cleaned))
    nb = _joined(good, stored)[0]
    nb.broken = broken
    return nb
