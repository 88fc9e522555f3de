"""Settings declared where they are used (pylint's ``options`` on checkers): the engine's own here, each
rule's on its class. ``[tool.normlint]`` keys, ``normlint lint --NAME`` flags and flake8's
``--normlint-NAME`` options are all generated from these declarations (see ``all_options``)."""

from __future__ import annotations

from typing import Any

from normlint.records import record


class OptionError(ValueError):
    """A value that does not fit its option; the message names where it came from."""


@record(frozen=True)
class Option:
    name: str  # kebab-case: the [tool.normlint] key, the CLI flag --NAME, flake8's --normlint-NAME
    kind: str  # "int" (a whole number) or "size" (bytes: 524288, "512K", "1M")
    default: int
    help: str
    minimum: int = 0

    @property
    def key(self) -> str:
        """The name in ``FileContext.options`` and in argparse namespaces."""
        return self.name.replace("-", "_")

    def parse(self, value: Any, where: str) -> int:
        number = parse_size(value, where) if self.kind == "size" else _parse_int(value, where)
        if number < self.minimum:
            raise OptionError(f"{where} must be at least {self.minimum}, got {value!r}")
        return number


def _parse_int(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise OptionError(f"{where} must be a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise OptionError(f"{where} must be a whole number, got {value!r}")


def parse_size(value: Any, where: str, example: str = "512K or 1M") -> int:
    """Bytes from 524288, "512K", "1M", "1.5MiB"; 0 means no limit."""
    if isinstance(value, bool):
        raise OptionError(f"{where} must be a size like {example}, got {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip().upper().removesuffix("IB").removesuffix("B")
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        number = text[:-1] if scale > 1 else text
        try:
            size = float(number)
        except ValueError:
            size = -1.0
        if size >= 0:
            return int(size * scale)
    raise OptionError(f"{where} must be a size like {example} (0: no limit), got {value!r}")


MAX_FILE_SIZE = Option(
    "max-file-size", "size", 512 << 10,
    "files larger than this (512K, 1M; 0: no limit) are one NL000 finding, not analysed "
    "(default 512K: the analysis takes ~0.9 KB of memory per source byte)",
)
ENGINE_OPTIONS: tuple[Option, ...] = (MAX_FILE_SIZE,)


def all_options() -> tuple[Option, ...]:
    """The engine's options, then every rule's, in code order."""
    from normlint.lint.rules import ALL_RULES

    return ENGINE_OPTIONS + tuple(o for rule in ALL_RULES for o in rule.options)
