"""``normlint`` command line: lint, rules, explain, check, smoke.

Exit codes: 0 clean, 1 findings (or failed checks), 2 usage errors and unusable input.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from functools import partial
from typing import NoReturn
from pathlib import Path

from normlint import __version__
from normlint.errors import UsageError


def _codes(text: str | None, option: str) -> tuple[str, ...] | None:
    """Code prefixes from ``--select``/``--ignore``; unknown codes and an empty --select are usage errors."""
    from normlint.config import ConfigError, check_codes

    if text is None:
        return None
    codes = tuple(c.strip().upper() for c in text.split(",") if c.strip())
    if not codes and option == "--select":
        raise UsageError("--select is empty: nothing would be checked")
    try:
        return check_codes(codes, option)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _progress(done: int, total: int) -> None:
    print(f"\rnormlint: {done}/{total} files", end="" if done < total else "\n", file=sys.stderr, flush=True)


def cmd_lint(args: argparse.Namespace) -> int:
    from normlint.config import ConfigError, load_config
    from normlint.lint.files import READ_CAP, decode_source, discover, lint_file, lint_text
    from normlint.lint.options import OptionError, all_options
    from normlint.report import format_findings

    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, got {args.jobs}")
    if not args.paths:
        print("normlint: no paths given, nothing to lint (use - for standard input)", file=sys.stderr)
        return 0
    stdin = "-" in args.paths
    if stdin and len(args.paths) > 1:
        raise UsageError("- (standard input) cannot be combined with other paths")
    if args.stdin_filename and not stdin:
        raise UsageError("--stdin-filename is for linting standard input: pass - as the path")
    select, ignore = _codes(args.select, "--select"), _codes(args.ignore, "--ignore")
    extend_select = _codes(args.extend_select, "--extend-select")
    anchor = args.stdin_filename or ("." if stdin else args.paths[0])
    try:
        config = load_config(Path(anchor) if os.path.exists(anchor) else Path(anchor).parent,
                             Path(args.config) if args.config else None)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for option in all_options():  # command-line values win over the file's
        value = getattr(args, option.key, None)
        if value is not None:
            try:
                config.options[option.key] = option.parse(value, f"--{option.name}")
            except OptionError as exc:
                raise UsageError(str(exc)) from None
    if select is not None:
        config.select = select
    if extend_select:
        config.extend_select = config.extend_select + extend_select
    if ignore is not None:
        config.ignore = config.ignore + ignore
    errors: list[str] = []
    if args.fix or args.diff:
        return _fix_or_diff(args, config, stdin)
    fixes = args.format in ("json", "sarif")  # the reports that carry the edits; text only says "fixable"
    if stdin:
        name = args.stdin_filename or "<stdin>"
        data = sys.stdin.buffer.read(READ_CAP + 1)  # never read an endless stream to the end
        if len(data) > READ_CAP:
            raise UsageError(f"standard input is over the {READ_CAP >> 20} MiB that normlint reads of one file")
        try:
            text = decode_source(data)
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            raise UsageError(f"cannot decode standard input: {exc}") from None
        files = [name]
        findings = sorted(lint_text(text, name, config, fixes=fixes))
    else:
        if args.extend_exclude:
            config.extend_exclude += tuple(g.strip() for g in args.extend_exclude.split(",") if g.strip())
        found = discover(args.paths, config.extend_exclude)
        errors = found.errors
        for note in found.skipped:
            print(f"normlint: {note}", file=sys.stderr)
        files = found.files
        jobs = args.jobs or _auto_jobs(len(files))
        cache = None
        if args.cache_dir:
            from normlint.lint.cache import ResultCache

            cache = ResultCache(args.cache_dir, config, fixes)
        findings = sorted(_lint_files(files, partial(lint_file, config=config, fixes=fixes, cache=cache), jobs))
    for message in errors:
        print(f"normlint: error: {message}", file=sys.stderr)
    if not files and not errors:
        print("normlint: no Python files or notebooks found", file=sys.stderr)
        return 0
    out = format_findings(findings, args.format, len(files), config.docs_url)
    if out:
        sys.stdout.write(out)
    if args.format == "text" and not findings and not args.quiet and files:
        print(f"normlint: {len(files)} file(s) checked, no findings", file=sys.stderr)
    return 2 if errors else 1 if findings else 0


def _fix_or_diff(args: argparse.Namespace, config, stdin: bool) -> int:
    """--fix: rewrite files, then report what remains (exit 1 if anything does); --diff: print the
    unified diffs and write nothing (exit 1 when something would change). Standard input: --fix prints
    the fixed text on stdout and the remaining findings on stderr."""
    import difflib

    from normlint.lint.autofix import fix_file_text
    from normlint.lint.files import READ_CAP, decode_source, discover, lint_text, read_source, write_source
    from normlint.report import format_findings

    unsafe = bool(args.unsafe_fixes)
    if stdin:
        name = args.stdin_filename or "<stdin>"
        data = sys.stdin.buffer.read(READ_CAP + 1)
        if len(data) > READ_CAP:
            raise UsageError(f"standard input is over the {READ_CAP >> 20} MiB that normlint reads of one file")
        try:
            sources = [(name, decode_source(data))]
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            raise UsageError(f"cannot decode standard input: {exc}") from None
        errors: list[str] = []
    else:
        found = discover(args.paths, config.extend_exclude)
        errors = found.errors
        for note in found.skipped:
            print(f"normlint: {note}", file=sys.stderr)
        sources = []
        for path in found.files:
            try:
                sources.append((path, read_source(path)))
            except (OSError, UnicodeDecodeError, SyntaxError, LookupError, ValueError) as exc:
                errors.append(f"cannot read {path}: {exc}")
    fixed = changed_files = 0
    remaining = []
    for path, text in sources:
        result = fix_file_text(text, path, config, unsafe)
        for line in result.dropped:
            print(f"normlint: {path}: {line}", file=sys.stderr)
        if result.text != text:
            changed_files += 1
            fixed += len(result.applied)
            if args.diff:
                sys.stdout.writelines(difflib.unified_diff(
                    text.splitlines(keepends=True), result.text.splitlines(keepends=True), path, path))
            elif not stdin:
                try:
                    write_source(path, result.text)
                except OSError as exc:  # read-only file or folder, full disk: said, the others still fixed
                    errors.append(f"cannot write {path}: {exc.strerror or exc}")
                    changed_files -= 1
                    fixed -= len(result.applied)
                    remaining.extend(lint_text(text, path, config))
                    continue
        if stdin and not args.diff:
            sys.stdout.write(result.text)
        if not args.diff:
            remaining.extend(lint_text(result.text, path, config))
    for message in errors:
        print(f"normlint: error: {message}", file=sys.stderr)
    if args.diff:
        print(f"normlint: {fixed} fix(es) would change {changed_files} file(s)"
              + ("" if unsafe else " (unsafe fixes not included: --unsafe-fixes)"), file=sys.stderr)
        return 2 if errors else 1 if changed_files else 0
    remaining.sort()
    out = format_findings(remaining, args.format, len(sources), config.docs_url)
    (sys.stderr if stdin else sys.stdout).write(out)
    hidden = sum(1 for f in remaining if f.fix is not None and f.fix.applicability != "safe" and not unsafe)
    print(f"normlint: fixed {fixed} finding(s) in {changed_files} file(s), {len(remaining)} remaining"
          + (f" ({hidden} fixable with --unsafe-fixes)" if hidden else ""), file=sys.stderr)
    return 2 if errors else 1 if remaining else 0


# below this many files one process is faster than starting workers
AUTO_JOBS_MIN_FILES = 24


def _auto_jobs(files: int) -> int:
    """The default -j: a worker per CPU this process may run on (at most 8) when there are enough files."""
    if files < AUTO_JOBS_MIN_FILES:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _lint_files(files: list[str], work, jobs: int) -> list:
    """Findings of every file, serially or in ``jobs`` processes; progress on a terminal's stderr."""
    show = sys.stderr.isatty() and len(files) >= 200
    if jobs > 1 and len(files) > 1:
        from normlint.lint.parallel import lint_parallel

        if show:
            print(f"normlint: linting {len(files)} files in {jobs} processes", file=sys.stderr, flush=True)
        return [f for result in lint_parallel(files, work, jobs).values() for f in result]
    findings = []
    for i, path in enumerate(files, 1):
        findings.extend(work(path))
        if show and (i % 100 == 0 or i == len(files)):
            _progress(i, len(files))
    return findings


def cmd_rules(args: argparse.Namespace) -> int:
    from normlint.lint.rules import ALL_RULES

    for r in ALL_RULES:
        print(f"{r.code}  {r.name:<40} {r.summary}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from normlint.lint import nl000
    from normlint.lint.rules import RULES_BY_CODE

    if args.code.upper() == nl000.CODE:
        sys.stdout.write(nl000.PAGE)
        return 0
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

    lint = sub.add_parser(
        "lint", help="statically lint Python files and folders",
        description="Lint Python files for normalization mistakes without importing or running them. "
        "Exit codes: 0 no findings, 1 findings (NL000 included: a file that could not be read or analysed), "
        "2 usage error, bad configuration, or a path that does not exist or cannot be read (the other paths "
        "are still linted and reported).",
    )
    lint.add_argument("paths", nargs="*", help="files or folders (recursive: *.py, *.pyi and *.ipynb notebooks; "
                      "only regular files are read), or - for standard input")
    lint.add_argument("-j", "--jobs", type=int, default=None,
                      help=f"worker processes (default: one per CPU, at most 8, for {AUTO_JOBS_MIN_FILES} files or more; "
                      "-j 1: none); a worker that dies is reported, never waited for")
    lint.add_argument("--cache-dir", metavar="DIR",
                      help="keep each file's findings in DIR, keyed by its text, path, the configuration and "
                      "normlint's own code, and reuse them while none of those changed (off by default)")
    lint.add_argument("--select", help="comma-separated code prefixes to report, e.g. NL1,NL201 (unknown codes are an error)")
    lint.add_argument("--extend-select", help="comma-separated codes added to the selection; opt-in rules (NL103) "
                      "run only when named in full here or in --select")
    lint.add_argument("--ignore", help="comma-separated code prefixes to drop (unknown codes are an error)")
    lint.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text",
                      help="text (default), json, github (workflow annotations) or sarif (2.1.0)")
    lint.add_argument("--extend-exclude", metavar="GLOBS",
                      help="comma-separated path globs that folder walks skip, besides .git, venv, __pycache__, "
                      ".ipynb_checkpoints... (also [tool.normlint] extend-exclude); files named explicitly are still linted")
    lint.add_argument("--config", help="pyproject.toml to read [tool.normlint] from (default: the nearest above the first path)")
    from normlint.lint.options import all_options

    for option in all_options():  # declared on the engine and on the rules
        lint.add_argument(f"--{option.name}", dest=option.key, metavar="N" if option.kind == "int" else "SIZE",
                          help=f"{option.help} (also [tool.normlint] {option.name})")
    lint.add_argument("--stdin-filename", help="the name to report for standard input (-), and where its configuration is looked up")
    lint.add_argument("--fix", action="store_true", help="apply the safe fixes, then report what remains")
    lint.add_argument("--unsafe-fixes", action="store_true",
                      help="with --fix/--diff: also apply fixes that change numerics or weights")
    lint.add_argument("--diff", action="store_true",
                      help="print the fixes as unified diffs and write nothing (exit 1 when there would be changes)")
    lint.add_argument("-q", "--quiet", action="store_true", help="no summary line when clean")
    lint.set_defaults(func=cmd_lint)

    rules = sub.add_parser("rules", help="list the rules")
    rules.set_defaults(func=cmd_rules)

    explain = sub.add_parser("explain", help="print a rule's page (exit 2 for an unknown code)")
    explain.add_argument("code", help="a rule code, e.g. NL101 (NL000: files that cannot be analysed)")
    explain.set_defaults(func=cmd_explain)

    check = sub.add_parser(
        "check",
        help="import model files and verify their normalization layers (Keras 3: tensorflow, jax or torch); "
        "RUNS the files' code",
        description="Run the static rules on each model file, then IMPORT AND RUN it in a child process (with "
        "your user's rights: it is not a sandbox, so never run check on code you do not trust, such as an "
        "untrusted pull request), build its model(s) and compare every normalization layer with a NumPy "
        "reference. Each file runs under --timeout and --max-memory; the process and every process it "
        "started are stopped afterwards. Exit codes: 0 every check passed, 1 a check failed or a static "
        "finding, 2 a file could not be checked (raised, no model, timeout, memory) or bad arguments.",
    )
    check.add_argument("model_files", nargs="+", metavar="MODEL.py", help="model files, each checked in its own child process")
    check.add_argument("--entry", help="module:callable that returns the model (one file only)")
    check.add_argument("--input-shape", help="input shape without batch, e.g. 32,32,3 (checked against the model's own inputs)")
    check.add_argument("--data", help=".npy file with a probe batch (batch x input shape)")
    check.add_argument("--timeout", type=float, default=120.0, help="seconds for importing and checking one file (default 120)")
    check.add_argument("--max-memory", help="memory for one file's process and its children, e.g. 4G or 1500M; 0: no "
                       "limit (default: half of this machine's memory)")
    check.add_argument("--format", choices=("text", "json", "github"), default="text",
                       help="text (default), json (always a document, with the error when a file could not be checked) or github")
    check.add_argument("--batch-size", type=int, default=16, help="probe batch size, at least 2 (default 16)")
    check.add_argument("--seed", type=int, default=0, help="seed of the random probe batch and of the model's initial weights (default 0)")
    check.add_argument("--no-lint", action="store_true", help="skip the static rules")
    check.set_defaults(func=cmd_check)

    smoke = sub.add_parser(
        "smoke",
        help="train LeNet-5 on CIFAR-10, plain vs normalized, over several seeds (Keras 3 on tensorflow, jax or torch)",
        description="Train the article's two LeNet-5s (plain: raw pixels, sigmoid output; normalized: adapted "
        "Normalization + BatchNormalization) on CIFAR-10 with several seeds, on the backend KERAS_BACKEND names "
        "and the device it finds. Reports mean and spread of val_acc, runs that collapsed to chance, and a verdict. "
        "Exit codes: 0 done, 1 the trained model failed its BatchNormalization check, 2 bad arguments, data or backend.",
    )
    smoke.add_argument("--data", default="embedded",
                       help="'embedded' (default: 5,000/1,000 real CIFAR-10 images shipped with normlint), 'keras' "
                       "(keras.datasets, needs a download or cache), or an image-folder CIFAR-10 dir or .tar.gz")
    smoke.add_argument("--epochs", type=int, help="epochs per run (default 3 on a CPU, 10 on a GPU; the article trained 10)")
    smoke.add_argument("--seeds", type=int, help="runs per model, seeds SEED, SEED+1, ... (default 2 on a CPU, 3 on a GPU)")
    smoke.add_argument("--subset", type=int, help="use only the first N training images (after a seeded shuffle)")
    smoke.add_argument("--batch-size", type=int, default=256, help="training batch size (default 256)")
    smoke.add_argument("--plot", help="write train/val accuracy curves (mean and spread across seeds) to this PNG")
    smoke.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (default) or one JSON document on stdout (progress then goes to stderr)")
    smoke.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    smoke.add_argument("--no-check", action="store_true", help="skip the runtime check of the normalized model")
    smoke.add_argument("--no-cache", action="store_true",
                       help="decode the images anew instead of using the cache of decoded archives "
                       "(NORMLINT_CACHE_DIR, default ~/.cache/normlint; NORMLINT_CACHE_DIR=off disables it)")
    smoke.set_defaults(func=cmd_smoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    enabled = gc.isenabled()
    gc.disable()  # building the parser imports every rule: tens of thousands of objects, none of them garbage
    try:
        args = build_parser().parse_args(argv)
    finally:
        if enabled:
            gc.enable()
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


# Modules whose exit handlers must run (frameworks loaded by check/smoke flush logs, stop threads).
_NEEDS_TEARDOWN = ("tensorflow", "keras", "jax", "torch")


def run() -> NoReturn:
    """The ``normlint`` command: ``main()``, then out without tearing the interpreter down. Freeing every
    module and object one by one costs a lint run ~8 ms that nothing needs: the output is flushed
    first, and a run that loaded a framework (``check``, ``smoke``) exits the usual way."""
    code = main()
    if any(name in sys.modules for name in _NEEDS_TEARDOWN):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`normlint lint | head`): nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
