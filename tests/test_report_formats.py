"""Machine formats: JSON (stable), GitHub workflow commands, SARIF 2.1.0 validated against the schema."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from normlint.lint.rules import ALL_RULES
from tests.helpers import NOT_FIXED, FIXTURES, ROOT, normlint

SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


@pytest.fixture(scope="module")
def text_lines() -> list[str]:
    return normlint("lint", *NOT_FIXED, str(FIXTURES)).stdout.splitlines()


def test_json_is_stable_and_complete(text_lines):
    result = normlint("lint", "--format", "json", *NOT_FIXED, str(FIXTURES))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert set(doc) == {"tool", "version", "schema", "summary", "findings"}
    assert doc["tool"] == "normlint" and doc["schema"] == 1
    assert doc["summary"]["findings"] == len(doc["findings"]) == len(text_lines)
    for f in doc["findings"]:
        assert set(f) == {"path", "line", "column", "cell", "file_line", "code", "name", "severity", "message",
                          "help_url", "fix"}
        assert f["cell"] is None and f["file_line"] == f["line"]  # a .py file: no cell, one line numbering
        assert f["severity"] == ("warning" if f["code"] in ("NL102", "NL602", "NL806") else "error")
        assert not f["message"].startswith("NL")
        assert f["help_url"] is None  # no docs-url set: no link rather than a dead one
    rebuilt = [f"{f['path']}:{f['line']}:{f['column']}: {f['code']} {f['message']}" for f in doc["findings"]]
    assert rebuilt == text_lines


def test_github_annotations(text_lines, tmp_path):
    result = normlint("lint", "--format", "github", *NOT_FIXED, str(FIXTURES))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == len(text_lines)
    pattern = re.compile(r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),title=(NL\d{3}) [a-z0-9-]+::(.+)$")
    for line in lines:
        m = pattern.match(line)
        assert m, line
        assert m.group(1) == ("warning" if m.group(5) in ("NL102", "NL602", "NL806") else "error"), line
    # commas, colons and newlines in data are escaped as the workflow-command syntax requires
    weird = tmp_path / "a,b:c.py"
    weird.write_text("from keras.layers import BatchNormalization\nBatchNormalization(axis=0)\n")
    out = normlint("lint", "--format", "github", str(weird)).stdout
    assert "file=" + str(weird).replace(":", "%3A").replace(",", "%2C") + ",line=2" in out
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    assert normlint("lint", "--format", "github", str(broken)).stdout.startswith("::error file=")


def test_sarif_validates_against_the_2_1_0_schema(text_lines):
    result = normlint("lint", "--format", "sarif", *NOT_FIXED, str(FIXTURES))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["NL000"] + [r.code for r in ALL_RULES]
    for r in rules:  # the page travels with the report; no link without a docs-url setting
        assert "helpUri" not in r and r["help"]["markdown"].startswith(f"# {r['id']}")
        assert r["help"]["text"] == r["help"]["markdown"]
    assert "informationUri" not in run["tool"]["driver"]
    assert len(run["results"]) == len(text_lines)
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] == rules[res["ruleIndex"]]["defaultConfiguration"]["level"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_clean_sarif_is_valid_and_empty(tmp_path):
    (tmp_path / "ok.py").write_text("x = 1\n")
    result = normlint("lint", "--format", "sarif", str(tmp_path))
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["runs"][0]["results"] == []


def test_docs_url_setting_makes_the_links(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.normlint]\ndocs-url = "https://docs.example.org/normlint/rules/"\n')
    (tmp_path / "m.py").write_text("from keras.layers import BatchNormalization\nBatchNormalization(axis=0)\n")
    doc = json.loads(normlint("lint", "--format", "json", ".", cwd=tmp_path).stdout)
    assert doc["findings"][0]["help_url"] == "https://docs.example.org/normlint/rules/NL201.md"
    sarif = json.loads(normlint("lint", "--format", "sarif", ".", cwd=tmp_path).stdout)
    jsonschema.validate(sarif, SCHEMA)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["NL201"]["helpUri"] == "https://docs.example.org/normlint/rules/NL201.md"
    (tmp_path / "pyproject.toml").write_text('[tool.normlint]\ndocs-url = "docs/rules"\n')
    bad = normlint("lint", ".", cwd=tmp_path)
    assert bad.returncode == 2 and "docs-url must be an http(s) URL" in bad.stderr
