"""``@record`` (normlint.records) behaves as ``@dataclass`` does, with its methods generated ahead into
normlint/record_code.py, which is current; and a lint run imports neither ``dataclasses`` nor ``inspect``."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from normlint import records
from normlint.config import Config
from normlint.lint.engine import Finding
from normlint.lint.fixes import Edit, Fix
from normlint.lint.graph import LayerObj, Seq, Tensor
from normlint.records import FrozenInstanceError, asdict, field, record, replace
from tests.helpers import ROOT


def test_the_generated_methods_are_current():
    """Regenerate with ``python -m normlint.records`` when this fails."""
    assert (ROOT / "normlint" / "record_code.py").read_text(encoding="utf-8") == records.generated_source()


def test_every_module_that_declares_records_is_generated():
    declaring = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "normlint").rglob("*.py")
        if "\n@record" in path.read_text(encoding="utf-8") and path.name != "records.py"
    }
    assert declaring == set(records.MODULES)
    for name in records.MODULES:  # every record of them took the generated methods, none fell back to dataclasses
        module = importlib.import_module(name)
        made = [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == name
                and "__record_fields__" in v.__dict__]
        assert made and not any(dataclasses.is_dataclass(cls) for cls in made), name


def test_a_frozen_ordered_record_compares_hashes_and_refuses_assignment_as_a_dataclass_does():
    fix = Fix("use axis=-1", "unsafe", (Edit(1, 2, "x"),))
    a, b = Finding("m.py", 3, 1, "NL201", "NL201 m"), Finding("m.py", 3, 1, "NL201", "NL201 m", fix=fix)
    assert a == b and hash(a) == hash(b)  # fix: compare=False
    later = Finding("m.py", 10, 1, "NL101", "NL101 m")
    assert sorted([later, a]) == [a, later] and a < later and later >= a
    assert a.__eq__(object()) is NotImplemented
    with pytest.raises(FrozenInstanceError):
        a.line = 4  # type: ignore[misc]
    assert issubclass(FrozenInstanceError, AttributeError)
    assert replace(a, line=7) == Finding("m.py", 7, 1, "NL201", "NL201 m")
    assert asdict(b)["fix"] == {"message": "use axis=-1", "applicability": "unsafe", "edits": (
        {"start": 1, "end": 2, "text": "x", "start_line": 0, "start_col": 0, "end_line": 0, "end_col": 0},)}
    assert repr(a) == ("Finding(path='m.py', line=3, col=1, code='NL201', message='NL201 m', cell=None, "
                       "cell_line=None, fix=None)")


def test_records_with_factories_and_identity_as_dataclasses_have_them():
    one, two = Config(), Config()
    assert one == two and one.options is not two.options and Config.__hash__ is None
    assert Config(select=("NL1",)) != one
    t, u = Tensor(), Tensor()
    assert t != u and len({t, u}) == 2 and t.parents == ()
    layer = LayerObj("Dense", None)  # type: ignore[arg-type]
    assert layer.kwargs == {} and layer.kwargs is not LayerObj("Dense", None).kwargs  # type: ignore[arg-type]
    assert layer.framework == "keras" and "kwargs" not in LayerObj.__dict__
    cyclic = Seq([])
    cyclic.items.append(cyclic)
    assert repr(cyclic) == "Seq(items=[...], sites=[])"


def test_a_record_without_generated_methods_is_a_dataclass():
    @record(frozen=True)
    class Local:
        a: int
        b: list = field(default_factory=list)

    assert dataclasses.is_dataclass(Local)
    assert Local(1) == Local(1) and Local(1).b == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        Local(1).a = 2  # type: ignore[misc]
    assert replace(Local(1), a=2).a == 2 and asdict(Local(1, [2])) == {"a": 1, "b": [2]}


def test_a_lint_run_imports_neither_dataclasses_nor_inspect(tmp_path):
    (tmp_path / "m.py").write_text("from keras import layers\nx = layers.BatchNormalization(axis=0)\n")
    probe = ("import sys; from normlint.cli import main\n"
             "try:\n    main(['lint', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('dataclasses', 'inspect', 'pkgutil', 'libcst') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "m.py")], capture_output=True, text=True,
                         cwd=Path(ROOT), check=False)
    assert "NL201" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
