"""The lint path's regular expressions, compiled ahead: ``re`` finds them in its cache at import.

The rules' prefilter and checks compile ~70 regexes when their modules are imported. ``re`` compiles a
pattern in Python (its parser and code generator): ~6 ms of every run's start, serial before the
workers fork, a tenth of a one-file run (a pre-commit hook). ``python -m normlint.regexes`` records,
for each pattern a normlint module compiles at import, the program CPython's regex compiler makes of it
(``normlint/regex_code.py``); ``preload()``, called when ``normlint.lint`` is imported, builds those
patterns from the recorded programs (``_sre.compile``, what ``re`` itself ends with: ~0.1 ms for all)
and puts them in ``re``'s cache, where ``re.compile`` then finds them. Rules keep writing
``re.compile``.

Only where the recorded programs are this interpreter's own: the same Python version and the same regex
engine (``_sre.MAGIC``, the code format, and its limits); anywhere else ``preload`` does nothing and
``re`` compiles as usual. A pattern edited since the table was made is a different cache key: compiled as
usual, never given an old program. tests/test_regexes.py fails while the table is stale.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

try:
    import _sre
except ImportError:  # not CPython
    _sre = None  # type: ignore[assignment]

GENERATED = Path(__file__).resolve().parent / "regex_code.py"


def engine_key() -> tuple[Any, ...] | None:
    """What a recorded program is valid for: the Python version and the regex engine's code format."""
    if _sre is None:
        return None
    return (sys.implementation.name, *sys.version_info[:2], _sre.MAGIC, _sre.CODESIZE, _sre.MAXREPEAT, _sre.MAXGROUPS)


def preload() -> int:
    """Put the recorded patterns in ``re``'s cache; how many. Nothing where the table is not this
    engine's or ``re`` keeps no such cache (another Python version)."""
    cache = getattr(re, "_cache", None)
    limit = getattr(re, "_MAXCACHE", 0)
    key = engine_key()
    if not isinstance(cache, dict) or key is None:
        return 0
    try:
        from normlint import regex_code
    except ImportError:
        return 0
    if regex_code.KEY != key:
        return 0
    made = 0
    for (pattern, flags), recorded in regex_code.TABLE.items():
        cache_key = (str, pattern, flags)
        if cache_key in cache:
            continue
        if len(cache) >= limit:
            break  # the host's patterns (flake8's) keep their places
        try:
            cache[cache_key] = from_program(pattern, recorded)
        except (RuntimeError, TypeError, ValueError, OverflowError):  # "invalid SRE code": left to re
            continue
        made += 1
    return made


def from_program(pattern: str, recorded: tuple[Any, ...]) -> re.Pattern[str]:
    """The compiled pattern of a recorded program (``program``'s result): what ``re`` would have made."""
    final_flags, code, groups, groupindex, indexgroup = recorded
    return _sre.compile(pattern, final_flags, list(code), groups, dict(groupindex), indexgroup)


def program(pattern: str, flags: int) -> tuple[int, tuple[int, ...], int, dict[str, int], tuple[str | None, ...]]:
    """What ``re`` hands ``_sre.compile`` for ``pattern``: its final flags, code, groups and group names."""
    from re import _compiler, _parser  # type: ignore[attr-defined]

    parsed = _parser.parse(pattern, flags)
    code = _compiler._code(parsed, flags)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    return (flags | parsed.state.flags, tuple(int(c) for c in code), parsed.state.groups - 1,
            dict(parsed.state.groupdict), tuple(indexgroup))


def compiled_at_import() -> list[tuple[str, int]]:
    """(pattern, flags) of each regex a normlint module compiles while the lint path is imported and the
    command line is built, in order. Run in a fresh interpreter (``python -m normlint.regexes``)."""
    if any(name == "normlint.lint" or name.startswith("normlint.lint.") for name in sys.modules):
        raise RuntimeError("the lint path is imported already: run this in a fresh interpreter")
    seen: dict[tuple[str, int], None] = {}
    compile_ = re.compile

    def recording(pattern: Any, flags: Any = 0) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("normlint.") and isinstance(pattern, str):
            seen.setdefault((pattern, int(flags)), None)
        return compile_(pattern, flags)

    re.compile = recording  # type: ignore[assignment]
    try:
        from normlint import cli  # the lint path: the engine, every rule module, the configuration

        cli.build_parser()
    finally:
        re.compile = compile_  # type: ignore[assignment]
    return list(seen)


def generated_source() -> str:
    """The text of normlint/regex_code.py for this interpreter, made in a fresh one."""
    import ast
    import subprocess
    import textwrap

    done = subprocess.run([sys.executable, "-c", "from normlint import regexes; print(repr(regexes.compiled_at_import()))"],
                          capture_output=True, text=True, check=True, env=_fresh_env(),
                          cwd=Path(__file__).resolve().parent.parent)
    patterns = ast.literal_eval(done.stdout)  # the repr of a list of (str, int) tuples
    table = {key: program(*key) for key in patterns}
    lines = [
        '"""Generated by ``python -m normlint.regexes``: do not edit. The regex programs CPython\'s compiler',
        'makes of the patterns normlint compiles at import (see normlint/regexes.py)."""',
        "",
        f"KEY = {engine_key()!r}",
        "TABLE = {",
    ]
    for key, (flags, code, groups, groupindex, indexgroup) in table.items():
        lines.append(f"    {key!r}: ({flags}, (")
        lines += textwrap.wrap(", ".join(map(str, code)) + ",", 140, initial_indent=" " * 8, subsequent_indent=" " * 8)
        lines.append(f"    ), {groups}, {groupindex!r}, {indexgroup!r}),")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _fresh_env() -> dict[str, str]:
    """This checkout's normlint first on the path of the fresh interpreter."""
    import os

    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


if __name__ == "__main__":
    GENERATED.write_text(generated_source(), encoding="utf-8")
    print(f"wrote {GENERATED}")
