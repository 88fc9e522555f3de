"""Run the check's child process under a time and memory limit, and leave nothing of it behind.

The child runs in a session of its own, so that the processes a model file starts (a data-loader pool, a
server it spawns) belong to it too: on a timeout, on too much memory, and after a normal exit, every
process of that session is killed. Memory is the resident set of the whole session, read from /proc
every 0.2 s (an address-space rlimit would break TensorFlow and JAX, which reserve far more virtual
memory than they use). Elsewhere than Linux only the time limit holds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass

POLL = 0.2
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# TensorFlow/absl/oneDNN start-up chatter: never "the reason" a process died
_LOG_LINE = re.compile(
    r"^(WARNING: All log messages before absl|[IWEF]\d{4} \d\d:\d\d|[IWEF]0000 |.*oneDNN custom operations|"
    r".*cpu_feature_guard|To enable the following instructions|.*TF_ENABLE_ONEDNN_OPTS|.*Unable to register cu|"
    r"WARNING: .*absl::InitializeLog|\s*$)"
)


@dataclass
class Outcome:
    returncode: int | None  # None when normlint stopped it
    stopped: str | None  # "timeout" or "memory" when normlint stopped it
    peak_rss: int  # bytes, the session's largest resident set seen
    output: str  # the child's stdout and stderr, interleaved


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def default_max_memory() -> int | None:
    """Half of the machine's memory: a model file may use a lot, never the whole machine."""
    total = physical_memory()
    return total // 2 if total else None


def _session_members(sid: int) -> list[tuple[int, int]]:
    """(pid, resident bytes) of every process in session ``sid`` (Linux /proc)."""
    members: list[tuple[int, int]] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp session ...
        if len(fields) > 21 and fields[3] == str(sid):
            members.append((int(entry), int(fields[21]) * _PAGE))
    return members


def kill_session(sid: int) -> None:
    """SIGKILL the process group and every process left in the session."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    for pid, _ in _session_members(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def run_supervised(cmd: list[str], *, timeout: float, max_memory: int | None, env: dict, cwd: str, log_path: str) -> Outcome:
    with open(log_path, "w+b") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        peak, stopped = 0, None
        watch = max_memory and os.path.isdir("/proc")
        try:
            while True:
                try:
                    proc.wait(timeout=POLL)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if time.monotonic() > deadline:
                    stopped = "timeout"
                    break
                if watch:
                    rss = sum(r for _, r in _session_members(proc.pid))
                    peak = max(peak, rss)
                    if max_memory is not None and rss > max_memory:
                        stopped = "memory"
                        break
        finally:  # also on Ctrl-C in the parent: nothing of the child survives
            kill_session(proc.pid)
            proc.wait()
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    return Outcome(None if stopped else proc.returncode, stopped, peak, output)


def last_words(output: str) -> str | None:
    """The last line of the child's output that is not framework start-up chatter."""
    for line in reversed(output.splitlines()):
        if not _LOG_LINE.match(line):
            return line.strip()[:300]
    return None


def death_message(outcome: Outcome) -> str:
    """What happened to a child that wrote no result, in one line."""
    words = last_words(outcome.output)
    said = f"; its last words: {words}" if words else ""
    rc = outcome.returncode
    if rc is not None and rc < 0:
        name = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else f"signal {-rc}"
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if -rc == signal.SIGKILL else ""
        return f"the model process was killed by {name}{hint} before it reported{said}"
    if words is None:
        return (f"the model process exited with code {rc} before it reported and printed nothing "
                f"(does the model file call os._exit(), or crash the interpreter?)")
    return f"the model process exited with code {rc} before it reported{said}"


def format_bytes(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 10 << 30 else f"{n / (1 << 20):.0f} MiB"
