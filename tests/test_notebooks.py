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
    # a "%" or "!" that opens a line inside brackets, a triple-quoted string or after a backslash is Python
    # (IPython reads escapes only where a logical line starts): the cell is linted, not refused
    (["print('Epoch: %03d | Cost: %.4f'\n      %(epoch, cost))\n" + BAD_CELL], [(1, 4, "NL101")]),
    (["total = 7 \\\n%3\ndoc = \"\"\"\n%not a magic\n!nor this\n\"\"\"\n%matplotlib inline\n" + BAD_CELL],
     [(1, 9, "NL101")]),
    (["flag = (a\n        !=b)\n" + BAD_CELL], [(1, 4, "NL101")]),
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


# cells whose joined text parses while a cell alone may not: a statement, a bracket or a line continuation
# that crosses the boundary. The reader's one parse of the joined cells must then give way to one per cell.
CROSSING = {
    "open bracket": ["x = [1,", "2]\n" + BAD_CELL],
    "parenthesized expression opened before the boundary": ["(", "1)\n" + BAD_CELL],
    "parenthesized expression closed after it": ["(1", ")\n" + BAD_CELL],
    "parenthesized target": ["(", "a) = 1\n" + BAD_CELL],
    "triple-quoted string": ['s = """abc', '"""\n' + BAD_CELL],
    "backslash after a whole statement": ["x = 1 \\", BAD_CELL],
    "decorator in the cell before": ["@dec", "def f(): pass\n" + BAD_CELL],
    "header in the cell before": ["if True:", "    y = 1\n" + BAD_CELL],
    "else in the next cell": ["if x:\n    pass", "else:\n    pass\n" + BAD_CELL],
    "second statement of a line": ["x = 1; y = (", "2)\n" + BAD_CELL],
    "non-ASCII text before a backslash": ["x = 'é' \\", BAD_CELL],
    "semicolons at the ends": ["x = 1;", "y = 2;\n" + BAD_CELL],
    "top-level await": ["await f()\n" + BAD_CELL, "y = 1"],
}
APART = {
    "plain cells": ["import keras", BAD_CELL],
    "comment ending in a backslash": ["x = 1  # c \\", BAD_CELL],
    "comment opening a bracket": ["x = 1  # (", BAD_CELL],
    "hash in a string": ["s = '#('\nt = 1", BAD_CELL],
    "decorated definitions": ["@dec\ndef f(): pass", "@dec\nclass C: pass\n" + BAD_CELL],
    "magics and shell lines": ["%matplotlib inline\n!pip install x\nfiles = !ls\nobj?\n" + BAD_CELL, "%%bash\necho hi"],
    "non-ASCII": ["x = 'é'  # ü", "名前 = 'ß'\n" + BAD_CELL],
    "a late __future__ import (each cell is compiled alone)": ["x = 1", "from __future__ import annotations\n" + BAD_CELL],
}


def _cells(raw: str):
    from normlint.lint import notebook

    code = notebook.code_cells(json.loads(raw)) or []
    texts = [notebook._cell_lines(c) for c in code]
    stored = notebook.StoredLines(raw, texts, code)
    return [(n, lines, c) for n, lines in enumerate(texts, 1) if (c := notebook._neutralise(lines)) is not None], stored


@pytest.mark.parametrize("cells", list(CROSSING.values()) + list(APART.values()), ids=list(CROSSING) + list(APART))
def test_one_parse_of_the_joined_cells_says_what_a_parse_of_each_cell_says(cells):
    from normlint.lint.notebook import _cell_by_cell, _parsed_whole

    parsed, stored = _cells(_notebook(*cells))
    whole = _parsed_whole(parsed, stored)
    each = _cell_by_cell(parsed, stored)
    if cells in CROSSING.values():
        assert whole is None  # cell by cell, which decides which cells are broken
    else:
        assert whole is not None and whole.tree is not None and not each.broken
        assert (whole.source, whole.lines, whole.broken) == (each.source, each.lines, each.broken)
        compile(whole.source, "nb", "exec", flags=0x400)


def test_cells_cut_anywhere_in_real_code_never_pass_the_one_parse_wrongly():
    """normlint's own modules cut in two at every line where a statement, a bracket, a string or a
    backslash continues (and at a sample of the others): wherever the one parse of the joined cells is
    taken, it says what compiling each cell alone says."""
    import io
    import tokenize

    from normlint.lint.notebook import _cell_by_cell, _parsed_whole

    taken = declined = 0
    for path in sorted((ROOT / "normlint" / "lint").glob("*.py"))[:12]:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        inside = set()  # lines that continue something begun above them
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0] + 1, tok.end[0] + 1))
            if tok.type == tokenize.OP and tok.string in ")]}":
                inside.add(tok.start[0])
        cuts = [i for i in range(1, len(lines)) if i + 1 in inside or lines[i - 1].rstrip().endswith("\\")]
        cuts += list(range(1, len(lines), 25))
        for cut in cuts:
            parsed, stored = _cells(_notebook("\n".join(lines[:cut]), "\n".join(lines[cut:])))
            whole = _parsed_whole(parsed, stored)
            if whole is None:
                declined += 1
                continue
            taken += 1
            each = _cell_by_cell(parsed, stored)
            assert (whole.source, whole.lines, whole.broken) == (each.source, each.lines, each.broken), (path, cut)
    assert taken > 50 and declined > 50


def test_a_notebook_without_findings_never_looks_up_where_its_lines_are_stored():
    nb = read_notebook(_notebook("import keras", "x = keras.layers.Dense(3)"))
    assert nb.stored is not None and nb.stored._found is None and nb.place(3).cell == 2
    assert nb.stored._found is not None  # now asked for: found once, linearly


def test_a_return_outside_a_function_in_a_cell_is_no_traceback(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook("return 5", BAD_CELL))
    result = normlint("lint", str(path))
    assert result.returncode == 1 and result.stderr == "", result.stderr
    assert "cell 2:2:" in result.stdout and "NL101" in result.stdout
