"""normlint/regex_code.py: the regex programs recorded ahead are current, behave as ``re`` compiles them,
are what a run's imports use, and are never used by another engine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from normlint import regex_code, regexes

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures").rglob("*.py"))]


@pytest.mark.skipif(regexes.engine_key() != regex_code.KEY,
                    reason="the table is recorded on another Python: it is regenerated there (CI's)")
def test_the_table_is_current() -> None:
    """Regenerate with ``python -m normlint.regexes`` when this fails."""
    assert (ROOT / "normlint" / "regex_code.py").read_text(encoding="utf-8") == regexes.generated_source()


@pytest.mark.skipif(regexes.engine_key() != regex_code.KEY, reason="the table is another engine's")
@pytest.mark.parametrize("key", list(regex_code.TABLE), ids=lambda k: k[0][:40])
def test_a_recorded_pattern_matches_as_re_compiles_it(key: tuple[str, int]) -> None:
    from re import _compiler  # type: ignore[attr-defined]

    pattern, flags = key
    recorded = regexes.from_program(pattern, regex_code.TABLE[key])
    fresh = _compiler.compile(pattern, flags)
    assert (recorded.pattern, recorded.flags, recorded.groups, recorded.groupindex) == (
        fresh.pattern, fresh.flags, fresh.groups, fresh.groupindex)
    for text in SAMPLES:
        assert [m.span() + m.groups() for m in recorded.finditer(text)] == [m.span() + m.groups() for m in fresh.finditer(text)]


PROBE = """
import sys
from re import _compiler
compiled = []
original = _compiler.compile
def counting(p, flags=0):
    caller = sys._getframe(3).f_globals.get("__name__", "")  # _compiler.compile <- re._compile <- re.compile <- caller
    if caller.startswith("normlint"):
        compiled.append(p)
    return original(p, flags)
_compiler.compile = counting
from normlint import cli
cli.build_parser()
print(len(compiled), compiled[:3])
"""


@pytest.mark.skipif(regexes.engine_key() != regex_code.KEY, reason="the table is another engine's")
def test_a_run_compiles_none_of_its_regexes_at_import() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.startswith("0 "), done.stdout


def test_nothing_is_preloaded_for_another_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regexes, "engine_key", lambda: ("cpython", 3, 99, 0, 4, 0, 0))
    assert regexes.preload() == 0


def test_an_edited_pattern_is_compiled_afresh() -> None:
    """A pattern not in the table (edited since) is another cache key: ``re`` compiles it as usual."""
    pattern = next(iter(regex_code.TABLE))[0] + "|an edit"
    assert (pattern, 0) not in regex_code.TABLE
    assert re.compile(pattern).search("after an edit").group() == "an edit"
