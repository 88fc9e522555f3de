"""Finding, reading and linting files on disk (used by the CLI, serially or in worker processes)."""

from __future__ import annotations

import io
import os
import tokenize
from pathlib import Path
from typing import Iterator

from normlint.config import Config
from normlint.lint.engine import Finding, apply_noqa, lint_source

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
                       ".pytest_cache", "node_modules", "site-packages", ".eggs"})


def discover(paths: list[str]) -> Iterator[str]:
    """Python files under ``paths`` (a file named on the command line is taken whatever its suffix)."""
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, dirs, files in os.walk(p):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
            for name in sorted(files):
                if name.endswith((".py", ".pyi")):
                    yield os.path.join(root, name)


def read_source(path: str) -> str:
    """The file's text, decoded as Python does (PEP 263 coding cookie, UTF-8 by default)."""
    data = Path(path).read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def lint_file(path: str, config: Config) -> list[Finding]:
    try:
        source = read_source(path)
    except (OSError, UnicodeDecodeError, SyntaxError, LookupError) as exc:
        return [Finding(path, 1, 1, "NL000", f"NL000 cannot read: {type(exc).__name__}: {exc}")]
    findings = lint_source(source, path, config, check_syntax=True)
    if findings:
        findings = apply_noqa(findings, source.splitlines())
    return findings
