"""Linting many files in worker processes, surviving workers that die.

A worker can die under the linter's feet (the OOM killer, a SIGKILL, a crash in a native extension).
``multiprocessing.Pool`` then waits forever; ``concurrent.futures`` notices and fails the pending work
with BrokenProcessPool. The files of failed work are tried again in a fresh pool, and when a round makes
no progress, each remaining file alone in its own process: a file that kills its worker even then is one
NL000 finding, and every other file is still linted.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from normlint.lint.engine import Finding

Work = Callable[[str], list[Finding]]


def _chunk_work(paths: list[str], work: Work) -> list[list[Finding]]:
    return [work(p) for p in paths]


def _round(files: list[str], work: Work, jobs: int, chunk: int) -> tuple[dict[str, list[Finding]], list[str]]:
    """(results of the files that came back, files whose worker died or whose pool broke)."""
    import multiprocessing

    done: dict[str, list[Finding]] = {}
    failed: list[str] = []
    chunks = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = []
        for c in chunks:
            try:
                futures.append((c, pool.submit(_chunk_work, c, work)))
            except BrokenProcessPool:  # a worker died while the work was still being handed out
                failed.extend(c)
        for paths, future in futures:
            try:
                for path, result in zip(paths, future.result()):
                    done[path] = result
            except BrokenProcessPool:
                failed.extend(paths)
    return done, failed


def lint_parallel(files: list[str], work: Work, jobs: int) -> dict[str, list[Finding]]:
    """``work(path)`` for every file, in ``jobs`` processes; never hangs on a dead worker."""
    chunk = max(1, min(16, len(files) // (jobs * 8)))
    results: dict[str, list[Finding]] = {}
    pending = list(files)
    while pending and not (jobs == 1 and chunk == 1):
        done, failed = _round(pending, work, jobs, chunk)
        results.update(done)
        if len(failed) == len(pending):  # no progress: go on one file per process
            jobs = chunk = 1
        chunk = 1 if failed else chunk  # smaller chunks lose less work to the next death
        pending = failed
    for path in pending:  # each alone in a fresh process
        done, failed = _round([path], work, 1, 1)
        results.update(done)
        if failed:
            results[path] = [Finding(path, 1, 1, "NL000", "NL000 not analysed: the worker process linting this file "
                                     "died (killed by a signal, or out of memory?)")]
    return results
