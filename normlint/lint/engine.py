"""The lint engine: text prefilter, one parse (CPython's, or libcst's for fixes), the rules, positions of findings."""

from __future__ import annotations

import ast
import gc
import re
import sys
import warnings
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from normlint.config import Config
from normlint.lint import ast_tree, constants
from normlint.lint.context import FileContext
from normlint.lint.fixes import Fix, Offsets, resolve
from normlint.lint.options import MAX_FILE_SIZE as MAX_FILE_SIZE_OPTION
from normlint.lint.rules import ALL_RULES, Hit, Rule, base
from normlint.records import field, record

if TYPE_CHECKING:
    import libcst as cst


@record(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int  # 1-based, as flake8 prints it
    code: str
    message: str  # starts with the code: "NL101 Dropout feeds ..."
    # notebooks: the code cell (1-based among code cells) and the line in it; ``line`` is then the
    # line of the .ipynb file, for annotations on the real file
    cell: int | None = None
    cell_line: int | None = None
    fix: Fix | None = field(default=None, compare=False)  # the rewrite that removes it, when known

    @property
    def text(self) -> str:
        return self.message[len(self.code) + 1:]

    @property
    def where(self) -> str:
        """``line:col``, or ``cell 3:4:col`` in a notebook (as Ruff prints it)."""
        if self.cell is not None:
            return f"cell {self.cell}:{self.cell_line}:{self.col}"
        return f"{self.line}:{self.col}"


def active_rules(source: str, config: Config, path: str | None = None, prefilter: bool = True) -> list[type[Rule]]:
    """The rules that are enabled and whose cheap text triggers all match ``source``."""
    rules, matching = _enabled_rules(config, path)
    return matching(source) if prefilter else list(rules)


# the rules a selection enables, and their prefilter (base.prefilter): worked out once per selection
_ENABLED: dict[tuple[Any, ...], tuple[list[type[Rule]], Callable[[str], list[type[Rule]]]]] = {}


def _enabled_rules(config: Config, path: str | None) -> tuple[list[type[Rule]], Callable[[str], list[type[Rule]]]]:
    """The rules ``config`` enables for ``path``, and their prefilter: decided once per selection (with
    per-file ignores, once per set of rules they leave)."""
    if config.per_file_ignores and path is not None:
        rules = [r for r in ALL_RULES if config.enabled(r.code, path)]
        found = _ENABLED.get(tuple(rules))
        if found is None:
            found = _ENABLED[tuple(rules)] = (rules, base.prefilter(rules))
        return found
    key = (tuple(config.select), tuple(config.extend_select), tuple(config.ignore))
    found = _ENABLED.get(key)
    if found is None:
        rules = [r for r in ALL_RULES if config.enabled(r.code, None)]
        found = _ENABLED[key] = (rules, base.prefilter(rules))
    return found


MAX_FILE_SIZE = MAX_FILE_SIZE_OPTION.default  # a libcst tree costs ~0.9 KB of memory per source byte
PYTHON = f"Python {sys.version_info[0]}.{sys.version_info[1]}"


def lint_source(
    source: str, path: str = "<string>", config: Config | None = None, check_syntax: bool = False,
    prefilter: bool = True, describe_line: Callable[[int], str] | None = None, fixes: bool = True,
    tree: ast.Module | None = None,
) -> list[Finding]:
    """Findings for one file. ``check_syntax``: the running interpreter's grammar decides whether the
    file parses, whatever the prefilter says (the CLI wants it; flake8 reports E999 itself).
    ``prefilter=False`` parses every file (tests). ``describe_line`` words a related line in a
    message ("line 12"; a notebook says "cell 3, line 4"). ``fixes=False``: a finding's fix says what it
    does and whether it is safe, without its edits (placing them renders the statements they touch;
    flake8 and the text report never show them). ``tree``: ``ast.parse(source)`` when the caller holds it
    (flake8 hands it to plugins).

    Never raises on any input: a file normlint cannot analyse is one NL000 finding that says why."""
    config = config or Config()
    rules = active_rules(source, config, path, prefilter)
    if not rules and not check_syntax:  # nothing to parse, compile or say (flake8's files, most of them)
        return []
    limit = config.options.get(MAX_FILE_SIZE_OPTION.key, MAX_FILE_SIZE)
    if limit and len(source) > limit // 4:  # a cheap bound first: at most 4 UTF-8 bytes a character
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > limit:  # neither compiled nor parsed: both cost memory in proportion to the size
            return [Finding(path, 1, 1, "NL000", f"NL000 not analysed: {_size(size)} is over max-file-size "
                            f"{_size(limit)} (raise it with --max-file-size or [tool.normlint] max-file-size)")] if rules else []
    # A tree is hundreds of thousands of acyclic objects that reference counting frees; letting the
    # cyclic collector walk the host's heap (flake8's) on every allocation burst costs more than the
    # parse itself there.
    enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():  # CPython's warnings about the file ("is" with a literal, invalid
            warnings.simplefilter("ignore")  # escapes...) are not normlint's to print, nor errors under -W error
            verify = False  # the analysed tree still to be compiled, unless its builder saw nothing to reject
            # ``ast``'s tree is held here only: the fast path lets it go once its own tree is built, so that
            # reference counting frees it before the analysis allocates (a warm heap, a lower peak)
            trees = [tree] if tree is not None else []
            tree = None
            if check_syntax:  # every file alike, prefilter or not: the interpreter's grammar decides NL000
                if rules and not trees and not fixes:  # the tree the analysis reads: one parse
                    parsed, error = _parse(source, path)
                    trees.extend([parsed] if parsed is not None else [])
                    del parsed
                    verify = True
                else:
                    error = syntax_error(source, path)
                if error:
                    return error
            if not rules:
                return []
            return _lint_parsed(source, path, config, rules, describe_line or _line_words, fixes, trees, verify)
    except RecursionError:
        return [Finding(path, 1, 1, "NL000", "NL000 not analysed: the file nests too deeply (RecursionError)")]
    except MemoryError:
        return [Finding(path, 1, 1, "NL000", "NL000 not analysed: out of memory (MemoryError)")]
    finally:
        if enabled:
            gc.enable()


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


def syntax_error(source: str, path: str) -> list[Finding]:
    """NL000 with CPython's own message and position when the running interpreter cannot compile the
    file, else nothing. The message names the Python version whose grammar decided."""
    try:
        compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return _refused(exc, path)
    return []


def _parse(source: str, path: str) -> tuple[ast.Module | None, list[Finding]]:
    """(``ast.parse(source)``, NL000 as ``syntax_error`` words it when the parser refuses the file). What
    only the compiler rejects (``return`` outside a function...) is left to ``compile_tree``."""
    try:
        return ast.parse(source, path), []
    except SyntaxError as exc:
        return None, _refused(exc, path)
    except (ValueError, RecursionError, MemoryError, OverflowError):
        # the words of compiling the source (a file may nest too deeply for ast's Python objects and not
        # for the compiler)
        return None, syntax_error(source, path)


def compile_tree(tree: ast.Module, path: str) -> list[Finding]:
    """NL000 when CPython's compiler rejects the parsed tree: compiling ``ast.parse(source)`` raises what
    compiling the source does (the parser's errors, then the compiler's) and costs half as much."""
    try:
        compile(tree, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return _refused(exc, path)
    return []


def _refused(exc: BaseException, path: str) -> list[Finding]:
    if isinstance(exc, SyntaxError):  # TabError and IndentationError too
        kind = "" if type(exc) is SyntaxError else f"{type(exc).__name__}: "
        line, col = exc.lineno or 1, max(exc.offset or 1, 1)
        return [Finding(path, line, col, "NL000", f"NL000 cannot parse ({PYTHON}): {kind}{exc.msg}")]
    return [Finding(path, 1, 1, "NL000", f"NL000 cannot parse ({PYTHON}): {type(exc).__name__}: {_first_line(exc)}")]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _line_words(line: int) -> str:
    return f"line {line}"


def _lint_parsed(source: str, path: str, config: Config, rules: list[type[Rule]],
                 describe_line: Callable[[int], str], fixes: bool = True, trees: list[ast.Module] | None = None,
                 verify: bool = False) -> list[Finding]:
    """``trees``: ``[ast.parse(source)]`` when parsed already, else empty. ``verify``: that tree is
    lint_source's own and not compiled yet (NL000): compiled unless the fast tree's builder saw nothing
    the compiler could reject (normlint.lint.compiler_checks); the fast path takes it out of ``trees``
    and apart."""
    trees = [] if trees is None else trees
    # CPython's parser builds the tree (ast_tree), libcst only where it must: where the fast tree cannot be
    # made, and where a finding has a fix whose edits are to be placed (json, sarif, --fix: libcst renders
    # them); a file with no fixable finding, most files, never needs libcst's tree, whatever the report
    try:
        found = _lint_fast(source, path, config, rules, describe_line, trees, verify)
        if not fixes or all(f.fix is None for f in found):
            return found
    except ast_tree.Unsupported:
        pass
    except RecursionError:
        pass  # libcst's path below says how deep is too deep
    except Exception:  # a shape the fast tree gets wrong must cost time, never a finding
        if STRICT:
            raise
    if verify:  # the fast tree was not built: the compiler decides (the text's, once the tree is taken apart)
        error = compile_tree(trees[0], path) if trees else syntax_error(source, path)
        if error:
            return error
    import libcst as cst  # the fixes' path: imported on first use (~0.15 s)

    from normlint.lint.positions import Locator

    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, MemoryError, ValueError, TypeError) as exc:
        # CPython's message and position where CPython rejects the file too; else libcst's own detail
        cpython = syntax_error(source, path)
        if cpython:
            return cpython
        if isinstance(exc, cst.ParserSyntaxError):
            where = (exc.raw_line or 1, exc.raw_column + 1)
            detail = " ".join(str(exc).split())
        else:
            where, detail = (1, 1), f"{type(exc).__name__}: {_first_line(exc)}"
        return [Finding(path, *where, "NL000", f"NL000 not analysed: {PYTHON} compiles the file but libcst cannot parse it: {detail}")]
    ctx = FileContext(module, source, path, dict(config.options))
    try:
        hits, errors = _check(ctx, rules, path)
    finally:
        ctx.release()
    if not hits:
        return errors
    locate = Locator(source, module)
    offsets: Offsets | None = None
    findings = set(errors)
    for code, hit in hits:
        fix = _label(hit)
        if hit.fix is not None and fixes:
            offsets = offsets or Offsets(source)
            fix = resolve(hit.fix, locate.positions(), offsets)
        findings.add(_finding(path, code, hit, locate, describe_line, fix))
    return sorted(findings)


# tests set it: a fast tree that raises anything but Unsupported is a bug to see, not to fall back from
STRICT = False


def _lint_fast(source: str, path: str, config: Config, rules: list[type[Rule]],
               describe_line: Callable[[int], str], trees: list[ast.Module],
               verify: bool = False) -> list[Finding]:
    # ``ast``'s tree, when ours (``verify``: parsed by lint_source), is taken apart as the fast tree is
    # built: each statement's ``ast`` nodes are freed once its own are made (a warm heap, a lower peak)
    consume = verify and bool(trees)
    tree = trees.pop() if consume else trees[0] if trees else None
    try:
        module = ast_tree.build(source, tree, consume=consume)
    except (SyntaxError, ValueError, MemoryError) as exc:  # libcst's path words what CPython refuses
        raise ast_tree.Unsupported(str(exc)) from exc
    del tree
    if verify and module._b.unsafe is not None:  # the tree is gone: compiling the text raises the same
        error = syntax_error(source, path)
        if error:
            return error
    ctx = FileContext(module, source, path, dict(config.options))
    try:
        hits, errors = _check(ctx, rules, path)
    finally:
        ctx.release()
    findings = set(errors)
    for code, hit in hits:
        findings.add(_finding(path, code, hit, module.position, describe_line, _label(hit)))
    return sorted(findings)


def _check(ctx: FileContext, rules: list[type[Rule]], path: str) -> tuple[list[tuple[str, Hit]], list[Finding]]:
    hits: list[tuple[str, Hit]] = []
    errors = []
    with constants.current(lambda: ctx.constants):  # literal() sees through the file's constant names
        for rule_cls in rules:
            try:
                hits.extend((rule_cls.code, h) for h in rule_cls().check(ctx))
            except RecursionError:
                errors.append(Finding(path, 1, 1, "NL000", f"NL000 {rule_cls.code} skipped: file nests too deeply"))
    return hits, errors


def _label(hit: Hit) -> Fix | None:
    """The fix as the text report and flake8 know it: what it does and whether it is safe, no edits."""
    return Fix(hit.fix.message, hit.fix.applicability, ()) if hit.fix is not None else None


def _finding(path: str, code: str, hit: Hit, locate: Callable[[cst.CSTNode], tuple[int, int]],
             describe_line: Callable[[int], str], fix: Fix | None) -> Finding:
    line, col = locate(hit.node)
    message = hit.message
    if hit.related is not None and "{line}" in message:
        related = locate(hit.related)[0]
        message = message.replace("line {line}", describe_line(related)).replace("{line}", str(related))
    return Finding(path, line, col + 1, code, f"{code} {message}", fix=fix)  # the code, spelled once


# the same pattern flake8 uses
_NOQA = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)


def apply_noqa(findings: Iterable[Finding], lines: Sequence[str]) -> list[Finding]:
    """Drop findings silenced by ``# noqa`` / ``# noqa: NL101`` on their line, as flake8 does."""
    kept = []
    for f in findings:
        line = lines[f.line - 1] if 0 < f.line <= len(lines) else ""
        m = _NOQA.search(line)
        if m is None:
            kept.append(f)
            continue
        codes = m.group("codes")
        if codes is None:
            continue  # bare noqa silences everything on the line
        wanted = {c.upper() for c in re.split(r"[,\s]+", codes) if c}
        if not any(f.code.startswith(c) for c in wanted):
            kept.append(f)
    return kept
