"""`normlint smoke` for real: LeNet-5 on real CIFAR-10 images (embedded subset; the shared set when present)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import ROOT, normlint

pytestmark = pytest.mark.slow  # imports TensorFlow / trains: not in the fast lane

pytest.importorskip("keras", reason="the runtime extra (TensorFlow) is not installed")
SHARED = ROOT.parent / "shared" / "data" / "cifar10-jpg.tar.gz"


def test_embedded_smoke_trains_both_models_and_checks_bn(tmp_path: Path):
    png = tmp_path / "curves.png"
    result = normlint("smoke", "--epochs", "2", "--format", "json", "--plot", str(png), timeout=600,
                      env={"NORMLINT_CACHE_DIR": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads(result.stdout)
    assert doc["device"].startswith(("CPU", "GPU")) and doc["backend"] == "tensorflow"
    assert doc["data"] == {"source": "embedded CIFAR-10 subset", "train": 5000, "test": 1000, "train_used_per_epoch": 4864}
    assert doc["seeds"] == [0, 1]  # the CPU default: two seeds
    for name in ("plain", "normalized"):
        model = doc["models"][name]
        assert [run["seed"] for run in model["runs"]] == [0, 1]
        for run in model["runs"]:
            assert [r["epoch"] for r in run["history"]] == [1, 2]
            assert all(0.0 <= r["val_acc"] <= 1.0 and r["images_per_second"] > 0 for r in run["history"])
        bests = [run["best_val_acc"] for run in model["runs"]]
        assert model["best_val_acc"] == pytest.approx(sum(bests) / 2)
        assert model["best_val_acc_min"] == min(bests) and model["best_val_acc_max"] == max(bests)
    # normalization is what the article is about: on real images it learns faster than raw pixels, every seed
    assert doc["models"]["normalized"]["best_val_acc"] > doc["models"]["plain"]["best_val_acc"]
    assert doc["verdict"].startswith("normalized beats plain by ") and ", 2 of 2 seed(s); plain collapsed in " in doc["verdict"]
    assert len(doc["check"]) == 4 and all(layer["status"] == "pass" for layer in doc["check"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "epoch 2/2" in result.stderr  # progress goes to stderr in json mode
    assert any(f.name.endswith(".npz") for f in (tmp_path / "cache").iterdir())  # decoded once, kept by hash


def test_text_summary_table():
    result = normlint("smoke", "--epochs", "1", "--subset", "500", "--no-check", "--no-cache", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "500 train / 1000 test images" in result.stdout
    assert "plain val_acc" in result.stdout and "normalized val_acc" in result.stdout
    assert "normalized: best val_acc " in result.stdout and " over 2 seed(s) [0, 1]" in result.stdout
    assert "\nverdict: normalized " in result.stdout


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
    seeds = normlint("smoke", "--seeds", "0")
    assert seeds.returncode == 2 and seeds.stderr.strip() == "normlint: error: --seeds must be at least 1"


def test_plot_into_a_missing_folder_fails_before_training(tmp_path: Path):
    result = normlint("smoke", "--plot", str(tmp_path / "nope" / "c.png"), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"normlint: error: --plot {tmp_path / 'nope' / 'c.png'}: folder {tmp_path / 'nope'} does not exist"
    assert "epoch" not in result.stderr + result.stdout  # nothing was trained


def test_decode_cache_is_keyed_by_the_archive_bytes(tmp_path: Path, monkeypatch):
    """A changed archive under the same name is decoded anew, never served from the cache."""
    import shutil
    import tarfile

    from normlint.runtime import data

    monkeypatch.setenv("NORMLINT_CACHE_DIR", str(tmp_path / "cache"))
    src = Path(data.__file__).resolve().parent.parent / "data" / data.EMBEDDED
    archive = tmp_path / "cifar.tar.gz"
    shutil.copy(src, archive)
    first = data.load_cifar(str(archive))
    again = data.load_cifar(str(archive))
    assert (again.x_train == first.x_train).all() and len(list((tmp_path / "cache").glob("*.npz"))) == 1
    with tarfile.open(src) as tar, tarfile.open(archive, "w:gz") as out:  # the same layout, one test image fewer
        dropped = False
        for member in tar:
            if member.isfile() and "/test/" in f"/{member.name}" and not dropped:
                dropped = True
                continue
            out.addfile(member, tar.extractfile(member) if member.isfile() else None)
    changed = data.load_cifar(str(archive))
    assert len(changed.x_test) == len(first.x_test) - 1
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_collapse_and_verdict_are_judged_per_seed():
    from normlint.runtime.smoke_report import collapsed, model_summary, run_summary, verdict

    def hist(accs, losses):
        return [{"epoch": i + 1, "acc": a, "val_acc": a, "loss": v} for i, (a, v) in enumerate(zip(accs, losses))]

    dead = hist([0.1, 0.1, 0.1], [4.8872, 4.8872, 4.8872])
    slow_start = hist([0.1, 0.1, 0.31], [2.31, 2.30, 1.9])
    assert collapsed(dead, 10) and not collapsed(slow_start, 10)
    assert not collapsed(hist([0.1], [4.9]), 10)  # one epoch cannot tell
    assert collapsed(hist([0.1], [float("nan")]), 10)
    plain = model_summary([run_summary(0, dead, 10), run_summary(1, hist([0.2, 0.4], [2.0, 1.6]), 10)])
    norm = model_summary([run_summary(0, hist([0.4, 0.6], [1.5, 1.1]), 10), run_summary(1, hist([0.3, 0.35], [1.7, 1.6]), 10)])
    assert plain["collapsed"] == 1 and norm["collapsed"] == 0
    assert verdict({"plain": plain, "normalized": norm}) == (
        "normalized beats plain by 22.5 points of best val_acc (mean), 1 of 2 seed(s); plain collapsed in 1, normalized in 0"
    )
