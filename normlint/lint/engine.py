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


def active_rules(source: str, config: Config, path: str | None = None, prefilter: bool = True) -> list[type[Rule]]:
    """The rules that are enabled and whose cheap text triggers all match ``source``."""
    return [r for r in ALL_RULES if config.enabled(r.code, path) and (not prefilter or r.may_match(source))]


def lint_source(
    source: str, path: str = "<string>", config: Config | None = None, check_syntax: bool = False,
    prefilter: bool = True,
) -> list[Finding]:
    """Findings for one file. ``check_syntax``: also report NL000 for a file the prefilter skips
    (the CLI wants it; flake8 reports E999 itself). ``prefilter=False`` parses every file (tests)."""
    config = config or Config()
    rules = active_rules(source, config, path, prefilter)
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
    locate = _Locator(source, module)
    findings = set(errors)
    for code, hit in hits:
        line, col = locate(hit.node)
        message = hit.message
        if hit.related is not None and "{line}" in message:
            message = message.replace("{line}", str(locate(hit.related)[0]))
        findings.add(Finding(path, line, col + 1, code, message))
    return sorted(findings)


class _Locator:
    """(line, 0-based column) of a node.

    libcst's PositionProvider renders the whole module to place every node; findings are few, so a
    node whose exact text occurs once in the source is placed by a text search (libcst round-trips the
    source exactly, so that one occurrence is the node), and only the rest fall back to the provider.
    """

    def __init__(self, source: str, module: cst.Module) -> None:
        self.source = source
        self.module = module
        self._positions = None

    def __call__(self, node: cst.CSTNode) -> tuple[int, int]:
        text = self.module.code_for_node(node).strip()
        first = self.source.find(text) if text else -1
        if first != -1 and self.source.find(text, first + 1) == -1:
            line = self.source.count("\n", 0, first) + 1
            return line, first - (self.source.rfind("\n", 0, first) + 1)
        if self._positions is None:
            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        start = self._positions[node].start
        return start.line, start.column


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
