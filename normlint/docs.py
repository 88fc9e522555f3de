"""Write the rule pages under docs/rules/ from the rule classes (the classes are the source of truth).

    python -m normlint.docs [DOCS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from normlint.lint import nl000
from normlint.lint.rules import ALL_RULES


def rule_pages() -> dict[str, str]:
    return {f"{nl000.CODE}.md": nl000.PAGE} | {f"{r.code}.md": r.page() for r in ALL_RULES}


def index_page() -> str:
    rows = f"| [{nl000.CODE}]({nl000.CODE}.md) | `{nl000.NAME}` | {nl000.SUMMARY} |\n"
    rows += "\n".join(f"| [{r.code}]({r.code}.md) | `{r.name}` | {r.summary} |" for r in ALL_RULES)
    return f"# Rules\n\n| code | name | what is flagged |\n|---|---|---|\n{rows}\n"


def write(docs_dir: Path) -> None:
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rule_pages().items():
        (docs_dir / name).write_text(text, encoding="utf-8")
    (docs_dir / "README.md").write_text(index_page(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/rules"))
