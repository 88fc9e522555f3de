"""The worker pool of `normlint lint -j N` (normlint.lint.parallel), on real forked processes: every file
comes back once, a worker that dies costs only the files it held, an error in a worker is the error the
serial path raises, and no child is left behind."""

from __future__ import annotations

import os
import signal
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
