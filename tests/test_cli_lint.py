"""`normlint lint` and the flake8 plugin as a user runs them: exit codes, noqa, bad files, processes."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from normlint.lint.rules import ALL_RULES
from tests.helpers import NOT_FIXED, FIXTURES, flake8, normlint

PY = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
BAD = "import keras\nm = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "clean.py").write_text("import keras\nm = keras.Sequential([keras.layers.Dense(1)])\n")
    return tmp_path


def test_exit_codes(project: Path):
    assert normlint("lint", str(project / "clean.py")).returncode == 0
    found = normlint("lint", str(project))
    assert found.returncode == 1
    assert f"{project / 'bad.py'}:2:23: NL101 Dropout feeds" in found.stdout
    missing = normlint("lint", str(project / "nope.py"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[0] == f"normlint: error: no such file or directory: {project / 'nope.py'}"
    assert "Traceback" not in missing.stderr
    usage = normlint("lint", "--format", "xml", str(project))
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    jobs = normlint("lint", "-j", "0", str(project))
    assert jobs.returncode == 2 and jobs.stderr.strip() == "normlint: error: -j/--jobs must be at least 1, got 0"


def test_nothing_to_lint_exits_zero_with_a_message(tmp_path: Path):
    none = normlint("lint")
    assert none.returncode == 0 and "no paths given" in none.stderr
    (tmp_path / "notes.txt").write_text("hello")
    empty = normlint("lint", str(tmp_path))
    assert empty.returncode == 0 and "no Python files or notebooks found" in empty.stderr
    (tmp_path / "a.py").write_text(BAD)
    filtered = normlint("lint", "--select", "NL7", str(tmp_path))
    assert filtered.returncode == 0 and filtered.stdout == ""


def test_unparsable_file_is_one_finding_and_the_run_goes_on(project: Path):
    (project / "broken.py").write_text("from keras import layers\nBatchNormalization(axis=0\n")
    result = normlint("lint", str(project))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    broken = [line for line in lines if "broken.py" in line]
    assert len(broken) == 1 and broken[0].endswith(f"broken.py:2:19: NL000 cannot parse ({PY}): '(' was never closed")
    assert any("bad.py" in line and "NL101" in line for line in lines)
    assert "Traceback" not in result.stderr


def test_undecodable_file_is_a_finding(project: Path):
    (project / "latin.py").write_bytes(b"x = '\xe9'  # BatchNormalization(axis=0)\n")
    result = normlint("lint", str(project / "latin.py"))
    assert result.returncode == 1 and "NL000 cannot read" in result.stdout


def test_noqa_in_the_cli_and_in_flake8(tmp_path: Path):
    src = textwrap.dedent(
        """\
        import keras
        a = keras.layers.BatchNormalization(axis=0)  # noqa: NL201
        b = keras.layers.BatchNormalization(axis=0, momentum=0.1)  # noqa: NL601
        c = keras.layers.BatchNormalization(axis=0)  # noqa
        d = keras.layers.BatchNormalization(axis=0)
        """
    )
    path = tmp_path / "m.py"
    path.write_text(src)
    cli = normlint("lint", str(path)).stdout.splitlines()
    f8 = flake8("--select", "NL", str(path)).stdout.splitlines()
    assert [line.split(": ")[1][:5] for line in cli] == ["NL201", "NL201"]
    assert [line.split(":")[1] for line in cli] == ["3", "5"]
    assert sorted(cli) == sorted(f8)


def test_select_and_ignore_prefixes():
    all_codes = json.loads(normlint("lint", "--format", "json", *NOT_FIXED, str(FIXTURES)).stdout)["findings"]
    only_nl1 = json.loads(normlint("lint", "--format", "json", "--select", "NL1", *NOT_FIXED, str(FIXTURES)).stdout)["findings"]
    no_nl4 = json.loads(normlint("lint", "--format", "json", "--ignore", "NL4,NL70", *NOT_FIXED, str(FIXTURES)).stdout)["findings"]
    assert only_nl1 and all(f["code"].startswith("NL1") for f in only_nl1)
    assert len(only_nl1) == sum(f["code"].startswith("NL1") for f in all_codes)
    assert no_nl4 and not any(f["code"].startswith(("NL4", "NL70")) for f in no_nl4)
    assert len(no_nl4) == sum(not f["code"].startswith(("NL4", "NL70")) for f in all_codes)


def test_parallel_jobs_give_the_same_report():
    one = normlint("lint", "-j", "1", *NOT_FIXED, str(FIXTURES))
    two = normlint("lint", "-j", "2", *NOT_FIXED, str(FIXTURES))
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout


def test_flake8_plugin_is_registered():
    result = flake8("--version")
    assert "normlint" in result.stdout


@pytest.mark.slow
def test_stdlib_lints_without_a_crash():
    stdlib = sysconfig.get_paths()["stdlib"]
    result = normlint("lint", "-j", "2", "--format", "json", stdlib, timeout=900)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["files"] > 1000
    internal = [f for f in doc["findings"] if f["code"] == "NL000" and "cannot parse" not in f["message"] and "cannot read" not in f["message"]]
    assert internal == []


def test_rules_and_explain():
    listing = normlint("rules")
    assert listing.returncode == 0
    lines = listing.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [r.code for r in ALL_RULES] and len(lines) == len(ALL_RULES) >= 23
    assert "NL101  dropout-before-batchnorm" in listing.stdout
    page = normlint("explain", "nl702")
    assert page.returncode == 0 and page.stdout.startswith("# NL702 sigmoid-with-categorical-loss")
    bad = normlint("explain", "NL999")
    assert bad.returncode == 2 and bad.stderr.startswith("normlint: error: unknown rule")


def test_module_entry_point_matches_console_script():
    assert Path(sys.executable).exists()
    assert normlint("--version").stdout.startswith("normlint ")


def test_the_command_leaves_its_whole_report_behind_a_file_or_a_closed_pipe(tmp_path: Path):
    """The `normlint` command exits without tearing the interpreter down (cli.run): what it wrote is flushed
    first, to a file as to a pipe, and a reader that stops early (`| head -1`) gets no traceback."""
    body = "".join(f"x{i} = layers.Dropout(0.5)(x)\nx{i} = layers.BatchNormalization()(x{i})\n" for i in range(1000))
    model = tmp_path / "many.py"
    model.write_text("from keras import layers\n" + body)
    out = tmp_path / "report.txt"
    with out.open("w") as fh:
        done = subprocess.run([sys.executable, "-m", "normlint", "lint", str(model)], stdout=fh, stderr=subprocess.PIPE,
                              text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = out.read_text().splitlines()
    assert sum(": NL101 " in line for line in lines) == 1000 and len(out.read_text()) > 1 << 17  # beyond any buffer, the pipe's too
    pipe = subprocess.run(f"{shlex.quote(sys.executable)} -m normlint lint {shlex.quote(str(model))} | head -1",
                          shell=True, capture_output=True, text=True, timeout=300)
    assert pipe.stdout.count("\n") == 1 and "NL101" in pipe.stdout
    assert "Traceback" not in pipe.stderr and "Exception ignored" not in pipe.stderr


@pytest.mark.parametrize("argv", [["rules"], ["lint", "--no-such-option"]])
def test_the_collector_is_back_on_after_the_command_line_is_read(argv: list[str], capsys) -> None:
    """main() turns the cyclic collector off while the parser imports the rules, and on again, even when
    the command line is refused."""
    import gc

    from normlint import cli

    assert gc.isenabled()
    try:
        cli.main(argv)
    except SystemExit:
        pass
    assert gc.isenabled()
