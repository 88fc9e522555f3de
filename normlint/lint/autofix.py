"""Apply the fixes of the findings to a file's text, in rounds, and never leave a broken file.

Each round lints the current text, takes the fixable findings (safe ones; unsafe ones too with
``unsafe=True``) in order, keeps a fix only when none of its edits overlaps an edit already taken, and
applies them. A fix whose result does not compile is dropped (and reported). Rounds go on while something
changed, so overlapping fixes land one after the other and a second run changes nothing.

Notebooks are fixed cell by cell: an edit maps back to the cell and line it came from, and only the
``source`` of a changed cell is rewritten.
"""

from __future__ import annotations

import json
import warnings
from typing import Callable

from normlint.config import Config
from normlint.lint.engine import Finding, apply_noqa, lint_source
from normlint.lint.fixes import SAFE, Edit, Fix, Offsets, apply, overlaps
from normlint.lint.notebook import Notebook, NotebookError, code_cells, read_notebook, source_key, source_pieces
from normlint.records import field, record

MAX_ROUNDS = 10


@record
class FixResult:
    text: str  # the fixed text (the input when nothing applied)
    applied: list[Finding] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # one line each: a fix whose result did not parse

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def wanted(f: Finding, unsafe: bool) -> bool:
    return f.fix is not None and (unsafe or f.fix.applicability == SAFE)


def _compiles(text: str, path: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def _choose(findings: list[Finding], unsafe: bool, skip: set[tuple]) -> list[Finding]:
    taken: list[Edit] = []
    chosen: list[Finding] = []
    for f in sorted((f for f in findings if wanted(f, unsafe)), key=lambda f: (f.fix.edits[0].start, f.code)):  # type: ignore[union-attr]
        assert f.fix is not None
        if (f.code, f.fix.edits) in skip:
            continue
        if any(f.fix.edits == c.fix.edits for c in chosen):  # type: ignore[union-attr]
            chosen.append(f)  # one class-wide fix resolves several findings: applied once
            continue
        if any(overlaps(e, t) for e in f.fix.edits for t in taken):
            continue  # the next round, on the text this round leaves
        taken.extend(f.fix.edits)
        chosen.append(f)
    return chosen


def _edits(chosen: list[Finding]) -> list[Edit]:
    """The edits of the chosen fixes, each distinct fix once."""
    seen: set[tuple[Edit, ...]] = set()
    out: list[Edit] = []
    for f in chosen:
        assert f.fix is not None
        if f.fix.edits not in seen:
            seen.add(f.fix.edits)
            out.extend(f.fix.edits)
    return out


def fix_text(text: str, path: str, config: Config, unsafe: bool = False,
             lint: Callable[[str], list[Finding]] | None = None, compiles: Callable[[str], bool] | None = None
             ) -> FixResult:
    """Apply fixes to ``text`` (a Python file) in rounds until none is left to apply."""
    lint = lint or (lambda t: apply_noqa(lint_source(t, path, config), t.splitlines()))
    compiles = compiles or (lambda t: _compiles(t, path))
    result = FixResult(text)
    skip: set[tuple] = set()  # fixes that broke the file: never tried again
    for _ in range(MAX_ROUNDS):
        chosen = _choose(lint(result.text), unsafe, skip)
        if not chosen:
            break
        candidate = apply(result.text, _edits(chosen))
        if not compiles(candidate):
            good = []
            for f in chosen:  # find the culprits: each fix alone
                assert f.fix is not None
                if compiles(apply(result.text, list(f.fix.edits))):
                    good.append(f)
                else:
                    skip.add((f.code, f.fix.edits))
                    result.dropped.append(f"{f.code} at {f.line}:{f.col}: the fixed file would not parse; "
                                          f"fix not applied ({f.fix.message})")
            if not good:
                continue
            chosen = good
            candidate = apply(result.text, _edits(chosen))
            if not compiles(candidate):  # together they break it: one at a time, next rounds
                chosen = chosen[:1]
                candidate = apply(result.text, list(chosen[0].fix.edits))  # type: ignore[union-attr]
        if candidate == result.text:
            break
        result.text = candidate
        result.applied.extend(chosen)
    return result


# ---------------------------------------------------------------------------------------- notebooks
def fix_notebook(raw: str, path: str, config: Config, unsafe: bool = False) -> FixResult:
    """Fix a notebook's code cells; the JSON is rewritten only where a cell's source changed."""
    try:
        doc = json.loads(raw)
        nb = read_notebook(raw)
    except (NotebookError, ValueError, RecursionError):
        return FixResult(raw)
    result = FixResult(raw)
    cells = code_cells(doc) or []
    for _ in range(MAX_ROUNDS):
        findings = apply_noqa(lint_source(nb.source, path, config), nb.source.splitlines()) if nb.source else []
        chosen = _choose([f for f in findings if _one_cell(f, nb)], unsafe, set())
        per_cell: dict[int, list[Edit]] = {}
        texts = {n: "".join(source_pieces(c)) for n, c in enumerate(cells, 1)}
        applied = []
        for f in chosen:
            assert f.fix is not None
            maybe = [_cell_edit(e, nb, texts) for e in f.fix.edits]
            edits = [e for e in maybe if e is not None]
            if len(edits) != len(maybe):
                continue
            cell = nb.place(f.line).cell
            per_cell.setdefault(cell, []).extend(edits)
            applied.append(f)
        changed = False
        for cell, edits in per_cell.items():
            new = apply(texts[cell], sorted(set(edits)))
            if new != texts[cell] and _compiles_cell(new):
                _set_source(cells[cell - 1], new)
                changed = True
        if not changed:
            break
        result.applied.extend(applied)
        raw = _dump(doc, raw)
        nb = read_notebook(raw)
    result.text = raw
    return result


def _set_source(cell: dict, text: str) -> None:
    key = source_key(cell)
    cell[key] = text.splitlines(keepends=True) if isinstance(cell.get(key), list) else text


def _one_cell(f: Finding, nb: Notebook) -> bool:
    if f.fix is None:
        return False
    offsets = Offsets(nb.source)
    cells = {nb.place(offsets.position(e.start)[0]).cell for e in f.fix.edits}
    cells |= {nb.place(offsets.position(max(e.end - 1, e.start))[0]).cell for e in f.fix.edits}
    return len(cells) == 1


def _cell_edit(e: Edit, nb: Notebook, texts: dict[int, str]) -> Edit | None:
    """The edit in the coordinates of its cell's own text (magic lines are never edited)."""
    joined = Offsets(nb.source)
    out = []
    for offset in (e.start, e.end):
        line, col = joined.position(offset)
        place = nb.place(line)
        cell_offsets = Offsets(texts[place.cell])
        if place.line - 1 >= len(cell_offsets.starts):
            return None
        out.append(cell_offsets.offset(place.line, col - 1))
    return Edit(out[0], out[1], e.text)


def _compiles_cell(text: str) -> bool:
    from normlint.lint.notebook import _neutralise, _syntax_problem

    lines = _neutralise(text.splitlines())
    return lines is None or _syntax_problem("\n".join(lines) + "\n") is None


def _dump(doc: dict, raw: str) -> str:
    """The notebook as Jupyter writes it (indent 1 unless the file used another), newline at the end."""
    stripped = raw.lstrip("\ufeff")
    indent = 1
    if stripped.startswith("{\n"):
        second = stripped.split("\n", 2)[1]
        indent = len(second) - len(second.lstrip(" ")) or 1
    text = json.dumps(doc, indent=indent, ensure_ascii=False)
    return text + ("\n" if raw.endswith("\n") else "")


def fix_file_text(text: str, path: str, config: Config, unsafe: bool) -> FixResult:
    if path.endswith(".ipynb"):
        return fix_notebook(text, path, config, unsafe)
    return fix_text(text, path, config, unsafe)


def fixable(findings: list[Finding], unsafe: bool) -> int:
    return sum(1 for f in findings if wanted(f, unsafe))


__all__ = ["Fix", "FixResult", "fix_file_text", "fix_notebook", "fix_text", "fixable"]
