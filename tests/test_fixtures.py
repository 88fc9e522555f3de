"""Every fixture reports exactly its marked codes, through `normlint lint` and through flake8 itself."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from normlint.lint.rules import ALL_RULES
from tests.helpers import FIXTURES, expected_codes, fixture_files, flake8, normlint, parse_text_report


def _expected_all() -> Counter:
    total: Counter = Counter()
    for path in fixture_files():
        for (line, code), n in expected_codes(path).items():
            total[(str(path.resolve()), line, code)] += n
    return total


def test_fixtures_have_markers():
    assert sum(_expected_all().values()) > 60


def test_normlint_lint_reports_exactly_the_marked_codes():
    result = normlint("lint", "--format", "json", str(FIXTURES))
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    got = Counter((str(Path(f["path"]).resolve()), f["line"], f["code"]) for f in doc["findings"])
    assert got == _expected_all()


def test_flake8_reports_exactly_the_marked_codes():
    result = flake8("--select", "NL", str(FIXTURES))
    assert result.returncode == 1, result.stderr
    assert parse_text_report(result.stdout) == _expected_all()


def test_flake8_and_cli_agree_on_columns():
    cli = normlint("lint", str(FIXTURES)).stdout.splitlines()
    f8 = flake8("--select", "NL", str(FIXTURES)).stdout.splitlines()
    assert sorted(cli) == sorted(f8)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_positive_and_negative_fixtures(rule):
    positives = list((FIXTURES / "rules").glob(f"{rule.code}_positive*.py"))
    negatives = list((FIXTURES / "rules").glob(f"{rule.code}_negative*.py"))
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
