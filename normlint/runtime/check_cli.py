"""``normlint check MODEL.py [MODEL.py ...]``: static rules, then the runtime checks in a child process per
file, under a time and memory limit (normlint.runtime.supervise).

Every file gets a report: one that raises, has no model, runs out of time or memory still gets its
document (json) or annotation (github) with the error, and the run goes on to the next file.
Exit codes: 0 every check passed; 1 a check failed or a static finding; 2 a file could not be checked
(or bad arguments).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from normlint.config import ConfigError, load_config
from normlint.lint.options import OptionError, parse_size
from normlint.errors import UsageError
from normlint.lint.engine import Finding
from normlint.lint.files import lint_file
from normlint.report import check_failures, format_check_github, format_check_json, format_check_text, github_command
from normlint.runtime import supervise


@dataclass
class FileResult:
    path: str
    static: list[Finding] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    error: dict | None = None  # {"kind", "message", "traceback"?}: the file could not be checked


def _input_shape(text: str | None) -> list[int] | None:
    if text is None:
        return None
    parts = text.replace("x", ",").split(",")
    try:
        dims = [int(d) for d in parts]
    except ValueError:
        raise UsageError(f"--input-shape must be integers like 32,32,3, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape must be positive integers like 32,32,3, got {text!r}")
    return dims


def _max_memory(text: str | None) -> int | None:
    if text is None:
        return supervise.default_max_memory()
    try:
        value = parse_size(text, "--max-memory", example="4G or 1500M")
    except OptionError as exc:
        raise UsageError(str(exc)) from None
    if value and value < 256 << 20:
        raise UsageError(f"--max-memory {text} is too small to import a deep-learning framework: give at least 256M (0: no limit)")
    return value or None


def validate(args) -> tuple[list[int] | None, int | None]:
    if args.batch_size < 2:
        raise UsageError(f"--batch-size must be at least 2 (batch-independence compares samples), got {args.batch_size}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
    if args.data and not Path(args.data).is_file():
        raise UsageError(f"--data: no such file: {args.data}")
    if args.entry and len(args.model_files) > 1:
        raise UsageError("--entry names one module:callable: give one model file with it")
    return _input_shape(args.input_shape), _max_memory(args.max_memory)


def run_worker(request: dict, timeout: float, max_memory: int | None) -> dict:
    """The child's result, or a dict with an ``error`` saying in one line what happened to it."""
    with tempfile.TemporaryDirectory(prefix="normlint-check-") as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req.write_text(json.dumps(request))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"), PYTHONUNBUFFERED="1")
        outcome = supervise.run_supervised(
            [sys.executable, "-m", "normlint.runtime.worker", str(req), str(res)],
            timeout=timeout, max_memory=max_memory, env=env, cwd=str(Path(request["file"]).parent),
            log_path=str(Path(tmp) / "output.log"),
        )
        if res.exists() and outcome.stopped is None:
            try:
                return json.loads(res.read_text())
            except ValueError:
                pass  # half-written: say what happened below
    name = Path(request["file"]).name
    if outcome.stopped == "timeout":
        message = (f"{name} did not finish importing and checking within {timeout:g} s (--timeout); the model "
                   f"process and every process it started were stopped")
    elif outcome.stopped == "memory":
        message = (f"{name}: the model process used {supervise.format_bytes(outcome.peak_rss)} of memory, over "
                   f"--max-memory {supervise.format_bytes(max_memory or 0)}; it and every process it started were "
                   f"stopped (raise --max-memory, or give a smaller --batch-size)")
    else:
        message = f"{name}: {supervise.death_message(outcome)}"
    return {"models": [], "error": {"kind": outcome.stopped or "died", "message": message}}


def check_file(path: Path, args, shape, max_memory) -> FileResult:
    out = FileResult(str(path))
    if not path.exists():
        out.error = {"kind": "usage", "message": f"no such file: {path}"}
        return out
    if not path.is_file():
        out.error = {"kind": "usage", "message": f"not a file: {path}"}
        return out
    try:
        config = load_config(path.parent)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    out.static = [] if args.no_lint else lint_file(str(path), config)
    unparsable = [f for f in out.static if f.code == "NL000"]
    if unparsable:
        f = unparsable[0]
        out.error = {"kind": "syntax", "message": f"{path}:{f.line}:{f.col}: {f.text}"}
        return out
    request = {
        "file": str(path.resolve()),
        "entry": args.entry,
        "input_shape": shape,
        "data": str(Path(args.data).resolve()) if args.data else None,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    if sys.stderr.isatty():
        print(f"normlint check: importing and checking {path} ...", file=sys.stderr, flush=True)
    out.result = run_worker(request, args.timeout, max_memory)
    out.error = out.result.get("error")
    return out


def _status(r: FileResult) -> int:
    if r.error:
        return 2
    return 1 if check_failures(r.static, r.result) else 0


def _document(r: FileResult) -> dict:
    doc = json.loads(format_check_json(r.path, r.static, r.result))
    doc["error"] = {k: v for k, v in r.error.items() if k != "traceback"} if r.error else None
    return doc


def emit(results: list[FileResult], fmt: str) -> None:
    if fmt == "json":
        if len(results) == 1:
            doc = _document(results[0])
        else:
            from normlint import __version__

            docs = [_document(r) for r in results]
            doc = {"tool": "normlint", "version": __version__, "schema": 1, "files": docs,
                   "failed": sum(d["failed"] for d in docs), "errors": sum(1 for d in docs if d["error"])}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    for i, r in enumerate(results):
        if fmt == "github":
            if r.error:
                sys.stdout.write(github_command("error", r.path, 1, None, f"normlint check: {r.error['kind']}", r.error["message"]) + "\n")
            else:
                sys.stdout.write(format_check_github(r.path, r.static, r.result))
        elif not r.error:
            sys.stdout.write(("\n" if i else "") + format_check_text(r.path, r.static, r.result))
    for r in results:  # errors on stderr in every format: the user's traceback, then one line
        if r.error:
            if r.error.get("traceback"):
                sys.stderr.write(r.error["traceback"])
            print(f"normlint: error: {r.error['message']}", file=sys.stderr)


def run_check(args) -> int:
    shape, max_memory = validate(args)
    results = []
    seen: set[str] = set()
    for name in args.model_files:
        path = Path(name)
        key = str(path.resolve())
        if key in seen:
            continue
        seen.add(key)
        results.append(check_file(path, args, shape, max_memory))
    emit(results, args.format)
    return max(_status(r) for r in results)


__all__ = ["run_check"]
