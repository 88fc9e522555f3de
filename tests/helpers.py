"""Shared helpers for the tests: fixture markers and running the real command-line tools."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
_MARK = re.compile(r"#\s*((?:NL\d{3}\s*)+)$")


def expected_codes(path: Path) -> Counter:
    """Counter of (line, code) marked inline in a fixture (``# NL101`` / ``# NL401 NL702``)."""
    found: Counter = Counter()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if "noqa" in line:
            continue
        m = _MARK.search(line)
        if m:
            for code in m.group(1).split():
                found[(lineno, code)] += 1
    return found


# X.fixed.py beside a fixture is what `--fix --unsafe-fixes` makes of X.py: not a fixture of its own
FIXED_SUFFIX = ".fixed.py"
NOT_FIXED = ("--extend-exclude", f"*{FIXED_SUFFIX}")


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*.py") if not p.name.endswith(FIXED_SUFFIX))


def run(cmd: list[str], cwd: Path | None = None, timeout: float = 600, env: dict | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout, env=full_env,
                          input=input, stdin=None if input is not None else subprocess.DEVNULL)


def normlint(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "normlint", *args], cwd=cwd, timeout=timeout, env=env)


def flake8(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "flake8", *args], cwd=cwd)


def parse_text_report(stdout: str) -> Counter:
    """Counter of (path, line, code) from `path:line:col: CODE message` lines."""
    out: Counter = Counter()
    for line in stdout.splitlines():
        m = re.match(r"(.+?):(\d+):(\d+): (NL\d{3}) ", line)
        if m:
            out[(str(Path(m.group(1)).resolve()), int(m.group(2)), m.group(4))] += 1
    return out
