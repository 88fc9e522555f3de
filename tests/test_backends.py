"""`normlint check` and `normlint smoke` on Keras 3's JAX and torch backends, with TensorFlow hidden as if it
were not installed (tests/data/hide_packages), and the one-line errors for a missing backend or package.

JAX's CPU wheel is part of the test extra; torch is installed by .ci/run from the CPU wheel this machine
kind carries. Without it the torch cases skip and say why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.helpers import FIXED_SUFFIX, FIXTURES, ROOT, normlint

pytestmark = pytest.mark.slow
HIDE = str(ROOT / "tests" / "data" / "hide_packages")
RUNTIME = FIXTURES / "runtime"
# adapt_datasets.py builds tf.data pipelines itself: it is a TensorFlow program, not a backend-agnostic one
PORTABLE = sorted(p for p in RUNTIME.glob("*.py") if p.name != "adapt_datasets.py" and not p.name.endswith(FIXED_SUFFIX))

BACKENDS = [
    pytest.param("jax", marks=pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")),
    pytest.param("torch", marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                                   reason="torch is not installed (.ci/run installs torch==2.13.0 where it can)")),
]


def without_tf(backend: str, hide: str = "tensorflow,tf_keras,tensorboard") -> dict:
    return {"KERAS_BACKEND": backend, "PYTHONPATH": HIDE, "NORMLINT_TEST_HIDE": hide}


def statuses(doc: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        layer["layer"]: (layer["status"], tuple(sorted(c["name"] for c in layer["checks"] if c["status"] == "fail")))
        for m in doc["models"]
        for layer in m["layers"]
    }


@pytest.fixture(scope="module")
def tensorflow_verdicts() -> dict[str, dict]:
    out = {}
    for path in PORTABLE:
        result = normlint("check", "--format", "json", "--no-lint", str(path), timeout=300,
                          env={"KERAS_BACKEND": "tensorflow"})
        assert result.returncode in (0, 1), result.stderr[-2000:]
        out[path.name] = json.loads(result.stdout)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_gives_the_same_verdicts_without_tensorflow(backend, tensorflow_verdicts):
    for path in PORTABLE:
        result = normlint("check", "--format", "json", "--no-lint", str(path), timeout=300, env=without_tf(backend))
        assert result.returncode in (0, 1), (path.name, result.stderr[-2000:])
        doc = json.loads(result.stdout)
        assert statuses(doc) == statuses(tensorflow_verdicts[path.name]), path.name
        assert doc["failed"] == tensorflow_verdicts[path.name]["failed"], path.name


@pytest.mark.parametrize("backend", BACKENDS)
def test_adapt_on_a_backend_tensor_is_recorded_and_recomputed(backend):
    result = normlint("check", "--format", "json", "--no-lint", str(RUNTIME / "adapt_backend_tensor.py"),
                      timeout=300, env=without_tf(backend))
    assert result.returncode == 0, result.stderr[-2000:]
    doc = json.loads(result.stdout)
    norm = [layer for m in doc["models"] for layer in m["layers"] if layer["class"] == "Normalization"]
    assert len(norm) == 1
    checks = {c["name"]: c for c in norm[0]["checks"]}
    # the statistics were recomputed from the recorded backend tensor, not skipped
    assert checks["adapted"]["status"] == "pass", checks
    assert checks["adapt-statistics"]["status"] == "pass"
    assert checks["adapt-statistics"]["detail"] == "adapted mean/variance match NumPy on the adapt data"


@pytest.mark.parametrize("backend", BACKENDS)
def test_smoke_runs_and_names_its_device_and_backend(backend, tmp_path: Path):
    png = tmp_path / "curves.png"
    result = normlint("smoke", "--epochs", "1", "--subset", "500", "--format", "json", "--plot", str(png),
                      timeout=600, env={**without_tf(backend), "NORMLINT_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["backend"] == backend
    assert doc["device"].startswith(("CPU (", "GPU ("))
    assert f"on {backend}" in result.stderr.splitlines()[0]
    assert doc["seeds"] == [0, 1] and all(len(m["runs"]) == 2 for m in doc["models"].values())
    assert doc["verdict"].startswith(("normalized beats plain", "normalized does NOT beat plain"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_backend_is_one_line():
    result = normlint("smoke", env=without_tf("jax", hide="jax,jaxlib"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "normlint: error: normlint smoke needs Keras 3 with the jax backend, but jax is not installed: "
        "pip install 'normlint[jax]'"
    ]
    check = normlint("check", "--no-lint", str(RUNTIME / "good_lenet5_norm.py"), env=without_tf("torch", hide="torch"))
    assert check.returncode == 2 and "Traceback" not in check.stderr
    assert check.stderr.strip().endswith("but torch is not installed: pip install 'normlint[torch]'")
    unknown = normlint("smoke", env={"KERAS_BACKEND": "theano"})
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == ("normlint: error: normlint smoke: KERAS_BACKEND='theano' is not supported; "
                                      "use one of tensorflow, jax, torch")


def test_missing_pillow_and_matplotlib_are_one_line(tmp_path: Path):
    pil = normlint("smoke", env={"PYTHONPATH": HIDE, "NORMLINT_TEST_HIDE": "PIL"})
    assert pil.returncode == 2
    assert pil.stderr.strip() == ("normlint: error: normlint smoke to decode the CIFAR-10 images needs pillow, "
                                  "which is not installed: pip install pillow")
    mpl = normlint("smoke", "--plot", str(tmp_path / "c.png"), env={"PYTHONPATH": HIDE, "NORMLINT_TEST_HIDE": "matplotlib"})
    assert mpl.returncode == 2 and mpl.stderr.strip().endswith("needs matplotlib, which is not installed: pip install matplotlib")
