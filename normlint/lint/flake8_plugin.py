"""flake8 adapter over the libcst engine (entry point ``NL``).

flake8 hands over the file's ``lines`` (already read and decoded); the engine's text prefilter decides
whether libcst parses the file at all. ``# noqa: NL101`` is handled by flake8 itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

from normlint import __version__
from normlint.config import Config, ConfigError, load_config, parse_size
from normlint.lint.engine import lint_source


class Plugin:
    name = "normlint"
    version = __version__
    _config: Config | None = None
    _threshold: int | None = None
    _max_file_size: str | None = None

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
        option_manager.add_option(
            "--normlint-max-file-size",
            default=None,
            parse_from_config=True,
            help="files larger than this (512K, 1M; 0: no limit) are one NL000 finding instead of being analysed "
            "(default 512K, or [tool.normlint] max-file-size)",
        )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls._threshold = getattr(options, "normlint_small_batch_threshold", None)
        cls._max_file_size = getattr(options, "normlint_max_file_size", None)
        cls._config = None

    @classmethod
    def config(cls) -> Config:
        if cls._config is None:
            try:
                cfg = load_config(Path.cwd())
            except ConfigError as exc:  # flake8 must not crash on our table: say so once, use the defaults
                print(f"normlint: warning: {exc}; using the default configuration", file=sys.stderr)
                cfg = Config()
            if cls._threshold is not None:
                cfg.options["small_batch_threshold"] = cls._threshold
            if cls._max_file_size is not None:
                try:
                    cfg.options["max_file_size"] = parse_size(cls._max_file_size, "--normlint-max-file-size")
                except ConfigError as exc:
                    print(f"normlint: warning: {exc}; using the default", file=sys.stderr)
            cls._config = cfg
        return cls._config

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        source = "".join(self.lines)
        for f in lint_source(source, self.filename, self.config()):
            yield f.line, f.col - 1, f.message, type(self)
