"""Every fixture reports exactly its marked codes, through `normlint lint` and through flake8 itself."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from normlint.lint.rules import ALL_RULES, OPT_IN as OPT_IN_CODES
from tests.helpers import FIXTURES, NOT_FIXED, expected_codes, fixture_files, flake8, normlint, parse_text_report


# the fixtures mark the opt-in rules' codes too: select them (as a user would) wherever fixtures are linted
OPT_IN = ("--extend-select", ",".join(sorted(OPT_IN_CODES)), *NOT_FIXED)


def _expected_all() -> Counter:
    total: Counter = Counter()
    for path in fixture_files():
        for (line, code), n in expected_codes(path).items():
            total[(str(path.resolve()), line, code)] += n
    return total


def test_fixtures_have_markers():
    assert sum(_expected_all().values()) > 60


def test_normlint_lint_reports_exactly_the_marked_codes():
    result = normlint("lint", "--format", "json", *OPT_IN, str(FIXTURES))
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    got = Counter((str(Path(f["path"]).resolve()), f["line"], f["code"]) for f in doc["findings"])
    assert got == _expected_all()


def test_flake8_reports_exactly_the_marked_codes():
    result = flake8("--select", "NL", *OPT_IN, str(FIXTURES))
    assert result.returncode == 1, result.stderr
    assert parse_text_report(result.stdout) == _expected_all()


def test_flake8_and_cli_agree_on_columns():
    cli = normlint("lint", *OPT_IN, str(FIXTURES)).stdout.splitlines()
    f8 = flake8("--select", "NL", *OPT_IN, str(FIXTURES)).stdout.splitlines()
    assert sorted(cli) == sorted(f8)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_positive_and_negative_fixtures(rule):
    positives = [p for p in fixture_files() if p.parent.name == "rules" and p.name.startswith(f"{rule.code}_positive")]
    negatives = [p for p in fixture_files() if p.parent.name == "rules" and p.name.startswith(f"{rule.code}_negative")]
    assert positives and negatives
    for p in positives:
        assert any(code == rule.code for (_, code) in expected_codes(p)), p
    for n in negatives:
        assert not any(code == rule.code for (_, code) in expected_codes(n)), n


def test_article_fixture_flags_the_articles_mistakes():
    codes = {code for (_, code) in expected_codes(FIXTURES / "article_lenet5.py")}
    assert codes == {"NL401", "NL702", "NL701", "NL102", "NL201"}
    result = normlint("lint", "--format", "json", str(FIXTURES / "article_lenet5.py"))
    got = Counter((f["line"], f["code"]) for f in json.loads(result.stdout)["findings"])
    assert got == expected_codes(FIXTURES / "article_lenet5.py")


def expected_output_path(fixture: Path) -> Path:
    return fixture.with_suffix(".txt")


def report_of(fixture: Path) -> str:
    """What normlint reports for one fixture, as its expected-output file holds it: `line:col CODE message`."""
    from normlint.config import Config
    from normlint.lint.files import lint_file

    config = Config(extend_select=tuple(OPT_IN_CODES))
    return "".join(f"{f.line}:{f.col} {f.message}\n" for f in lint_file(str(fixture), config))


@pytest.mark.parametrize("fixture", fixture_files(), ids=lambda p: str(p.relative_to(FIXTURES)))
def test_expected_output_files(fixture: Path, request):
    """Beside each fixture, X.txt holds the exact report (positions and messages): a message or column
    regression fails here. `python -m pytest tests/test_fixtures.py --update-fixtures` rewrites them;
    the inline `# NL102` markers stay the readable spec and are checked above."""
    got = report_of(fixture)
    path = expected_output_path(fixture)
    if request.config.getoption("--update-fixtures"):
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run python -m pytest tests/test_fixtures.py --update-fixtures"
    assert path.read_text(encoding="utf-8") == got
    assert Counter((int(line.split(":")[0]), line.split()[1]) for line in got.splitlines()) == expected_codes(fixture)
