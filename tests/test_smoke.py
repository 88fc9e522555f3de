"""`normlint smoke` for real: LeNet-5 on real CIFAR-10 images (embedded subset; the shared set when present)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, normlint

pytest.importorskip("keras", reason="the runtime extra (TensorFlow) is not installed")
SHARED = ROOT.parent / "shared" / "data" / "cifar10-jpg.tar.gz"


def test_embedded_smoke_trains_both_models_and_checks_bn(tmp_path: Path):
    png = tmp_path / "curves.png"
    result = normlint("smoke", "--epochs", "2", "--format", "json", "--plot", str(png), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["device"].startswith(("CPU", "GPU"))
    assert doc["data"] == {"source": "embedded CIFAR-10 subset", "train": 5000, "test": 1000}
    for name in ("plain", "normalized"):
        history = doc["models"][name]["history"]
        assert [r["epoch"] for r in history] == [1, 2]
        assert all(0.0 <= r["val_acc"] <= 1.0 and r["images_per_second"] > 0 for r in history)
    # normalization is what the article is about: on real images it learns faster than raw pixels
    assert doc["models"]["normalized"]["best_val_acc"] > doc["models"]["plain"]["best_val_acc"]
    assert len(doc["check"]) == 4 and all(layer["status"] == "pass" for layer in doc["check"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "epoch 2/2" in result.stderr  # progress goes to stderr in json mode


def test_text_summary_table():
    result = normlint("smoke", "--epochs", "1", "--subset", "500", "--no-check", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "500 train / 1000 test images" in result.stdout
    assert "plain val_acc" in result.stdout and "normalized val_acc" in result.stdout
    assert "best val_acc normalized:" in result.stdout


@pytest.mark.skipif(not SHARED.exists(), reason="shared CIFAR-10 archive not present")
def test_full_image_folder_archive_loads():
    from normlint.runtime.data import load_cifar

    ds = load_cifar(str(SHARED), subset=1000)
    assert ds.x_train.shape == (1000, 32, 32, 3) and ds.x_test.shape == (10000, 32, 32, 3)
    assert ds.classes[0] == "airplane" and len(ds.classes) == 10
    assert len(set(ds.y_train.tolist())) == 10  # the subset is shuffled across classes


def test_data_errors_are_one_line(tmp_path: Path):
    missing = normlint("smoke", "--data", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.strip().endswith(f"--data {tmp_path / 'nope'}: no such file or directory")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.jpg").write_bytes(b"not a jpeg")
    malformed = normlint("smoke", "--data", str(tmp_path / "flat"))
    assert malformed.returncode == 2 and "no train/<class>/*.jpg images found" in malformed.stderr
    bad = tmp_path / "bad"
    (bad / "train" / "cat").mkdir(parents=True)
    (bad / "test" / "cat").mkdir(parents=True)
    (bad / "train" / "cat" / "0.jpg").write_bytes(b"not a jpeg")
    (bad / "test" / "cat" / "0.jpg").write_bytes(b"not a jpeg")
    undecodable = normlint("smoke", "--data", str(bad))
    assert undecodable.returncode == 2 and "cannot decode image" in undecodable.stderr
    assert "Traceback" not in undecodable.stderr
    zero = normlint("smoke", "--epochs", "0")
    assert zero.returncode == 2 and "--epochs must be at least 1" in zero.stderr
