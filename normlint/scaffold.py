"""Start a new rule: its module, its two fixtures. Everything else is discovered or generated.

    python -m normlint.scaffold NL704 std-as-variance --family "Input normalization statistics" \\
        --summary "Normalization(variance=...) is given a standard deviation."

writes ``normlint/lint/rules/nl704_std_as_variance.py`` (the rule class, with its page and examples to
fill in) and ``fixtures/rules/NL704_positive.py`` / ``NL704_negative.py``. Then: write the check, mark the
fixtures' expected lines with ``# NL704``, and run ``python -m normlint.docs`` (pages and README table)
and ``python -m pytest tests/test_fixtures.py --update-fixtures`` (expected outputs).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RULE = '''"""{code} {name}: {summary}"""

from __future__ import annotations

from typing import Iterator

from normlint.lint.context import FileContext
from normlint.lint.rules.base import Hit, Rule


class {cls}(Rule):
    code = "{code}"
    name = "{name}"
    summary = "{summary}"
    family = "{family}"
    what = """
TODO: what the rule flags, in the user's words.
"""
    why = """
TODO: what goes wrong at training or inference time, and how badly.
"""
    example = """
TODO: the smallest program with the mistake
"""
    use_instead = """
TODO: the same program, fixed
"""
    references = ()
    # Fixit-style examples, run by tests/test_rules.py: code that must stay silent / must be flagged
    VALID = ()
    INVALID = ()
    # cheap text triggers: the file is parsed for this rule only when all of them match
    required = ()
    triggers = ()

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        # ctx.calls, ctx.names, literal(), ctx.flow: see normlint/lint/context.py
        return iter(())
'''

FIXTURE = '''"""{code} {kind} fixture: {what}. Mark each line that must be flagged with `# {code}`."""

import keras
from keras import layers
'''


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def scaffold(code: str, name: str, family: str, summary: str, root: Path = ROOT) -> list[Path]:
    if not re.fullmatch(r"NL[1-9]\d\d", code):
        raise SystemExit(f"scaffold: code must look like NL704, got {code!r}")
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)+", name):
        raise SystemExit(f"scaffold: name must be kebab-case like std-as-variance, got {name!r}")
    rules_dir = root / "normlint" / "lint" / "rules"
    taken = [p for p in rules_dir.glob("*.py") if re.search(rf'code = "{code}"', p.read_text(encoding="utf-8"))]
    if taken:
        raise SystemExit(f"scaffold: {code} is already defined in {taken[0]}")
    files = {
        rules_dir / f"{code.lower()}_{name.replace('-', '_')}.py":
            RULE.format(code=code, name=name, cls=class_name(name), family=family, summary=summary.replace('"', "'")),
        root / "fixtures" / "rules" / f"{code}_positive.py": FIXTURE.format(code=code, kind="positive", what="code it must flag"),
        root / "fixtures" / "rules" / f"{code}_negative.py": FIXTURE.format(code=code, kind="negative", what="traps it must stay silent on"),
    }
    for path in files:
        if path.exists():
            raise SystemExit(f"scaffold: {path} exists already")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m normlint.scaffold", description=__doc__.splitlines()[0])
    parser.add_argument("code", help="the new code, e.g. NL704")
    parser.add_argument("name", help="kebab-case name, e.g. std-as-variance")
    parser.add_argument("--family", required=True, help="the family heading it is listed under")
    parser.add_argument("--summary", required=True, help="one line: what is flagged")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this checkout)")
    args = parser.parse_args(argv)
    for path in scaffold(args.code, args.name, args.family, args.summary, args.root):
        print(f"wrote {path}")
    print("next: write check(), mark the fixtures, then `python -m normlint.docs` and "
          "`python -m pytest tests/test_fixtures.py --update-fixtures`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
