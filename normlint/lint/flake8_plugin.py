"""flake8 adapter over the libcst engine (entry point ``NL``).

flake8 hands over the file's ``lines`` (already read and decoded); the engine's text prefilter decides
whether libcst parses the file at all. ``# noqa: NL101`` is handled by flake8 itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from normlint import __version__
from normlint.config import Config, ConfigError, load_config
from normlint.lint.engine import lint_source


class Plugin:
    name = "normlint"
    version = __version__
    _config: Config | None = None
    _threshold: int | None = None

    def __init__(self, tree: Any, lines: list[str], filename: str) -> None:
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        option_manager.add_option(
            "--normlint-small-batch-threshold",
            type=int,
            default=None,
            parse_from_config=True,
            help="NL602: flag fit(batch_size=N) below this on models with BatchNormalization (default 8, "
            "or [tool.normlint] small-batch-threshold)",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls._threshold = getattr(options, "normlint_small_batch_threshold", None)
        cls._config = None

    @classmethod
    def config(cls) -> Config:
        if cls._config is None:
            try:
                cfg = load_config(Path.cwd())
            except ConfigError:
                cfg = Config()  # flake8 must not crash on our table; `normlint lint` reports it
            if cls._threshold is not None:
                cfg.options["small_batch_threshold"] = cls._threshold
            cls._config = cfg
        return cls._config

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        source = "".join(self.lines)
        for f in lint_source(source, self.filename, self.config()):
            yield f.line, f.col - 1, f.message, type(self)
