"""The shape every rule shares: its code, its page, its examples, its text prefilter and its check."""

from __future__ import annotations

import re
import sys
from typing import Any, Callable, ClassVar, Iterator, Sequence

from normlint.lint.syntax import cst
from normlint.records import record

from normlint.lint.context import FileContext
from normlint.lint.fixes import FixSpec
from normlint.lint.options import Option
from normlint.lint.rules.patterns import shared_trigger


def page_url(code: str, base: str | None) -> str | None:
    """The page of ``code`` under ``base`` (the docs-url setting); None without one: no dead links."""
    return f"{base.rstrip('/')}/{code}.md" if base else None


# the source the prefilter read last, and which required words it holds (the source is compared by identity)
_LAST: list[Any] = [None, {}]


_REGEX_TRIGGERS: dict[str, Callable[[str], bool]] = {}


def _regex_trigger(pattern: str) -> Callable[[str], bool]:
    """A trigger regex (re.MULTILINE), searched once a file whichever rules name it."""
    found = _REGEX_TRIGGERS.get(pattern)
    if found is None:
        search = re.compile(pattern, re.M).search
        found = _REGEX_TRIGGERS[pattern] = shared_trigger(lambda s: search(s) is not None)
    return found


def _prepared_match(prepared: tuple[tuple[tuple[str, ...], ...], tuple[Callable[[str], object], ...]],
                    source: str) -> bool:
    """``Rule.may_match`` once the rule's ``required`` and ``triggers`` are prepared (``Rule._prepare``)."""
    if _LAST[0] is not source:  # the rules ask about the same words: each is looked for once a file
        _LAST[0], _LAST[1] = source, {}
    seen = _LAST[1]
    needs, tests = prepared
    for alternatives in needs:
        for word in alternatives:
            found = seen.get(word)
            if found is None:
                found = seen[word] = word in source
            if found:
                break
        else:
            return False
    for test in tests:
        if not test(source):
            return False
    return True


def prefilter(rules: Sequence[type[Rule]]) -> Callable[[str], list[type[Rule]]]:
    """``lambda source: [r for r in rules if r.may_match(source)]``, with the rules' prepared triggers read
    once: a rule that keeps ``Rule.may_match`` is tested without a call of its own (29 rules, every file)."""
    plan = [(rule, rule.__dict__.get("_prepared") or rule._prepare())
            if getattr(rule.may_match, "__func__", None) is _BASE_MAY_MATCH else (rule, None) for rule in rules]

    def matching(source: str) -> list[type[Rule]]:
        return [rule for rule, prepared in plan
                if (_prepared_match(prepared, source) if prepared is not None else rule.may_match(source))]
    return matching


@record(frozen=True)
class Hit:
    """A finding before positions are known. ``{line}`` in the message becomes ``related``'s line."""

    node: cst.CSTNode
    message: str
    related: cst.CSTNode | None = None
    fix: FixSpec | None = None  # the rewrite that removes the finding, when the rule knows one


class Rule:
    """A rule: subclass it in any module under normlint/lint/rules/ and it is found (no registry to edit).

    ``check`` yields Hits whose message is the text after the code: the engine prefixes the code, so the
    CLI, flake8 and every report spell it the same way."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]  # one line, for `normlint rules` and SARIF shortDescription
    framework: ClassVar[str] = "Keras"
    # "error": the code computes something wrong; "warning": it works, but wastes or risks something
    severity: ClassVar[str] = "error"
    # False: an opt-in rule, run only when its full code is selected (select / extend-select)
    default: ClassVar[bool] = True
    # the rule family, for the generated tables; defaults to the FAMILY of the rule's module
    family: ClassVar[str | None] = None
    # settings of this rule: each is a [tool.normlint] key, a CLI flag and a flake8 option
    options: ClassVar[tuple[Option, ...]] = ()
    # Rule page (Ruff style)
    what: ClassVar[str]
    why: ClassVar[str]
    example: ClassVar[str]
    use_instead: ClassVar[str]
    references: ClassVar[tuple[str, ...]] = ()
    # what --fix does for this rule, and whether it is safe (None: no fix)
    fix_doc: ClassVar[str | None] = None
    # Fixit style: code that must stay silent / must be flagged (tested)
    VALID: ClassVar[tuple[str, ...]] = ()
    INVALID: ClassVar[tuple[str, ...]] = ()
    # All of these regexes must match the source text before the file is parsed for this rule.
    # Plain substrings checked before any regex: each entry must occur (a tuple entry: any of its items).
    required: ClassVar[tuple[str | tuple[str, ...], ...]] = ()
    # A trigger is a regex (re.MULTILINE) or a function of the text.
    triggers: ClassVar[tuple[str | Callable[[str], bool], ...]] = ()
    _prepared: ClassVar[tuple[tuple[tuple[str, ...], ...], tuple[Callable[[str], object], ...]] | None] = None

    @classmethod
    def may_match(cls, source: str) -> bool:
        prepared = cls.__dict__.get("_prepared")
        return _prepared_match(prepared if prepared is not None else cls._prepare(), source)

    @classmethod
    def _prepare(cls) -> tuple[tuple[tuple[str, ...], ...], tuple[Callable[[str], object], ...]]:
        """``required`` as tuples of alternatives and ``triggers`` as functions, worked out once a class."""
        needs = tuple((need,) if isinstance(need, str) else tuple(need) for need in cls.required)
        tests = tuple(_regex_trigger(t) if isinstance(t, str) else t for t in cls.triggers)
        cls._prepared = (needs, tests)
        return cls._prepared

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        raise NotImplementedError

    @classmethod
    def option(cls, ctx: FileContext, name: str) -> Any:
        """The value of this rule's option ``name`` for the file (configured, else its default)."""
        for opt in cls.options:
            if opt.name == name:
                return ctx.options.get(opt.key, opt.default)
        raise KeyError(f"{cls.code} declares no option {name!r}")

    @classmethod
    def family_name(cls) -> str:
        return cls.family or str(getattr(sys.modules.get(cls.__module__), "FAMILY", "Other"))

    @classmethod
    def help_url(cls, base: str | None = None) -> str | None:
        return page_url(cls.code, base)

    @classmethod
    def page(cls) -> str:
        refs = "\n".join(f"- {r}" for r in cls.references) or "- (none)"
        opts = ""
        if cls.options:
            opts = "## Options\n" + "".join(
                f"- `{o.name}` (default {o.default}): {o.help}. `[tool.normlint] {o.name}`, "
                f"`normlint lint --{o.name}`, flake8 `--normlint-{o.name}`.\n" for o in cls.options)
        return (
            f"# {cls.code} {cls.name}\n\n"
            f"{cls.summary}\n\n"
            f"Severity: **{cls.severity}**."
            + ("" if cls.default else f" Opt-in: runs only when selected by its full code "
               f"(`--extend-select {cls.code}`, `[tool.normlint] extend-select = [\"{cls.code}\"]`, "
               f"flake8 `--extend-select {cls.code}`).")
            + "\n\n"
            f"## What it does\n{cls.what.strip()}\n\n"
            f"## Why is this bad?\n{cls.why.strip()}\n\n"
            f"## Example\n```python\n{cls.example.strip()}\n```\n\n"
            f"## Use instead\n```python\n{cls.use_instead.strip()}\n```\n\n"
            + (f"{opts}\n" if opts else "")
            + (f"## Fix\n{cls.fix_doc.strip()}\n\n" if cls.fix_doc else "")
            + f"## References\n{refs}\n"
        )


_BASE_MAY_MATCH = Rule.__dict__["may_match"].__func__  # a rule that overrides it is asked itself
