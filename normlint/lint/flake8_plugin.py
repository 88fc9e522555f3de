"""flake8 adapter over the engine (entry point ``NL``).

flake8 hands over the file's ``lines`` (already read and decoded) and its ``ast`` tree; the engine's text
prefilter decides whether the file is analysed at all, on that tree (normlint.lint.ast_tree). ``# noqa:
NL101`` is handled by flake8 itself. A notebook named on flake8's command line (``flake8 nb.ipynb``) is read as a notebook, findings on the .ipynb file's lines
with the cell named (nbQA is the usual route: it hands flake8 the cells as a Python file). Every option
declared on the engine or a rule is a flake8 option ``--normlint-NAME`` (also in flake8's config files),
over ``[tool.normlint]`` in pyproject.toml.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any, Iterator

from normlint import __version__
from normlint.config import Config, ConfigError, load_config
from normlint.lint.engine import lint_source
from normlint.lint.files import NOTEBOOK, lint_notebook
from normlint.lint.options import OptionError, all_options
from normlint.lint.rules import OPT_IN


class Plugin:
    name = "normlint"
    version = __version__
    _config: Config | None = None
    _given: dict[str, Any] = {}
    _opt_in: tuple[str, ...] = ()

    def __init__(self, tree: Any, lines: list[str], filename: str) -> None:
        self.tree = tree if isinstance(tree, ast.Module) else None
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        for option in all_options():
            option_manager.add_option(
                f"--normlint-{option.name}",
                default=None,
                parse_from_config=True,
                help=f"{option.help} (or [tool.normlint] {option.name})",
            )

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls._given = {o.key: getattr(options, f"normlint_{o.key}", None) for o in all_options()}
        # opt-in rules run when flake8's own --select / --extend-select name them in full
        named = list(getattr(options, "select", None) or []) + list(getattr(options, "extend_select", None) or [])
        cls._opt_in = tuple(c for c in named if c in OPT_IN)
        cls._config = None

    @classmethod
    def config(cls) -> Config:
        if cls._config is None:
            try:
                cfg = load_config(Path.cwd())
            except ConfigError as exc:  # flake8 must not crash on our table: say so once, use the defaults
                print(f"normlint: warning: {exc}; using the default configuration", file=sys.stderr)
                cfg = Config()
            for option in all_options():
                value = cls._given.get(option.key)
                if value is not None:
                    try:
                        cfg.options[option.key] = option.parse(value, f"--normlint-{option.name}")
                    except OptionError as exc:
                        print(f"normlint: warning: {exc}; using the default", file=sys.stderr)
            cfg.extend_select = cfg.extend_select + cls._opt_in
            cls._config = cfg
        return cls._config

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        source = "".join(self.lines)
        if self.filename.endswith(NOTEBOOK):  # `flake8 nb.ipynb`: the JSON would read as one Python dict
            for f in lint_notebook(source, self.filename, self.config(), fixes=False):
                yield f.line, 0, f"{f.code} cell {f.cell}, line {f.cell_line}: {f.text}", type(self)
            return
        for f in lint_source(source, self.filename, self.config(), fixes=False, tree=self.tree):
            yield f.line, f.col - 1, f.message, type(self)
