"""``normlint`` command line: lint, rules, explain, check, smoke.

Exit codes: 0 clean, 1 findings (or failed checks), 2 usage errors and unusable input.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path

from normlint import __version__


class UsageError(Exception):
    """A one-line message for the user; exit 2."""


def _codes(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(c.strip().upper() for c in text.split(",") if c.strip())


def cmd_lint(args: argparse.Namespace) -> int:
    from normlint.config import ConfigError, load_config
    from normlint.lint.files import discover, lint_file
    from normlint.report import format_findings

    if args.jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, got {args.jobs}")
    if args.small_batch_threshold is not None and args.small_batch_threshold < 1:
        raise UsageError("--small-batch-threshold must be at least 1")
    if not args.paths:
        print("normlint: no paths given, nothing to lint", file=sys.stderr)
        return 0
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    try:
        config = load_config(Path(args.paths[0]), Path(args.config) if args.config else None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    if args.select is not None:
        config.select = _codes(args.select) or ()
    if args.ignore is not None:
        config.ignore = config.ignore + (_codes(args.ignore) or ())
    if args.small_batch_threshold is not None:
        config.options["small_batch_threshold"] = args.small_batch_threshold
    files = list(discover(args.paths))
    if not files:
        print("normlint: no Python files found", file=sys.stderr)
        return 0
    work = partial(lint_file, config=config)
    if args.jobs > 1 and len(files) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(work, files, chunksize=max(1, len(files) // (args.jobs * 8)))
    else:
        results = map(work, files)
    findings = sorted(f for result in results for f in result)
    out = format_findings(findings, args.format, len(files))
    if out:
        sys.stdout.write(out)
    if args.format == "text" and not findings and not args.quiet:
        print(f"normlint: {len(files)} file(s) checked, no findings", file=sys.stderr)
    return 1 if findings else 0


def cmd_rules(args: argparse.Namespace) -> int:
    from normlint.lint.rules import ALL_RULES

    for r in ALL_RULES:
        print(f"{r.code}  {r.name:<40} {r.summary}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from normlint.lint.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(args.code.upper())
    if rule is None:
        raise UsageError(f"unknown rule {args.code!r}; `normlint rules` lists them")
    sys.stdout.write(rule.page())
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from normlint.runtime.check_cli import run_check

    return run_check(args)


def cmd_smoke(args: argparse.Namespace) -> int:
    from normlint.runtime.smoke import run_smoke

    return run_smoke(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="normlint", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"normlint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    lint = sub.add_parser("lint", help="statically lint Python files and folders")
    lint.add_argument("paths", nargs="*", help="files or folders (recursive)")
    lint.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    lint.add_argument("--select", help="comma-separated code prefixes to report, e.g. NL1,NL201")
    lint.add_argument("--ignore", help="comma-separated code prefixes to drop")
    lint.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text")
    lint.add_argument("--config", help="pyproject.toml to read [tool.normlint] from (default: nearest)")
    lint.add_argument("--small-batch-threshold", type=int, help="NL602 threshold (default 8)")
    lint.add_argument("-q", "--quiet", action="store_true", help="no summary line when clean")
    lint.set_defaults(func=cmd_lint)

    rules = sub.add_parser("rules", help="list the rules")
    rules.set_defaults(func=cmd_rules)

    explain = sub.add_parser("explain", help="print a rule's page")
    explain.add_argument("code")
    explain.set_defaults(func=cmd_explain)

    check = sub.add_parser("check", help="import a model file and verify its normalization layers (needs TensorFlow)")
    check.add_argument("model_file")
    check.add_argument("--entry", help="module:callable that returns the model")
    check.add_argument("--input-shape", help="input shape without batch, e.g. 32,32,3")
    check.add_argument("--data", help=".npy file with a probe batch")
    check.add_argument("--timeout", type=float, default=120.0, help="seconds for importing and checking (default 120)")
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
    check.add_argument("--batch-size", type=int, default=16, help="probe batch size (default 16)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--no-lint", action="store_true", help="skip the static rules")
    check.set_defaults(func=cmd_check)

    smoke = sub.add_parser("smoke", help="train LeNet-5 on CIFAR-10, plain vs normalized (needs TensorFlow)")
    smoke.add_argument("--data", default="embedded", help="'embedded' (default), 'keras', or an image-folder CIFAR-10 dir or .tar.gz")
    smoke.add_argument("--epochs", type=int, default=4, help="default 4 (the article trained 10: pass --epochs 10 with the full data)")
    smoke.add_argument("--subset", type=int, help="use only the first N training images")
    smoke.add_argument("--batch-size", type=int, default=256)
    smoke.add_argument("--plot", help="write train/val accuracy curves to this PNG")
    smoke.add_argument("--format", choices=("text", "json"), default="text")
    smoke.add_argument("--seed", type=int, default=0)
    smoke.add_argument("--no-check", action="store_true", help="skip the runtime check of the normalized model")
    smoke.set_defaults(func=cmd_smoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"normlint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("normlint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
