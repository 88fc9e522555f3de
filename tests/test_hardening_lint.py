"""Nothing a repository can contain crashes, hangs or exhausts `normlint lint` or the flake8 plugin
(issue 8, static side). Each test is built from a reported repro and runs the real command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from tests.helpers import ROOT, flake8, normlint, run

PY = f"Python {sys.version_info[0]}.{sys.version_info[1]}"
BAD = "import keras\nm = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n"


def nested_sum(terms: int) -> str:
    """The repro: a deep expression, then two findings with the same source text (found by text search
    only once each, so positions come from libcst's recursive PositionProvider)."""
    return ("from keras import layers\nHELP = (" + " + ".join(repr(str(i)) for i in range(terms)) + ")\n"
            "m = layers.BatchNormalization(axis=0)\nm2 = layers.BatchNormalization(axis=0)\n")


def test_deeply_nested_valid_code_is_linted_not_crashed(tmp_path: Path):
    path = tmp_path / "c.py"
    path.write_text(nested_sum(400))
    result = normlint("lint", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line.split(": ")[1][:5] for line in result.stdout.splitlines()] == ["NL201", "NL201"]
    assert f"{path}:3:5: NL201" in result.stdout and f"{path}:4:6: NL201" in result.stdout
    # the flake8 route (pyflakes itself gives up on this file under flake8, so the plugin is run directly)
    from normlint.lint.flake8_plugin import Plugin

    lines = path.read_text().splitlines(keepends=True)
    assert [(line, code.split()[0]) for line, _, code, _ in Plugin(None, lines, str(path)).run()] == [(3, "NL201"), (4, "NL201")]


def test_nesting_beyond_any_stack_is_one_nl000_and_the_run_goes_on(tmp_path: Path):
    (tmp_path / "deep.py").write_text(nested_sum(20000))
    (tmp_path / "bad.py").write_text(BAD)
    result = normlint("lint", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    deep = [line for line in result.stdout.splitlines() if "deep.py" in line]
    assert deep == [f"{tmp_path / 'deep.py'}:1:1: NL000 cannot parse ({PY}): RecursionError: maximum recursion depth exceeded during compilation"]
    assert "bad.py:2:23: NL101" in result.stdout


def generated_model(size: int) -> str:
    lines = ["from keras import layers", "import keras", "model = keras.Sequential()"]
    total, i = 0, 0
    while total < size:
        line = f"model.add(layers.Conv2D({i % 512 + 1}, 3, activation='relu', name='conv_{i}'))"
        if i % 11 == 0:
            line += f"\nmodel.add(layers.Dropout(0.5, name='do_{i}'))\nmodel.add(layers.BatchNormalization(name='bn_{i}'))"
        lines.append(line)
        total += len(line) + 1
        i += 1
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_a_5mb_generated_model_file_is_bounded_in_time_and_memory(tmp_path: Path):
    path = tmp_path / "generated.py"
    path.write_text(generated_model(5 << 20))
    driver = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "r = subprocess.run([sys.executable, '-m', 'normlint', 'lint', sys.argv[1]], capture_output=True, text=True); "
              "print(r.returncode, round(time.perf_counter() - t, 1), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
              "print(r.stdout.strip())")
    result = run([sys.executable, "-c", driver, str(path)], timeout=120)
    head, report = result.stdout.split("\n", 1)
    rc, seconds, peak_kb = head.split()
    assert rc == "1" and float(seconds) < 60 and int(peak_kb) < 600 * 1024, head
    assert report.strip() == (f"{path}:1:1: NL000 not analysed: 5.0 MiB is over max-file-size 512 KiB "
                              "(raise it with --max-file-size or [tool.normlint] max-file-size)")
    # the limit is a setting: raised, a 200 KB file is analysed; bad values are usage errors
    small = tmp_path / "small.py"
    small.write_text(generated_model(200_000))
    assert "NL101" in normlint("lint", str(small)).stdout
    assert "NL000 not analysed" in normlint("lint", "--max-file-size", "100K", str(small)).stdout
    (tmp_path / "pyproject.toml").write_text('[tool.normlint]\nmax-file-size = "100K"\n')
    assert "NL000 not analysed" in normlint("lint", str(small)).stdout
    assert "NL000 not analysed" in flake8("--select", "NL", str(small), cwd=tmp_path).stdout
    bad = normlint("lint", "--max-file-size", "lots", str(small))
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "normlint: error: --max-file-size must be a size like 512K or 1M (0: no limit), got 'lots'")


@pytest.mark.slow
def test_a_model_file_just_under_the_size_limit_with_hundreds_of_findings_is_linted_and_fixed(tmp_path: Path):
    """The repro: 500 KB of `model.add(...)` with ~580 Dropout -> BatchNormalization findings took 160 s
    (NL101's fix walked the whole module once per finding); it is one walk per file now, on either tree."""
    path = tmp_path / "generated.py"
    path.write_text(generated_model(500_000))
    driver = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
              "r = subprocess.run([sys.executable, '-m', 'normlint', *sys.argv[2:], sys.argv[1]], capture_output=True, text=True); "
              "print(r.returncode, round(time.perf_counter() - t, 1), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
              "print(r.stdout.count('NL101'))")

    def timed(*args: str) -> tuple[float, int]:
        result = run([sys.executable, "-c", driver, str(path), *args], timeout=300)
        head, count = result.stdout.split("\n", 1)
        rc, seconds, peak_kb = head.split()
        assert rc == "1" and int(peak_kb) < 1024 * 1024, (args, head, result.stderr[-500:])
        return float(seconds), int(count)

    for fmt in ("text", "json"):  # the fast tree, and libcst's with every fix placed
        seconds, count = timed("lint", "--format", fmt)
        assert seconds < 60 and count > 500, (fmt, seconds, count)
    # one nn.Sequential(...) of 1,200 Dropout -> BatchNorm2d pairs: a fix rewrites the whole call, so one per call
    modules = "".join("    nn.Conv2d(8, 8, 3),\n    nn.Dropout(0.3),\n    nn.BatchNorm2d(8),\n" for _ in range(1200))
    path.write_text(f"import torch.nn as nn\nnet = nn.Sequential(\n{modules})\n")
    seconds, count = timed("lint", "--format", "json")
    assert seconds < 60 and count == 1200, (seconds, count)
    findings = json.loads(normlint("lint", "--format", "json", str(path)).stdout)["findings"]
    assert len(findings) == 1200 and sum(f["fix"] is not None for f in findings) == 1
    # one nn.Module of 4,000 Conv2d -> BatchNorm2d pairs (each a finding): the model's members, NL102's
    # applicability and NL402's prefilter were each a scan per layer or per finding
    attrs = "".join(f"        self.c{i} = nn.Conv2d(8, 8, 3)\n        self.b{i} = nn.BatchNorm2d(8)\n" for i in range(4000))
    calls = "".join(f"        x = self.b{i}(self.c{i}(x))\n" for i in range(4000))
    path.write_text("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                    f"{attrs}\n    def forward(self, x):\n{calls}        return x\n")
    seconds, count = timed("lint", "--max-file-size", "0")
    assert seconds < 60 and count == 0, (seconds, count)
    path.write_text(generated_model(100_000))
    before = timed("lint")[1]
    seconds, after = timed("lint", "--fix", "--unsafe-fixes")  # at most 10 rounds of libcst's path
    assert seconds < 120 and after < before, (seconds, before, after)
    compile(path.read_text(), str(path), "exec")


KILLER = textwrap.dedent(
    """\
    import os, signal, sys
    import normlint.lint.files as files

    real = files.lint_file

    def lint_file(path, config, **options):
        if path.endswith("killme.py"):  # this worker is killed as the OOM killer would kill it
            os.kill(os.getpid(), signal.SIGKILL)
        return real(path, config, **options)

    files.lint_file = lint_file
    from normlint.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def test_a_dead_worker_is_reported_never_waited_for(tmp_path: Path):
    for i in range(30):
        (tmp_path / f"m{i:02d}.py").write_text(BAD)
    (tmp_path / "killme.py").write_text(BAD)
    result = run([sys.executable, "-c", KILLER, "lint", "-j", "2", str(tmp_path)], timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert f"{tmp_path / 'killme.py'}:1:1: NL000 not analysed: the worker process linting this file died " \
           "(killed by a signal, or out of memory?)" in lines
    assert sum("NL101" in line for line in lines) == 30  # every other file was linted all the same


def test_fifo_and_device_links_are_skipped_and_said(tmp_path: Path):
    (tmp_path / "good.py").write_text(BAD)
    os.mkfifo(tmp_path / "pipe.py")
    os.symlink("/dev/zero", tmp_path / "zero.py")
    os.symlink(tmp_path / "nowhere.py", tmp_path / "broken.py")
    result = normlint("lint", str(tmp_path), timeout=60)
    assert result.returncode == 1 and "good.py:2:23: NL101" in result.stdout
    assert f"normlint: skipped {tmp_path / 'pipe.py'}: a FIFO, not a regular file" in result.stderr
    assert f"normlint: skipped {tmp_path / 'zero.py'}: a character device, not a regular file" in result.stderr
    assert f"normlint: skipped {tmp_path / 'broken.py'}: a broken symbolic link" in result.stderr
    named = normlint("lint", str(tmp_path / "pipe.py"), timeout=60)  # named on the command line: the same
    assert named.returncode == 0 and "a FIFO, not a regular file" in named.stderr


def test_missing_paths_duplicates_and_unreadable_folders(tmp_path: Path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text(BAD)
    result = normlint("lint", str(tmp_path / "nope.py"), str(tmp_path), str(tmp_path / "a.py"), str(tmp_path / "sub"))
    assert result.returncode == 2  # an error among files: exit 2, but only after everything else was linted
    assert result.stderr.splitlines()[0] == f"normlint: error: no such file or directory: {tmp_path / 'nope.py'}"
    assert sorted(line.split(":")[0] for line in result.stdout.splitlines()) == [str(tmp_path / "a.py"), str(tmp_path / "sub" / "b.py")]
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to take root's right to read any folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "c.py").write_text(BAD)
    locked.chmod(0)
    try:  # root reads every folder: drop the capabilities that let it, as an ordinary user has none
        denied = run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-m", "normlint",
                      "lint", str(tmp_path)])
    finally:
        locked.chmod(0o755)
    assert denied.returncode == 2
    assert f"normlint: error: cannot read folder {locked}: Permission denied" in denied.stderr
    assert "a.py:2:23: NL101" in denied.stdout and "b.py:2:23: NL101" in denied.stdout


def test_unknown_or_empty_codes_are_usage_errors(tmp_path: Path):
    (tmp_path / "a.py").write_text(BAD)
    nope = normlint("lint", "--select", "NOPE", str(tmp_path))
    assert nope.returncode == 2 and nope.stderr.strip() == (
        "normlint: error: --select: unknown code 'NOPE' (normlint's codes are NL000 and the NLxxx of `normlint rules`)")
    empty = normlint("lint", "--select", "", str(tmp_path))
    assert empty.returncode == 2 and empty.stderr.strip() == "normlint: error: --select is empty: nothing would be checked"
    assert normlint("lint", "--ignore", "NL9", str(tmp_path)).returncode == 2
    assert normlint("lint", "--select", "nl1", str(tmp_path)).returncode == 1  # prefixes, any case, still fine
    for table in ('select = ["NL1O1"]', 'ignore = ["E501"]', 'select = []', '[tool.normlint.per-file-ignores]\n"x.py" = ["NL99"]'):
        (tmp_path / "pyproject.toml").write_text(f"[tool.normlint]\n{table}\n")
        bad = normlint("lint", str(tmp_path))
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr, (table, bad.stderr)


def test_a_non_table_tool_is_an_error_for_the_cli_and_a_warning_for_flake8(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("tool = 3\n")
    (tmp_path / "a.py").write_text(BAD)
    cli = normlint("lint", ".", cwd=tmp_path)
    assert cli.returncode == 2
    assert cli.stderr.strip() == f"normlint: error: {tmp_path / 'pyproject.toml'}: 'tool' must be a table, got int"
    f8 = flake8("--select", "NL", ".", cwd=tmp_path)
    assert "Traceback" not in f8.stderr and "./a.py:2:23: NL101" in f8.stdout
    assert f"normlint: warning: {tmp_path / 'pyproject.toml'}: 'tool' must be a table, got int; using the default configuration" in f8.stderr


def test_nl000_has_cpythons_message_and_position(tmp_path: Path):
    cases = {
        "py2.py": ("import keras\nprint \"x\"\n",
                   f"2:1: NL000 cannot parse ({PY}): Missing parentheses in call to 'print'. Did you mean print(...)?"),
        "tabs.py": ("import keras\nif True:\n        x = 1\n\ty = 2\n",
                    f"4:1: NL000 cannot parse ({PY}): TabError: inconsistent use of tabs and spaces in indentation"),
    }
    if sys.version_info < (3, 12):  # the running interpreter's grammar decides, keras words or not
        cases["pep695.py"] = ("import keras\ntype Alias = keras.layers.BatchNormalization\n", f"2:6: NL000 cannot parse ({PY}): invalid syntax")
        cases["plain695.py"] = ("type Alias = int\n", f"1:6: NL000 cannot parse ({PY}): invalid syntax")
    for name, (src, _) in cases.items():
        (tmp_path / name).write_text(src)
    result = normlint("lint", str(tmp_path))
    got = {Path(line.split(":")[0]).name: line.split(":", 1)[1] for line in result.stdout.splitlines()}
    assert got == {name: expected for name, (_, expected) in cases.items()}


def test_nl000_includes_the_compilers_errors_analysed_or_not(tmp_path: Path):
    """``return``/``break``/``await`` in the wrong place parse, and only CPython's code generator rejects
    them: a file some rule analyses (compiled from its tree) and a file no rule reads (compiled from its
    text) both get NL000. symtable would be cheaper and says nothing of them, which is why normlint
    compiles (benchmarks/bench_syntax_check.py times both)."""
    import symtable

    cases = {"ret.py": ("return 1\n", "'return' outside function"), "brk.py": ("break\n", "'break' outside loop"),
             "aw.py": ("await x\n", "'await' outside function")}
    for name, (body, message) in cases.items():
        symtable.symtable(body, name, "exec")  # no error before code generation
        (tmp_path / name).write_text(body)
        keras_code = "import keras\nfrom keras import layers\nx = layers.BatchNormalization(axis=0)(x)\n"
        (tmp_path / f"keras_{name}").write_text(keras_code + body)
    result = normlint("lint", str(tmp_path))
    got = {Path(line.split(":")[0]).name: line.split(":", 1)[1] for line in result.stdout.splitlines()
           if "NL000" in line}
    for name, (_, message) in cases.items():
        assert got[name] == f"1:1: NL000 cannot parse ({PY}): {message}"
        assert got[f"keras_{name}"] == f"4:1: NL000 cannot parse ({PY}): {message}"


def test_flake8_on_a_return_outside_a_function_reports_and_does_not_crash(tmp_path: Path):
    """flake8 hands plugins the ``ast`` tree of any file that parses, one the compiler refuses too (pyflakes
    says F706): a ``return`` at module level, bare or inside a module-level block, ended the flow with an
    exception that took flake8 down. Outside a function it is passed over; the rest is linted."""
    (tmp_path / "ret.py").write_text("return 5\n" + BAD)
    (tmp_path / "ret_in_if.py").write_text("import keras\nif keras:\n    return\n" + BAD.split("\n", 1)[1])
    result = flake8("--select", "NL", ".", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    found = sorted((Path(line.split(":")[0]).name, line.split(": ", 1)[1].split()[0]) for line in result.stdout.splitlines())
    assert found == [("ret.py", "NL101"), ("ret_in_if.py", "NL101")], result.stdout


def test_odd_file_names_are_safe_in_sarif_and_text(tmp_path: Path):
    names = ["hash#1.py", "my model.py", "100%.py", "new\nline.py"]
    for name in names:
        (tmp_path / name).write_text(BAD)
    sarif = json.loads(normlint("lint", "--format", "sarif", ".", cwd=tmp_path).stdout)
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"])
    assert uris == ["100%25.py", "hash%231.py", "my%20model.py", "new%0Aline.py"]
    text = normlint("lint", ".", cwd=tmp_path).stdout
    assert len(text.splitlines()) == 4 and "./new\\nline.py:2:23: NL101" in text


def test_standard_input_with_a_filename(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.normlint.per-file-ignores]\n"tests/*" = ["NL101"]\n')
    (tmp_path / "tests").mkdir()
    src = tmp_path / "tests" / "m.py"
    src.write_text(BAD)
    piped = run([sys.executable, "-m", "normlint", "lint", "-", "--stdin-filename", "pkg/model.py"],
                cwd=tmp_path, input=BAD)
    assert piped.returncode == 1 and piped.stdout.startswith("pkg/model.py:2:23: NL101 Dropout feeds")
    assert len(piped.stdout.splitlines()) == 1
    ignored = run([sys.executable, "-m", "normlint", "lint", "-", "--stdin-filename", str(src)], cwd=tmp_path, input=BAD)
    assert ignored.returncode == 0 and ignored.stdout == ""  # the file's configuration applies to its text
    anonymous = run([sys.executable, "-m", "normlint", "lint", "-"], cwd=tmp_path, input="import keras\nprint 1\n")
    assert anonymous.returncode == 1 and anonymous.stdout.startswith("<stdin>:2:1: NL000 cannot parse")
    mixed = normlint("lint", "-", str(src))
    assert mixed.returncode == 2 and "cannot be combined" in mixed.stderr
    with open("/dev/zero", "rb") as endless:  # an endless stream is cut, never read to the end
        zero = subprocess.run([sys.executable, "-m", "normlint", "lint", "-"], stdin=endless, capture_output=True,
                              text=True, timeout=60, cwd=tmp_path)
    assert zero.returncode == 2 and zero.stderr.strip() == "normlint: error: standard input is over the 64 MiB that normlint reads of one file"


def test_explain_nl000_and_help_texts():
    page = normlint("explain", "NL000")
    assert page.returncode == 0 and page.stdout.startswith("# NL000 file-not-analysed")
    assert (ROOT / "docs" / "rules" / "NL000.md").read_text() == page.stdout
    for command in ("lint", "check", "smoke"):
        text = normlint(command, "--help").stdout
        assert "Exit codes" in text or "exit" in text.lower(), command
        helpless = [line for line in text.splitlines() if line.startswith("  --") and line.strip().count(" ") == 0]
        assert helpless == [], (command, helpless)


WARNS = ('import keras\nx = 1\nif x is 1:\n    pattern = "\\d+"\nassert (x, "never false")\n'
         "m = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.BatchNormalization()])\n")


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_python_warnings_about_the_linted_code_are_not_printed(tmp_path: Path, jobs: str):
    """CPython warns while compiling such code ("is" with a literal, an always-true assert; invalid
    escapes from 3.12): those are not normlint's findings to print, and -W error must not turn them
    into NL000 (the grammar decides that, not the warning policy of normlint's own process)."""
    for i in range(30):
        (tmp_path / f"w{i:02d}.py").write_text(WARNS)
    with warnings.catch_warnings(record=True) as seen:  # the claim: the running Python warns about this code
        warnings.simplefilter("always")
        compile(WARNS, "w.py", "exec")
    assert any(w.category is SyntaxWarning for w in seen)
    for env in ({}, {"PYTHONWARNINGS": "error"}):
        result = normlint("lint", "-j", jobs, str(tmp_path), env=env)
        assert result.returncode == 1 and "Warning" not in result.stderr, result.stderr[-2000:]
        assert result.stdout.count("NL101") == 30 and "NL000" not in result.stdout
