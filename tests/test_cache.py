"""`normlint lint --cache-dir`: a warm run reports exactly what a cold one does, and nothing stale."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import normlint

MODEL = "from keras import layers\nm = keras.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])\n"
FIXED = "from keras import layers\nm = keras.Sequential([layers.BatchNormalization(), layers.Dropout(0.5)])\n"


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.json"))


def test_warm_runs_match_cold_runs_and_every_input_is_in_the_key(tmp_path: Path):
    cache = tmp_path / "cache"
    (tmp_path / "m.py").write_text(MODEL)
    (tmp_path / "clean.py").write_text("x = 1\n")
    cold = normlint("lint", "--cache-dir", str(cache), str(tmp_path / "m.py"), str(tmp_path / "clean.py"))
    assert cold.returncode == 1 and "NL101" in cold.stdout and len(_entries(cache)) == 2
    warm = normlint("lint", "--cache-dir", str(cache), str(tmp_path / "m.py"), str(tmp_path / "clean.py"))
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert len(_entries(cache)) == 2  # read, not written again
    # the configuration is in the key: another selection is another result
    other = normlint("lint", "--cache-dir", str(cache), "--select", "NL2", str(tmp_path / "m.py"))
    assert other.returncode == 0 and other.stdout == ""
    # and so are the text and the report's need for fix edits
    as_json = json.loads(normlint("lint", "--cache-dir", str(cache), "--format", "json", str(tmp_path / "m.py")).stdout)
    assert as_json["findings"][0]["fix"]["edits"]
    (tmp_path / "m.py").write_text(FIXED)
    assert normlint("lint", "--cache-dir", str(cache), str(tmp_path / "m.py")).returncode == 0


def test_a_corrupt_or_unwritable_cache_is_a_miss_never_an_error(tmp_path: Path):
    cache = tmp_path / "cache"
    (tmp_path / "m.py").write_text(MODEL)
    first = normlint("lint", "--cache-dir", str(cache), str(tmp_path / "m.py"))
    for entry in _entries(cache):
        entry.write_text("{not json")
    again = normlint("lint", "--cache-dir", str(cache), str(tmp_path / "m.py"))
    assert (again.returncode, again.stdout, again.stderr) == (first.returncode, first.stdout, first.stderr)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    result = normlint("lint", "--cache-dir", str(blocked), str(tmp_path / "m.py"))
    assert (result.returncode, result.stdout) == (first.returncode, first.stdout) and "Traceback" not in result.stderr


def test_the_default_jobs_lint_many_files_as_one_process_does(tmp_path: Path):
    for i in range(40):
        (tmp_path / f"m{i:02d}.py").write_text(MODEL if i % 2 else FIXED)
    auto = normlint("lint", str(tmp_path))
    serial = normlint("lint", "-j", "1", str(tmp_path))
    assert auto.returncode == serial.returncode == 1
    assert auto.stdout == serial.stdout and auto.stdout.count("NL101") == 20
