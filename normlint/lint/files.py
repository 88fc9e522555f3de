"""Finding, reading and linting files on disk (used by the CLI, serially or in worker processes).

Only regular files are read: a FIFO would block forever and a link to /dev/zero would be read until
memory runs out, so anything else named ``*.py`` is skipped and said to be.
"""

from __future__ import annotations

import io
import os
import stat
import tokenize
from fnmatch import fnmatch
from typing import TYPE_CHECKING

from normlint.config import Config
from normlint.lint.engine import MAX_FILE_SIZE, PYTHON, Finding, _size, apply_noqa, lint_source
from normlint.lint.options import MAX_FILE_SIZE as MAX_FILE_SIZE_OPTION
from normlint.records import field, record, replace

if TYPE_CHECKING:
    from normlint.lint.cache import ResultCache

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
                       ".pytest_cache", "node_modules", "site-packages", ".eggs", ".ipynb_checkpoints"})
NOTEBOOK = ".ipynb"  # normlint.lint.notebook reads them (imported when there is one: json and all)
SUFFIXES = (".py", ".pyi", NOTEBOOK)
READ_CAP = 64 << 20  # never read more than this of one file, whatever max-file-size says


@record
class Discovery:
    """What ``discover`` found: the files to lint (each once), and what it could not use."""

    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one-line messages; each makes the run exit 2
    skipped: list[str] = field(default_factory=list)  # one-line notes: not regular files


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def excluded(path: str, patterns: tuple[str, ...]) -> bool:
    """``path`` matches one of the globs (``build/*``, ``*_pb2.py``, ``legacy``): against the whole
    path, against its last part and against any one folder of it."""
    if not patterns:
        return False
    norm = os.path.normpath(path).replace(os.sep, "/")
    parts = norm.split("/")
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if fnmatch(norm, pattern) or fnmatch(norm, f"*/{pattern}") or any(fnmatch(p, pattern) for p in parts):
            return True
    return False


def discover(paths: list[str], exclude: tuple[str, ...] = ()) -> Discovery:
    """Python files and notebooks under ``paths``, each once (a file named on the command line is taken
    whatever its suffix, and whatever ``exclude`` says); missing paths and unreadable folders are
    errors, non-regular files are skipped, paths matching an ``exclude`` glob are not walked."""
    found = Discovery()
    seen: set[tuple[int, int]] = set()

    def take(path: str, named: bool) -> None:
        try:
            st = os.stat(path)  # follows links: a link to /dev/zero is a character device
        except OSError as exc:
            if named or not os.path.islink(path):
                found.errors.append(f"cannot read {path}: {exc.strerror or exc}")
            else:
                found.skipped.append(f"skipped {path}: a broken symbolic link")
            return
        if not stat.S_ISREG(st.st_mode):
            found.skipped.append(f"skipped {path}: {_kind(st.st_mode)}, not a regular file")
            return
        key = (st.st_dev, st.st_ino)
        if key not in seen:  # the same file given twice, through overlapping folders or links
            seen.add(key)
            found.files.append(path)

    for p in paths:
        if not os.path.lexists(p):
            found.errors.append(f"no such file or directory: {p}")
            continue
        if not os.path.isdir(p):
            take(p, named=True)
            continue

        def walk_error(exc: OSError) -> None:
            found.errors.append(f"cannot read folder {exc.filename}: {exc.strerror or exc}")

        for root, dirs, files in os.walk(p, onerror=walk_error):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")
                             and not excluded(os.path.join(root, d), exclude))
            for name in sorted(files):
                if name.endswith(SUFFIXES) and not excluded(os.path.join(root, name), exclude):
                    take(os.path.join(root, name), named=False)
    return found


def decode_source(data: bytes) -> str:
    """Text decoded as Python does (PEP 263 coding cookie, UTF-8 by default, a BOM honoured)."""
    end = data.find(b"\n", data.find(b"\n") + 1)
    if not data.startswith(b"\xef\xbb\xbf") and b"coding" not in (data if end == -1 else data[:end]):
        try:  # no BOM, no cookie in the first two lines: UTF-8, as tokenize would say
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass  # tokenize's own words for it
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def read_source(path: str, cap: int = READ_CAP) -> str:
    """The file's text; a ValueError for a file over ``cap`` bytes or not regular (checked on the open file)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))  # no io objects: a file is read whole, once
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{_kind(st.st_mode)}, not a regular file")
        if st.st_size > cap:
            raise ValueError(f"{_size(st.st_size)}, over the {_size(cap)} that normlint reads of one file")
        data = _read(fd, st.st_size + 1)  # not cap + 1: that would allocate the whole cap for every file
        if len(data) > st.st_size:  # it grew since: on to the cap
            data += _read(fd, cap + 1 - len(data))
    finally:
        os.close(fd)
    return decode_source(data)


def _read(fd: int, n: int) -> bytes:
    """Up to ``n`` bytes of ``fd``, fewer only at its end (as a buffered file's read(n))."""
    parts, got = [], 0
    while got < n:
        more = os.read(fd, n - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def write_source(path: str, text: str) -> None:
    """Write ``text`` over ``path`` in the encoding the file had (a UTF-8 BOM kept), atomically, keeping
    its permissions; newlines are written as they are in ``text`` (the file's own)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        mode = os.fstat(fh.fileno()).st_mode
    encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
    data = text.encode(encoding)
    tmp = f"{path}.normlint-fix.tmp"
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        os.chmod(tmp, stat.S_IMODE(mode))
        os.replace(tmp, path)
    except OSError:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def lint_file(path: str, config: Config, fixes: bool = True, cache: ResultCache | None = None) -> list[Finding]:
    limit = config.options.get(MAX_FILE_SIZE_OPTION.key, MAX_FILE_SIZE)
    try:
        source = read_source(path, max(READ_CAP, limit or 0))
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError, ValueError) as exc:
        return [Finding(path, 1, 1, "NL000", f"NL000 cannot read: {type(exc).__name__}: {exc}")]
    if cache is None:
        return lint_text(source, path, config, fixes)
    key = cache.key(path, source)
    found = cache.get(key)
    if found is None:
        found = lint_text(source, path, config, fixes)
        cache.put(key, found)
    return found


def lint_text(source: str, path: str, config: Config, fixes: bool = True) -> list[Finding]:
    """Findings of one file's text, noqa applied (also for standard input); a ``.ipynb`` path is read
    as a notebook. ``fixes=False``: the fixes' edits are not placed (see ``lint_source``)."""
    if path.endswith(NOTEBOOK):
        return lint_notebook(source, path, config, fixes)
    findings = lint_source(source, path, config, check_syntax=True, fixes=fixes)
    if findings:
        findings = apply_noqa(findings, source.splitlines())
    return findings


def lint_notebook(raw: str, path: str, config: Config, fixes: bool = True) -> list[Finding]:
    """Findings of a notebook's code cells, each placed in its cell and in the .ipynb file."""
    from normlint.lint.notebook import NotebookError, read_notebook

    try:
        nb = read_notebook(raw)
    except NotebookError as exc:
        return [Finding(path, 1, 1, "NL000", f"NL000 cannot read: {exc}")]

    def describe(line: int) -> str:
        place = nb.place(line)
        return f"cell {place.cell}, line {place.line}"

    # the reader's parse of the joined cells, when it made one: not made twice (libcst's path, for fixes, reads
    # its own tree: this one is let go first)
    tree, nb.tree = (nb.tree if not fixes else None), None
    found = lint_source(nb.source, path, config, describe_line=describe, fixes=fixes, tree=tree) if nb.source else []
    del tree
    found = apply_noqa(found, nb.source.splitlines()) if found else []
    out = []
    for f in found:
        place = nb.place(f.line)
        fix = f.fix
        if fix is not None:  # edits reported in the coordinates of the cell
            fix = replace(fix, edits=tuple(replace(e, start_line=nb.place(e.start_line).line,
                                                   end_line=nb.place(e.end_line).line) for e in fix.edits))
        out.append(replace(f, line=place.file_line, cell=place.cell, cell_line=place.line, fix=fix))
    for place, col, msg in nb.broken:
        out.append(Finding(path, place.file_line, col, "NL000", f"NL000 cannot parse ({PYTHON}): {msg} (this cell "
                           f"was not linted)", place.cell, place.line))
    return sorted(out)
