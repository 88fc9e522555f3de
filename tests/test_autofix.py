"""`normlint lint --fix / --unsafe-fixes / --diff`: expected fixed files beside the fixtures, and the
safety promises (parses, idempotent, rounds, untouched files, encoding/BOM/CRLF, notebooks)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from normlint.config import Config
from normlint.lint.autofix import fix_notebook, fix_text, wanted
from normlint.lint.engine import Finding, lint_source
from normlint.lint.fixes import SAFE, Edit, Fix
from normlint.lint.rules import OPT_IN
from tests.helpers import FIXED_SUFFIX, FIXTURES, ROOT, fixture_files, normlint, run

ALL_ON = Config(extend_select=tuple(OPT_IN))


def _fixed_path(fixture: Path) -> Path:
    return fixture.with_name(fixture.name[: -len(".py")] + FIXED_SUFFIX)


def _fixable(path: Path) -> bool:
    return any(wanted(f, True) for f in lint_source(path.read_text(encoding="utf-8"), str(path), ALL_ON))


FIXABLE = [p for p in fixture_files() if _fixable(p)]


def test_the_fixes_cover_the_rules_that_have_one():
    fixed_codes = {f.code for p in FIXABLE for f in lint_source(p.read_text(), str(p), ALL_ON) if f.fix}
    assert fixed_codes >= {"NL101", "NL102", "NL201", "NL202", "NL203", "NL401", "NL601", "NL702"}


@pytest.mark.parametrize("fixture", FIXABLE, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_expected_fixed_files(fixture: Path, request):
    """X.fixed.py is what --fix --unsafe-fixes makes of X.py (rewrite: --update-fixtures); linted again
    it has no fixable finding and no new one; a second --fix changes nothing."""
    source = fixture.read_text(encoding="utf-8")
    result = fix_text(source, str(fixture), ALL_ON, unsafe=True)
    expected = _fixed_path(fixture)
    if request.config.getoption("--update-fixtures"):
        expected.write_text(result.text, encoding="utf-8")
    assert expected.exists(), f"{expected} is missing: run python -m pytest tests/test_autofix.py --update-fixtures"
    assert result.text == expected.read_text(encoding="utf-8")
    assert not result.dropped
    compile(result.text, str(expected), "exec")
    before = Counter(f.code for f in lint_source(source, str(fixture), ALL_ON))
    after = lint_source(result.text, str(expected), ALL_ON)
    assert not [f for f in after if wanted(f, True)], "a fixable finding survived --fix"
    assert not Counter(f.code for f in after) - before, "the fix introduced a finding"
    assert fix_text(result.text, str(expected), ALL_ON, unsafe=True).text == result.text  # idempotent


def test_safe_fixes_only_without_unsafe(tmp_path: Path):
    path = tmp_path / "lenet.py"
    path.write_text((FIXTURES / "article_lenet5.py").read_text())
    result = normlint("lint", "--fix", str(path))
    text = path.read_text()
    assert "use_bias=False" in text and "layers.Conv2D(6, 5" in text.split("def call")[1]  # NL401 not hoisted
    assert result.returncode == 1
    assert "normlint: fixed 4 finding(s) in 1 file(s)" in result.stderr
    assert "fixable with --unsafe-fixes" in result.stderr
    codes = Counter(line.split(": ")[1].split()[0] for line in result.stdout.splitlines())
    assert "NL102" not in codes and codes["NL401"] == 5  # the report is what remains (pooling, Flatten: not flagged)
    unsafe = normlint("lint", "--fix", "--unsafe-fixes", str(path))
    assert [line.split(": ")[1].split()[0] for line in unsafe.stdout.splitlines()] == ["NL701"]  # not fixable


def test_diff_writes_nothing(tmp_path: Path):
    path = tmp_path / "m.py"
    original = "import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\n"
    path.write_text(original)
    result = normlint("lint", "--diff", str(path))
    assert result.returncode == 1 and path.read_text() == original
    assert result.stdout.splitlines()[:2] == [f"--- {path}", f"+++ {path}"]
    assert "+m = keras.Sequential([keras.layers.Dense(4, use_bias=False), keras.layers.BatchNormalization()])" in result.stdout
    clean = tmp_path / "clean.py"
    clean.write_text("x = 1\n")
    assert normlint("lint", "--diff", str(clean)).returncode == 0


def test_untouched_files_are_never_rewritten(tmp_path: Path):
    clean = tmp_path / "clean.py"
    clean.write_text("import keras\nm = keras.Sequential([keras.layers.Dense(4)])\n")
    unfixable = tmp_path / "raw.py"
    unfixable.write_text("import keras\n(x, y), _ = keras.datasets.mnist.load_data()\n"
                         "m = keras.Sequential([keras.layers.Dense(10)])\nm.fit(x, y)\n")
    for p in (clean, unfixable):
        os.utime(p, (1_000_000, 1_000_000))
    normlint("lint", "--fix", "--unsafe-fixes", str(tmp_path))
    assert os.stat(clean).st_mtime == 1_000_000 and os.stat(unfixable).st_mtime == 1_000_000


@pytest.mark.parametrize("encoding, bom, newline",
                         [("utf-8", False, "\r\n"), ("utf-8", True, "\n"), ("latin-1", False, "\n")])
def test_encoding_bom_and_newlines_are_kept(tmp_path: Path, encoding: str, bom: bool, newline: str):
    lines = ["# -*- coding: latin-1 -*-" if encoding == "latin-1" else "# model", "import keras",
             "name = 'caf\u00e9'", "m = keras.Sequential([", "    keras.layers.Dense(4),",
             "    keras.layers.BatchNormalization(),", "])"]
    data = newline.join(lines).encode(encoding)  # no newline at the end, on purpose
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = tmp_path / "m.py"
    path.write_bytes(data)
    normlint("lint", "--fix", str(path))
    fixed = path.read_bytes()
    assert fixed.startswith(b"\xef\xbb\xbf") == bom
    assert fixed.endswith(b"])")
    assert fixed.count(newline.encode()) == len(lines) - 1 and (newline == "\r\n" or b"\r" not in fixed)
    assert "    keras.layers.Dense(4, use_bias=False)," in fixed.decode(encoding).lstrip("\ufeff")
    assert "caf\u00e9" in fixed.decode("utf-8-sig" if bom else encoding)


def test_overlapping_fixes_land_in_rounds():
    src = ("import keras\nfrom keras import layers\n\nclass Net(keras.Model):\n    def call(self, x):\n"
           "        return layers.Dense(10, activation='sigmoid')(x)\n\n"
           "net = Net()\nnet.compile(loss='categorical_crossentropy')\n")
    result = fix_text(src, "net.py", Config(), unsafe=True)
    assert "self.dense = layers.Dense(10, activation='softmax')" in result.text
    assert "return self.dense(x)" in result.text
    assert sorted(f.code for f in result.applied) == ["NL401", "NL702"]


def test_a_fix_that_would_break_the_file_is_dropped_and_reported():
    src = "x = 1\ny = 2\n"
    broken = Finding("m.py", 1, 1, "NL102", "NL102 test", fix=Fix("break it", SAFE, (Edit(0, 1, "x x"),)))
    good = Finding("m.py", 2, 1, "NL102", "NL102 test", fix=Fix("fine", SAFE, (Edit(6, 7, "z"),)))
    result = fix_text(src, "m.py", Config(), lint=lambda text: [broken, good] if text == src else [])
    assert result.text == "x = 1\nz = 2\n"
    assert len(result.dropped) == 1 and "would not parse" in result.dropped[0]


def test_stdin_fix_prints_the_fixed_text(tmp_path: Path):
    src = "import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\n"
    result = run([sys.executable, "-m", "normlint", "lint", "--fix", "-", "--stdin-filename", "m.py"], input=src, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == src.replace("Dense(4)", "Dense(4, use_bias=False)")


def test_json_and_sarif_carry_the_fix(tmp_path: Path):
    path = tmp_path / "m.py"
    path.write_text("import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\n")
    (finding,) = json.loads(normlint("lint", "--format", "json", str(path)).stdout)["findings"]
    assert finding["fix"] == {"applicability": "safe", "message": "pass use_bias=False", "edits": [
        {"start": {"line": 2, "column": 43}, "end": {"line": 2, "column": 43}, "content": ", use_bias=False"}]}
    sarif = json.loads(normlint("lint", "--format", "sarif", str(path)).stdout)
    (fix,) = sarif["runs"][0]["results"][0]["fixes"]
    assert fix["artifactChanges"][0]["replacements"][0]["insertedContent"] == {"text": ", use_bias=False"}


def test_explain_shows_the_fix():
    page = normlint("explain", "NL102").stdout
    assert "## Fix" in page and "**Safe**" in page


def test_notebooks_are_fixed_cell_by_cell(tmp_path: Path):
    path = tmp_path / "nb.ipynb"
    shutil_copy = (ROOT / "tests" / "data" / "notebooks" / "keras_training.ipynb").read_text(encoding="utf-8")
    path.write_text(shutil_copy, encoding="utf-8")
    result = fix_notebook(shutil_copy, str(path), Config(), unsafe=True)
    doc = json.loads(result.text)
    cells = ["".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code"]
    assert 'layers.Conv2D(32, 3, padding="same", use_bias=False),' in cells[3]
    assert "layers.BatchNormalization(momentum=BN_MOMENTUM)" in cells[3] and "BN_MOMENTUM = 0.9" in cells[3]
    assert cells[3].index("layers.BatchNormalization(),") < cells[3].index("layers.Dropout(0.3)")
    assert cells[0].startswith("%matplotlib inline\n!pip install -q tensorflow")  # magics untouched
    assert cells[1] == "%%bash\nnvidia-smi\nls -la | head"
    assert 'print "a Python 2 cell' in cells[5]
    assert "layers.BatchNormalization(axis=-1)" in cells[6]
    original = json.loads(shutil_copy)
    assert [c["cell_type"] for c in doc["cells"]] == [c["cell_type"] for c in original["cells"]]
    assert doc["metadata"] == original["metadata"]
    assert fix_notebook(result.text, str(path), Config(), unsafe=True).text == result.text
    cli = normlint("lint", "--fix", "--unsafe-fixes", str(path))
    assert path.read_text(encoding="utf-8") == result.text, cli.stderr


def _classes_of(path: Path) -> dict:
    """The imports and classes of a fixture, run (not its module-level training on keras.datasets)."""
    import libcst as cst

    module = cst.parse_module(path.read_text(encoding="utf-8"))
    keep = [s for s in module.body if isinstance(s, cst.ClassDef) or (
        isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], (cst.Import, cst.ImportFrom)))]
    scope: dict = {}
    exec(compile(module.with_changes(body=keep).code, str(path), "exec"), scope)  # noqa: S102 - our fixture
    return scope


@pytest.mark.slow
def test_the_fixed_article_lenet_trains_and_keeps_its_weights():
    """--fix --unsafe-fixes on the article's LeNet-5: its layers, hoisted into __init__, are one set of
    weights that every call uses and training updates (the original builds new ones on every call)."""
    keras = pytest.importorskip("keras", reason="the runtime extra is not installed")
    import numpy as np

    from normlint.runtime.data import load_cifar

    ds = load_cifar("embedded", subset=256)
    x, y = ds.x_train.astype("float32") / 255.0, ds.y_train
    keras.utils.set_random_seed(0)
    original = _classes_of(FIXTURES / "article_lenet5.py")["LeNet5"]()
    assert not np.allclose(original(x[:8]), original(x[:8]))  # new random layers on every call
    model = _classes_of(_fixed_path(FIXTURES / "article_lenet5.py"))["LeNet5"]()
    first = keras.ops.convert_to_numpy(model(x[:8]))
    weights = [keras.ops.convert_to_numpy(w) for w in model.weights]
    assert np.allclose(model(x[:8]), first) and len(model.weights) == len(weights) == 10
    assert np.allclose(first.sum(axis=1), 1.0, atol=1e-5)  # softmax now: one distribution per image
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert len(model.weights) == 10
    assert all(not np.allclose(keras.ops.convert_to_numpy(w), before) for w, before in zip(model.weights, weights) if w.trainable)
    assert np.allclose(model(x[:8]), model(x[:8]))
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_file_that_cannot_be_written_is_an_error_not_a_traceback(tmp_path: Path):
    import shutil

    locked = tmp_path / "locked"
    locked.mkdir()
    path = locked / "m.py"
    path.write_text("import keras\nm = keras.Sequential([keras.layers.Dense(4), keras.layers.BatchNormalization()])\n")
    cmd = [sys.executable, "-m", "normlint", "lint", "--fix", str(path)]
    if os.geteuid() == 0:  # root writes anyway: drop the capabilities that let it, as the hardening tests do
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv")
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", *cmd]
    os.chmod(locked, 0o555)  # the folder: no temporary file can be made beside the file
    try:
        result = run(cmd)
    finally:
        os.chmod(locked, 0o755)
    assert result.returncode == 2, result.stderr
    assert f"normlint: error: cannot write {path}" in result.stderr and "Traceback" not in result.stderr
    assert "NL102" in result.stdout  # reported as remaining


def test_libcst_reads_only_the_files_whose_findings_have_a_fix_to_place(monkeypatch):
    """json, sarif and --fix place fixes' edits, which libcst renders: a file whose findings carry no fix
    (most files) is analysed on the fast tree alone, one with a fix is read again by libcst, and either way
    the findings are the text report's."""
    import libcst

    from normlint.lint.rules import ALL_RULES

    parsed: list[str] = []
    real = libcst.parse_module
    monkeypatch.setattr(libcst, "parse_module", lambda source, *a, **k: parsed.append(source) or real(source, *a, **k))
    by_code = {rule.code: rule for rule in ALL_RULES}
    no_fix, with_fix = by_code["NL701"].INVALID[0], by_code["NL102"].INVALID[0]

    found = lint_source(no_fix, "a.py", ALL_ON, fixes=True)
    assert [f.code for f in found] == ["NL701"] and found[0].fix is None and parsed == []
    found = lint_source(with_fix, "b.py", ALL_ON, fixes=True)
    assert parsed == [with_fix] and "NL102" in [f.code for f in found]
    assert all(f.fix is None or f.fix.edits for f in found)  # the edits placed
    as_text = lint_source(with_fix, "b.py", ALL_ON, fixes=False)
    assert [(f.line, f.col, f.message) for f in found] == [(f.line, f.col, f.message) for f in as_text]
