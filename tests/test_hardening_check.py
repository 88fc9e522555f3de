"""`normlint check` on model files that misbehave (issue 8, runtime side): they spawn processes, leave
threads running, live in packages, eat memory, exit or die; and the arguments users get wrong.
Every case runs the real command on a real file."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, normlint

pytestmark = pytest.mark.slow
pytest.importorskip("keras", reason="the runtime extra is not installed")
GOOD = FIXTURES / "runtime" / "good_lenet5_norm.py"
TINY = textwrap.dedent(
    """\
    import keras

    def build_model():
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, use_bias=False),
                                 keras.layers.BatchNormalization()])
    """
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def survivors(marker: str) -> str:
    return subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.strip()


def test_timeout_ends_every_process_the_model_file_started(tmp_path: Path):
    marker = f"normlint-test-{uuid.uuid4().hex}"
    path = write(tmp_path, "spawner.py", f"""\
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
        time.sleep(600)
        """)
    result = normlint("check", "--timeout", "5", "--no-lint", str(path), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == ("normlint: error: spawner.py did not finish importing and checking within 5 s "
                                     "(--timeout); the model process and every process it started were stopped")
    time.sleep(0.5)
    assert survivors(marker) == ""
    # and after a normal end too: a server the model file started does not outlive the check
    marker2 = f"normlint-test-{uuid.uuid4().hex}"
    daemon = write(tmp_path, "daemon.py", textwrap.dedent(f"""\
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker2}"])
        """) + TINY)
    assert normlint("check", "--no-lint", str(daemon), timeout=120).returncode == 0
    time.sleep(0.5)
    assert survivors(marker2) == ""


def test_a_thread_left_running_does_not_turn_a_result_into_a_timeout(tmp_path: Path):
    path = write(tmp_path, "threads.py", "import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n" + TINY)
    start = time.monotonic()
    result = normlint("check", "--no-lint", "--timeout", "60", str(path), timeout=120)
    assert result.returncode == 0 and result.stdout.rstrip().endswith("all checks passed"), result.stderr[-2000:]
    assert time.monotonic() - start < 45


def test_a_model_file_inside_a_package_with_relative_imports(tmp_path: Path):
    write(tmp_path, "mypkg/__init__.py", "")
    write(tmp_path, "mypkg/nets/__init__.py", "")
    write(tmp_path, "mypkg/nets/blocks.py", """\
        from keras import layers

        def block(units):
            return [layers.Dense(units, use_bias=False), layers.BatchNormalization(), layers.ReLU()]
        """)
    model = write(tmp_path, "mypkg/nets/model.py", """\
        import keras
        from .blocks import block
        from ..nets import blocks as again

        def build_model():
            return keras.Sequential([keras.Input((8,))] + block(16) + again.block(4) + [keras.layers.Dense(1)])
        """)
    rc, doc = 0, None
    result = normlint("check", "--format", "json", str(model), timeout=300)
    rc, doc = result.returncode, json.loads(result.stdout)
    assert rc == 0 and doc["error"] is None and doc["failed"] == 0, result.stderr[-2000:]
    assert len([la for la in doc["models"][0]["layers"] if not la["layer"].endswith("(whole model)")]) == 2


def test_several_files_each_reported_and_errors_always_documented(tmp_path: Path):
    raises = write(tmp_path, "raises.py", "raise RuntimeError('no GPU found')\n")
    nomodel = write(tmp_path, "nomodel.py", "x = 1\n")
    result = normlint("check", "--format", "json", "--no-lint", str(GOOD), str(raises), str(nomodel), timeout=600)
    assert result.returncode == 2  # one file could not be checked
    doc = json.loads(result.stdout)
    assert [Path(d["file"]).name for d in doc["files"]] == ["good_lenet5_norm.py", "raises.py", "nomodel.py"]
    good, bad, none = doc["files"]
    assert good["error"] is None and good["failed"] == 0 and good["models"]
    assert bad["error"] == {"kind": "raised", "message": "raises.py raised RuntimeError: no GPU found"}
    assert none["error"]["kind"] == "no_model" and doc["errors"] == 2
    single = normlint("check", "--format", "json", str(raises), timeout=300)
    assert single.returncode == 2 and json.loads(single.stdout)["error"]["message"] == "raises.py raised RuntimeError: no GPU found"
    gh = normlint("check", "--format", "github", "--timeout", "3", str(write(tmp_path, "slow.py", "import time\ntime.sleep(60)\n")), timeout=120)
    assert gh.returncode == 2
    assert gh.stdout.startswith(f"::error file={tmp_path / 'slow.py'},line=1,title=normlint check%3A timeout::slow.py did not finish")
    text = normlint("check", "--no-lint", str(GOOD), str(GOOD), timeout=300)  # the same file twice: once
    assert text.returncode == 0 and text.stdout.count("normlint check ") == 1


def test_memory_limit_stops_a_hungry_model_file(tmp_path: Path):
    hog = write(tmp_path, "hog.py", "import numpy as np\nblocks = []\nwhile True:\n    blocks.append(np.ones(25_000_000))\n")
    result = normlint("check", "--max-memory", "600M", "--no-lint", str(hog), timeout=120)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.startswith("normlint: error: hog.py: the model process used ") and message.endswith(
        "of memory, over --max-memory 600 MiB; it and every process it started were stopped "
        "(raise --max-memory, or give a smaller --batch-size)")
    for bad in ("lots", "10M"):
        usage = normlint("check", "--max-memory", bad, str(GOOD))
        assert usage.returncode == 2 and usage.stderr.count("\n") == 1 and "--max-memory" in usage.stderr


def test_processes_that_exit_or_die_are_explained(tmp_path: Path):
    exits = write(tmp_path, "exits.py", "import os\nos._exit(3)\n")
    result = normlint("check", "--no-lint", str(exits), timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == (
        "normlint: error: exits.py: the model process exited with code 3 before it reported and printed nothing "
        "(does the model file call os._exit(), or crash the interpreter?)")
    killed = write(tmp_path, "killed.py", "import os, signal\nprint('loading weights')\nos.kill(os.getpid(), signal.SIGKILL)\n")
    result = normlint("check", "--no-lint", str(killed), timeout=120)
    assert result.returncode == 2 and result.stderr.strip() == (
        "normlint: error: killed.py: the model process was killed by SIGKILL (out of memory? the kernel's OOM killer "
        "sends SIGKILL) before it reported; its last words: loading weights")


def test_arguments_are_validated_before_anything_runs(tmp_path: Path):
    for args, message in [
        (("--batch-size", "0"), "--batch-size must be at least 2 (batch-independence compares samples), got 0"),
        (("--batch-size", "-5"), "--batch-size must be at least 2 (batch-independence compares samples), got -5"),
        (("--input-shape", "32,,32"), "--input-shape must be integers like 32,32,3, got '32,,32'"),
        (("--input-shape", "32,0,3"), "--input-shape must be positive integers like 32,32,3, got '32,0,3'"),
        (("--timeout", "0"), "--timeout must be positive, got 0"),
    ]:
        result = normlint("check", *args, str(GOOD))
        assert result.returncode == 2 and result.stderr.strip() == f"normlint: error: {message}", args
    wrong = normlint("check", "--input-shape", "28,28,1", str(GOOD), timeout=300)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    assert wrong.stderr.strip() == ("normlint: error: --input-shape 28,28,1 does not match the input shape of build_model(), "
                                    "32,32,3: leave --input-shape out, or give the model's")


def test_help_says_check_runs_the_code():
    text = " ".join(normlint("check", "--help").stdout.split())
    assert "IMPORT AND RUN it in a child process (with your user's rights: it is not a sandbox" in text
    readme = " ".join((FIXTURES.parent / "README.md").read_text().split())
    assert "imports and runs the model file with your rights" in readme
