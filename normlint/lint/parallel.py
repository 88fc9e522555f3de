"""Linting many files in forked worker processes, surviving workers that die.

A worker can die under the linter's feet (the OOM killer, a SIGKILL, a crash in a native extension).
Each worker is an ``os.fork()`` child fed over a pipe: the parent hands out small chunks of files, one
at a time, largest files first (the last chunks are the cheapest: the workers finish together), and reads
each chunk's findings back over a second pipe. A worker whose pipe closes before its chunk came back died
with it: only that chunk fails, the others go on. Failed files are tried again in a fresh round one file
a chunk, and when a round makes no progress, each remaining file alone in its own process: a file that
kills its worker even then is one NL000 finding, and every other file is still linted.

Plain ``os.fork``, ``select.poll`` and ``pickle`` rather than ``concurrent.futures``: the executor's imports
(multiprocessing, logging, socket...) and its feeder and manager threads cost more than a cold run on a
few hundred files can spare (``benchmarks/bench_ruff.py``). Where there is no ``fork`` (Windows), or no
process can be started (a process or open-file limit), the files are linted in this process.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from typing import Any, Callable

from normlint.lint.engine import Finding

Work = Callable[[str], list[Finding]]

_TASK = struct.Struct("<i")  # the index of the chunk to lint; -1: no more work
_SIZE = struct.Struct("<Q")  # the length of the pickled (chunk index, findings) that follows
DIED = ("NL000 not analysed: the worker process linting this file died (killed by a signal, or out of "
        "memory?)")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _worker(chunks: list[list[str]], work: Work, tasks: int, results: int) -> None:
    """The child's loop: lint the chunks the parent names until it says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the parent speaks, the workers just stop
    while True:
        data = os.read(tasks, _TASK.size)
        if len(data) < _TASK.size:  # the parent is gone
            return
        (index,) = _TASK.unpack(data)
        if index < 0:
            return
        try:
            found: object = [work(path) for path in chunks[index]]
        except Exception as exc:  # what the serial path would raise, raised in the parent
            found = exc
        payload = pickle.dumps((index, found), pickle.HIGHEST_PROTOCOL)
        _write_all(results, _SIZE.pack(len(payload)) + payload)


class _Worker:
    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid, self.tasks, self.results = pid, tasks, results
        self.chunk: int | None = None  # the chunk it is linting
        self.buffer = bytearray()


def _start(chunks: list[list[str]], work: Work, others: list[_Worker]) -> _Worker:
    """A worker process; OSError when no pipe or process can be had (file or process limits)."""
    fds: list[int] = []
    try:
        fds.extend(os.pipe())
        fds.extend(os.pipe())
        pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    task_r, task_w, result_r, result_w = fds
    if pid == 0:  # the child: never returns into the parent's code
        code = 0
        try:
            for fd in (task_w, result_r, *(f for w in others for f in (w.tasks, w.results))):
                os.close(fd)  # a sibling's pipe held open here would hide that sibling's death
            _worker(chunks, work, task_r, result_w)
        except BaseException:
            code = 70
        finally:
            os._exit(code)
    os.close(task_r)
    os.close(result_w)
    return _Worker(pid, task_w, result_r)


def _hand(worker: _Worker, index: int) -> bool:
    """Tell ``worker`` to lint chunk ``index`` (-1: stop); False if it is gone."""
    try:
        _write_all(worker.tasks, _TASK.pack(index))
    except OSError:  # BrokenPipeError: it died
        return False
    worker.chunk = index if index >= 0 else None
    return True


def _messages(worker: _Worker) -> list[tuple[int, Any]]:
    """The complete (chunk index, findings) messages in the worker's buffer, taken out of it."""
    out = []
    buf = worker.buffer
    while len(buf) >= _SIZE.size:
        (size,) = _SIZE.unpack_from(buf)
        if len(buf) < _SIZE.size + size:
            break
        out.append(pickle.loads(buf[_SIZE.size:_SIZE.size + size]))
        del buf[:_SIZE.size + size]
    return out


class NoWorker(Exception):
    """Not one worker process could be started (the process or open-file limit is reached)."""


def _round(files: list[str], work: Work, jobs: int, chunk: int) -> tuple[dict[str, list[Finding]], list[str]]:
    """(results of the files that came back, files whose worker died with them); NoWorker when no
    worker could be started (fewer than ``jobs`` do the work when some cannot)."""
    chunks = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    done: dict[str, list[Finding]] = {}
    failed: list[str] = []
    workers: list[_Worker] = []
    todo = iter(range(len(chunks)))
    error: BaseException | None = None
    try:
        for _ in range(min(jobs, len(chunks))):
            try:
                workers.append(_start(chunks, work, workers))
            except OSError:
                break
        if not workers:
            raise NoWorker()
        for w in list(workers):
            index = next(todo, -1)
            if not _hand(w, index) and index >= 0:
                failed.extend(chunks[index])
        live = {w.results: w for w in workers}
        poll = select.poll()  # not select.select(): it refuses descriptors above 1023
        for fd in live:
            poll.register(fd, select.POLLIN)
        while live:
            for fd, _ in poll.poll():
                w = live[fd]
                data = os.read(fd, 1 << 16)
                if not data:  # the worker exited: with its chunk when it had one
                    if w.chunk is not None:
                        failed.extend(chunks[w.chunk])
                    poll.unregister(fd)
                    del live[fd]
                    continue
                w.buffer += data
                for index, found in _messages(w):
                    if isinstance(found, BaseException):
                        error = error or found
                        found = [[] for _ in chunks[index]]
                    done.update(zip(chunks[index], found))
                    w.chunk = None
                    nxt = -1 if error else next(todo, -1)
                    if not _hand(w, nxt) and nxt >= 0:
                        failed.extend(chunks[nxt])
        failed.extend(f for index in todo for f in chunks[index])  # every worker died before these
    finally:
        for w in workers:
            if error is not None or w.chunk is not None:
                try:
                    os.kill(w.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for fd in (w.tasks, w.results):
                os.close(fd)
            os.waitpid(w.pid, 0)
    if error is not None:
        raise error
    return done, failed


def lint_parallel(files: list[str], work: Work, jobs: int) -> dict[str, list[Finding]]:
    """``work(path)`` for every file, in ``jobs`` processes; never hangs on a dead worker."""
    if not hasattr(os, "fork") or not hasattr(select, "poll"):
        return {path: work(path) for path in files}
    files = sorted(files, key=_size, reverse=True)  # the largest first: the last chunks are the small files
    chunk = max(1, min(8, len(files) // (jobs * 16)))
    results: dict[str, list[Finding]] = {}
    pending = files
    while pending and not (jobs == 1 and chunk == 1):
        try:
            done, failed = _round(pending, work, jobs, chunk)
        except NoWorker:  # as -j 1 would: in this process
            results.update((path, work(path)) for path in pending)
            return results
        results.update(done)
        if len(failed) == len(pending):  # no progress: go on one file per process
            jobs = chunk = 1
        chunk = 1 if failed else chunk  # one file a chunk: a death then costs no other file's work
        pending = failed
    for path in pending:  # each alone in a fresh process
        try:
            done, failed = _round([path], work, 1, 1)
        except NoWorker:  # it killed its worker before: never linted in this process
            done, failed = {}, [path]
        results.update(done)
        if failed:
            results[path] = [Finding(path, 1, 1, "NL000", DIED)]
    return results


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
