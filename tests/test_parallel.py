"""The worker pool of `normlint lint -j N` (normlint.lint.parallel), on real forked processes: every file
comes back once, a worker that dies costs only the files it held, an error in a worker is the error the
serial path raises, and no child is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from normlint.lint.engine import Finding
from normlint.lint.parallel import DIED, lint_parallel


def files(tmp_path: Path, n: int) -> list[str]:
    out = []
    for i in range(n):
        path = tmp_path / f"m{i:03d}.py"
        path.write_text("x = 1\n" * (i % 7 + 1))  # sizes differ: the pool hands out the largest first
        out.append(str(path))
    return out


def one_finding(path: str) -> list[Finding]:
    return [Finding(path, 1, 1, "NL999", f"NL999 linted in {os.getpid()}")]


def no_children_left() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


@pytest.mark.parametrize("jobs", [2, 3])
def test_every_file_once_in_worker_processes(tmp_path: Path, jobs: int):
    paths = files(tmp_path, 200)
    results = lint_parallel(paths, one_finding, jobs)
    assert sorted(results) == sorted(paths)
    assert all(len(found) == 1 and found[0].path == path for path, found in results.items())
    pids = {found[0].message.split()[-1] for found in results.values()}
    assert str(os.getpid()) not in pids and 1 < len(pids) <= jobs
    assert no_children_left()


def test_only_the_files_that_kill_their_worker_are_lost(tmp_path: Path):
    paths = files(tmp_path, 60)
    killers = {paths[5], paths[40]}

    def work(path: str) -> list[Finding]:
        if path in killers:
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
        return one_finding(path)

    results = lint_parallel(paths, work, 2)
    assert sorted(results) == sorted(paths)
    for path in killers:
        assert results[path] == [Finding(path, 1, 1, "NL000", DIED)]
    assert all(found[0].code == "NL999" for path, found in results.items() if path not in killers)
    assert no_children_left()


def test_an_error_in_a_worker_is_raised_as_the_serial_path_raises_it(tmp_path: Path):
    paths = files(tmp_path, 40)

    def work(path: str) -> list[Finding]:
        if path == paths[17]:
            raise ValueError(f"cannot lint {path}")
        return one_finding(path)

    with pytest.raises(ValueError, match="cannot lint .*m017.py"):
        lint_parallel(paths, work, 2)
    assert no_children_left()  # the other worker was stopped, not left running


def run_child(code: str, tmp_path: Path) -> list[str]:
    """``code`` in a fresh Python (the limits it sets stay there), after ``paths`` and ``one_finding`` are defined."""
    paths = files(tmp_path, 40)
    prelude = (f"import os, resource\nfrom normlint.lint.engine import Finding\nfrom normlint.lint.parallel import lint_parallel\n"
               f"paths = {paths!r}\n"
               "def one_finding(path):\n    return [Finding(path, 1, 1, 'NL999', f'NL999 linted in {os.getpid()}')]\n")
    result = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_no_process_to_be_had_lints_in_this_process(tmp_path: Path):
    out = run_child("""
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        try:
            os.pipe()
            raise SystemExit("the limit did not take")
        except OSError:
            pass
        results = lint_parallel(paths, one_finding, 2)
        assert sorted(results) == sorted(paths)
        print(*{found[0].message.split()[-1] == str(os.getpid()) for found in results.values()})
        """, tmp_path)
    assert out == ["True"]  # every file, all in the parent: as -j 1 would


def test_pipes_numbered_above_1023_are_read(tmp_path: Path):
    """select.select() refuses descriptors above 1023: a process holding many files open (an editor, a
    language server) must still get its results."""
    out = run_child("""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1200:
            print("skip")
            raise SystemExit(0)
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
        held = [os.dup(0)]
        while held[-1] < 1100:  # every lower descriptor taken: a pipe now gets 1100 and up
            held.append(os.dup(0))
        r, w = os.pipe()
        assert r > 1023, r
        os.close(r), os.close(w)
        results = lint_parallel(paths, one_finding, 2)
        assert sorted(results) == sorted(paths)
        print(len({found[0].message.split()[-1] for found in results.values()} - {str(os.getpid())}))
        """, tmp_path)
    if out == ["skip"]:
        pytest.skip("the hard limit on open files is below 1200")
    assert out == ["2"]  # both workers, whose pipes are numbered above 1023
