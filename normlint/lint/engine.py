"""The lint engine: text prefilter, one libcst parse, the rules, positions only where something was found."""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from normlint.config import Config
from normlint.lint.context import FileContext
from normlint.lint.rules import ALL_RULES, Rule


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int  # 1-based, as flake8 prints it
    code: str
    message: str  # starts with the code: "NL101 Dropout feeds ..."

    @property
    def text(self) -> str:
        return self.message[len(self.code) + 1:]


def active_rules(source: str, config: Config, path: str | None = None) -> list[type[Rule]]:
    """The rules that are enabled and whose cheap text triggers all match ``source``."""
    return [r for r in ALL_RULES if config.enabled(r.code, path) and r.may_match(source)]


def lint_source(
    source: str, path: str = "<string>", config: Config | None = None, check_syntax: bool = False
) -> list[Finding]:
    """Findings for one file. ``check_syntax``: also report NL000 for a file the prefilter skips
    (the CLI wants it; flake8 reports E999 itself)."""
    config = config or Config()
    rules = active_rules(source, config, path)
    if not rules:
        return syntax_error(source, path) if check_syntax else []
    # A libcst tree is hundreds of thousands of acyclic objects that reference counting frees; letting
    # the cyclic collector walk the host's heap (flake8's) on every allocation burst costs more than
    # the parse itself there.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _lint_parsed(source, path, config, rules)
    finally:
        if enabled:
            gc.enable()


def syntax_error(source: str, path: str) -> list[Finding]:
    """NL000 when CPython cannot compile the file (cheaper than a libcst parse), else nothing."""
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return [Finding(path, exc.lineno or 1, max(exc.offset or 1, 1), "NL000", f"NL000 cannot parse: {exc.msg}")]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [Finding(path, 1, 1, "NL000", f"NL000 cannot parse: {type(exc).__name__}: {exc}")]
    return []


def _lint_parsed(source: str, path: str, config: Config, rules: list[type[Rule]]) -> list[Finding]:
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        msg = str(exc).strip().splitlines()[0]
        return [Finding(path, exc.raw_line or 1, exc.raw_column + 1, "NL000", f"NL000 cannot parse: {msg}")]
    except (RecursionError, MemoryError, ValueError, TypeError) as exc:  # libcst's native parser on odd input
        return [Finding(path, 1, 1, "NL000", f"NL000 cannot parse: {type(exc).__name__}: {exc}")]
    ctx = FileContext(module, source, path, dict(config.options))
    hits = []
    errors = []
    for rule_cls in rules:
        try:
            hits.extend((rule_cls.code, h) for h in rule_cls().check(ctx))
        except RecursionError:
            errors.append(Finding(path, 1, 1, "NL000", f"NL000 {rule_cls.code} skipped: file nests too deeply"))
    if not hits:
        return errors
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    findings = set(errors)
    for code, hit in hits:
        start = positions[hit.node].start
        message = hit.message
        if hit.related is not None and "{line}" in message:
            message = message.replace("{line}", str(positions[hit.related].start.line))
        findings.add(Finding(path, start.line, start.column + 1, code, message))
    return sorted(findings)


# the same pattern flake8 uses
_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)


def apply_noqa(findings: Iterable[Finding], lines: Sequence[str]) -> list[Finding]:
    """Drop findings silenced by ``# noqa`` / ``# noqa: NL101`` on their line, as flake8 does."""
    kept = []
    for f in findings:
        line = lines[f.line - 1] if 0 < f.line <= len(lines) else ""
        m = _NOQA.search(line)
        if m is None:
            kept.append(f)
            continue
        codes = m.group("codes")
        if codes is None:
            continue  # bare noqa silences everything on the line
        wanted = {c.upper() for c in re.split(r"[,\s]+", codes) if c}
        if not any(f.code.startswith(c) for c in wanted):
            kept.append(f)
    return kept
