"""``normlint check MODEL.py``: static rules, then the runtime checks in a child process with a timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from normlint.errors import UsageError
from normlint.config import ConfigError, load_config
from normlint.lint.files import lint_file
from normlint.report import check_failures, format_check_github, format_check_json, format_check_text


def _input_shape(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        dims = [int(d) for d in text.replace("x", ",").split(",") if d.strip()]
    except ValueError:
        raise UsageError(f"--input-shape must be integers like 32,32,3, got {text!r}") from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape must be positive integers, got {text!r}")
    return dims


def run_worker(request: dict, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="normlint-check-") as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req.write_text(json.dumps(request))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "normlint.runtime.worker", str(req), str(res)],
                capture_output=True, text=True, timeout=timeout, env=env, cwd=str(Path(request["file"]).parent),
            )
        except subprocess.TimeoutExpired:
            raise UsageError(f"{request['file']} did not finish importing and checking within {timeout:g} s (--timeout)") from None
        if not res.exists():
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise UsageError(f"the model process died (exit code {proc.returncode}): {tail[0]}")
        return json.loads(res.read_text())


def run_check(args) -> int:
    path = Path(args.model_file)
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if not path.is_file():
        raise UsageError(f"not a file: {path}")
    shape = _input_shape(args.input_shape)
    if args.data and not Path(args.data).is_file():
        raise UsageError(f"--data: no such file: {args.data}")
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    try:
        config = load_config(path.parent)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    static = [] if args.no_lint else lint_file(str(path), config)
    unparsable = [f for f in static if f.code == "NL000"]
    if unparsable:
        raise UsageError(f"{path}:{unparsable[0].line}:{unparsable[0].col}: {unparsable[0].text}")
    request = {
        "file": str(path.resolve()),
        "entry": args.entry,
        "input_shape": shape,
        "data": str(Path(args.data).resolve()) if args.data else None,
        "batch_size": args.batch_size,
        "seed": args.seed,
    }
    result = run_worker(request, args.timeout)
    error = result.get("error")
    if error:
        if error.get("traceback"):
            sys.stderr.write(error["traceback"])
        raise UsageError(error["message"])
    if args.format == "json":
        sys.stdout.write(format_check_json(str(path), static, result))
    elif args.format == "github":
        sys.stdout.write(format_check_github(str(path), static, result))
    else:
        sys.stdout.write(format_check_text(str(path), static, result))
    return 1 if check_failures(static, result) else 0


__all__ = ["run_check"]
