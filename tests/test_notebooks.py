"""Notebooks: code cells linted (magics and shell lines neutralised), positions as cells, real-file
annotations, folders and excludes, stdin, and the flake8 route through nbQA run for real."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from normlint.config import Config
from normlint.lint.files import lint_file
from normlint.lint.notebook import read_notebook
from tests.helpers import ROOT, normlint, run

NOTEBOOK = ROOT / "tests" / "data" / "notebooks" / "keras_training.ipynb"
EXPECTED_TEXT = [
    "cell 4:4:5: NL102 Conv2D has a bias that the BatchNormalization on cell 4, line 5 cancels: pass use_bias=False",
    "cell 4:5:40: NL601 BatchNormalization(momentum=0.1) uses PyTorch's convention; Keras keeps 0.1 of the old "
    "moving statistics per step: use momentum=0.9",
    "cell 4:7:5: NL101 Dropout feeds the BatchNormalization on cell 4, line 9 (variance shift): move Dropout after "
    "the last BatchNormalization",
    "cell 5:3:21: NL701 raw 0-255 images from load_data() (cell 3, line 1) reach fit() unscaled: divide by 255, or "
    "put a Rescaling(1/255) or an adapted Normalization layer first",
    "cell 6:1:1: NL000 cannot parse (Python 3.11): Missing parentheses in call to 'print'. Did you mean print(...)? "
    "(this cell was not linted)",
    "cell 7:2:1: NL201 BatchNormalization(axis=0) keeps the batch axis: normalize over the channel axis (axis=-1 "
    "for channels_last, axis=1 for channels_first)",
]


def _marked(path: Path) -> list[tuple[int, int, str]]:
    """(code cell, line in cell, code) of every `# NLxxx` marker in the notebook's code cells."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    cells = [c for c in doc["cells"] if c["cell_type"] == "code"]
    out = []
    for n, cell in enumerate(cells, 1):
        for i, line in enumerate("".join(cell["source"]).splitlines(), 1):
            if "# NL" in line and "noqa" not in line:
                out.append((n, i, line.split("# ")[-1].strip()))
    return out


def test_text_report_places_findings_in_cells():
    result = normlint("lint", str(NOTEBOOK))
    assert result.returncode == 1, result.stderr
    lines = [line.split(".ipynb:", 1)[1] for line in result.stdout.splitlines()]
    if sys.version_info[:2] != (3, 11):
        lines = [line.replace(f"Python {sys.version_info[0]}.{sys.version_info[1]}", "Python 3.11") for line in lines]
    assert lines == EXPECTED_TEXT


def test_every_marked_code_is_found_and_nothing_else():
    found = [(f.cell, f.cell_line, f.code) for f in lint_file(str(NOTEBOOK), Config()) if f.code != "NL000"]
    assert sorted(found) == sorted(_marked(NOTEBOOK))


def test_json_github_sarif_point_at_the_real_file():
    raw_lines = NOTEBOOK.read_text(encoding="utf-8").splitlines()
    doc = json.loads(normlint("lint", "--format", "json", str(NOTEBOOK)).stdout)
    first = doc["findings"][0]
    assert (first["cell"], first["line"], first["column"], first["code"]) == (4, 4, 5, "NL102")
    # file_line is the .ipynb line that stores that source line
    assert 'layers.Conv2D(32, 3, padding=\\"same\\"),  # NL102' in raw_lines[first["file_line"] - 1]
    github = normlint("lint", "--format", "github", str(NOTEBOOK)).stdout.splitlines()[0]
    assert github.startswith(f"::warning file={NOTEBOOK},line={first['file_line']},title=NL102")
    assert "::cell 4, line 4: Conv2D has a bias" in github
    sarif = json.loads(normlint("lint", "--format", "sarif", str(NOTEBOOK)).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": first["file_line"]}
    assert result["properties"] == {"cell": 4, "cellLine": 4}


def test_magics_shell_lines_and_cell_magics_are_not_python_errors():
    nb = read_notebook(NOTEBOOK.read_text(encoding="utf-8"))
    assert [place.cell for place, _, _ in nb.broken] == [6]  # only the Python 2 cell
    assert "nvidia-smi" not in nb.source and "%matplotlib" not in nb.source and "!pip" not in nb.source
    assert "files = None" in nb.source  # `files = !ls data` keeps its binding
    compile(nb.source, "nb", "exec")


def _notebook(*cells: str, language: str = "python") -> str:
    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": c} for c in cells],
        "metadata": {"language_info": {"name": language}}, "nbformat": 4, "nbformat_minor": 5,
    })


BAD_CELL = "import keras\nm = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n"


@pytest.mark.parametrize("cells, expected", [
    (["%%writefile model.py\n" + BAD_CELL], []),  # a file written by the cell, not run as Python
    (["%%time\n" + BAD_CELL], [(1, 3, "NL101")]),  # %%time runs its body
    (["  %timeit x = 1\n" + BAD_CELL], [(1, 3, "NL101")]),
    (["if True:\n    %time y = 2\n" + BAD_CELL], [(1, 4, "NL101")]),
    (["import keras", "m = keras.Sequential([\n    keras.layers.Dropout(0.5),\n    keras.layers.BatchNormalization()])"],
     [(2, 2, "NL101")]),
    (["await something()\n" + BAD_CELL], [(1, 3, "NL101")]),  # IPython's top-level await
])
def test_cell_forms(tmp_path: Path, cells, expected):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(*cells))
    assert [(f.cell, f.cell_line, f.code) for f in lint_file(str(path), Config())] == expected


def test_not_a_notebook_is_nl000_not_clean(tmp_path: Path):
    fake = tmp_path / "broken.ipynb"
    fake.write_text("import keras\n")
    (finding,) = lint_file(str(fake), Config())
    assert finding.code == "NL000" and "not a notebook: invalid JSON" in finding.message
    r_nb = tmp_path / "r.ipynb"
    r_nb.write_text(_notebook("library(keras)", language="R"))
    assert lint_file(str(r_nb), Config()) == []


def test_folders_include_notebooks_and_skip_checkpoints_and_excludes(tmp_path: Path):
    (tmp_path / "a.ipynb").write_text(_notebook(BAD_CELL))
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text(_notebook(BAD_CELL))
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "b.ipynb").write_text(_notebook(BAD_CELL))
    (tmp_path / "c_generated.py").write_text(BAD_CELL)
    result = normlint("lint", str(tmp_path))
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == sorted(
        [str(tmp_path / "a.ipynb"), str(tmp_path / "scratch" / "b.ipynb"), str(tmp_path / "c_generated.py")])
    excluded = normlint("lint", "--extend-exclude", "scratch,*_generated.py", str(tmp_path))
    assert [line.split(":")[0] for line in excluded.stdout.splitlines()] == [str(tmp_path / "a.ipynb")]
    (tmp_path / "pyproject.toml").write_text('[tool.normlint]\nextend-exclude = ["scratch", "*_generated.py"]\n')
    configured = normlint("lint", str(tmp_path))
    assert [line.split(":")[0] for line in configured.stdout.splitlines()] == [str(tmp_path / "a.ipynb")]
    # a file named on the command line is linted whatever the excludes say
    named = normlint("lint", "--extend-exclude", "scratch", str(tmp_path / "scratch" / "b.ipynb"))
    assert named.returncode == 1
    (tmp_path / "pyproject.toml").write_text('[tool.normlint]\nextend-exclude = "scratch"\n')
    bad = normlint("lint", str(tmp_path))
    assert bad.returncode == 2 and "extend-exclude must be a list of path globs" in bad.stderr


def test_stdin_notebook(tmp_path: Path):
    result = run([sys.executable, "-m", "normlint", "lint", "-", "--stdin-filename", "nb.ipynb"],
                 input=_notebook(BAD_CELL), cwd=tmp_path)
    assert result.returncode == 1 and result.stdout.startswith("nb.ipynb:cell 1:2:"), result.stdout


def test_noqa_in_a_cell(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(BAD_CELL.replace("BatchNormalization()])", "BatchNormalization()])  # noqa: NL101")))
    assert lint_file(str(path), Config()) == []


@pytest.mark.skipif(shutil.which("nbqa") is None and not __import__("importlib").util.find_spec("nbqa"),
                    reason="nbQA is in the test extra")
def test_flake8_route_through_nbqa(tmp_path: Path):
    """nbQA hands the code cells to flake8, which loads normlint's plugin: the same codes, cell-placed."""
    target = tmp_path / "keras_training.ipynb"
    shutil.copy(NOTEBOOK, target)
    result = run([sys.executable, "-m", "nbqa", "flake8", str(target), "--select", "NL"], cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    found = sorted(
        (int(line.split(":cell_")[1].split(":")[0]), int(line.split(":")[2]), line.split(": ")[1].split()[0])
        for line in result.stdout.splitlines() if ":cell_" in line
    )
    # nbQA drops the Python 2 cell's file as a syntax error for flake8 (E999 is not selected): the rest agrees
    assert set(found) >= {m for m in _marked(NOTEBOOK) if m[0] != 6}, result.stdout


def test_flake8_given_a_notebook_reads_it_as_one():
    from tests.helpers import flake8

    result = flake8("--select", "NL", str(NOTEBOOK))
    assert result.returncode == 1, result.stderr
    codes = sorted(line.split(": ", 1)[1].split()[0] for line in result.stdout.splitlines())
    assert codes == ["NL000", "NL101", "NL102", "NL201", "NL601", "NL701"]
    assert ": NL102 cell 4, line 4: Conv2D has a bias" in result.stdout


@pytest.mark.parametrize("raw, message", [
    ("[1, 2, 3]", "no 'cells' list"),
    ('{"cells": 3}', "no 'cells' list"),
    ("[" * 100_000, "invalid JSON"),
    ("", "invalid JSON"),
])
def test_odd_notebooks_are_one_line_nl000(tmp_path: Path, raw: str, message: str):
    path = tmp_path / "odd.ipynb"
    path.write_text(raw)
    result = normlint("lint", str(path))
    assert result.returncode == 1 and result.stderr == "", result.stderr
    assert result.stdout.count("\n") == 1 and "NL000" in result.stdout and message in result.stdout


def test_odd_cells_and_nbformat_3(tmp_path: Path):
    odd = tmp_path / "odd.ipynb"
    odd.write_text(json.dumps({"cells": [
        "not a cell", {"cell_type": "code"}, {"cell_type": "code", "source": [1, None, "x = 1\n"]},
        {"cell_type": "code", "source": BAD_CELL.splitlines(True)}], "metadata": {"language_info": "python"}}))
    assert [(f.cell, f.code) for f in lint_file(str(odd), Config())] == [(3, "NL101")]
    v3 = tmp_path / "v3.ipynb"
    v3.write_text(json.dumps({"nbformat": 3, "worksheets": [{"cells": [
        {"cell_type": "code", "input": BAD_CELL.splitlines(True), "language": "python"}]}]}))
    assert [(f.cell, f.cell_line, f.code) for f in lint_file(str(v3), Config())] == [(1, 2, "NL101")]
