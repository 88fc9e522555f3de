"""``[tool.normlint]`` in pyproject.toml: code selection, per-file ignores and rule options.

Read by the standalone CLI and by the flake8 plugin alike.

    [tool.normlint]
    select = ["NL"]                 # code prefixes to report (default: all rules on by default)
    extend-select = ["NL103"]       # opt-in rules, by their full code (also accepted in select)
    ignore = ["NL6"]                # code prefixes to drop
    docs-url = "https://example.org/normlint/rules/"   # base of the rule pages linked from reports
    extend-exclude = ["build", "*_pb2.py"]   # globs that folder walks skip (files named explicitly are linted)
    small-batch-threshold = 8       # an option declared on a rule (NL602)
    max-file-size = "512K"          # an option declared on the engine
    [tool.normlint.per-file-ignores]
    "tests/*" = ["NL301"]

The option keys are not listed here: every ``Option`` declared on the engine or a rule
(normlint.lint.options) is a key, a ``normlint lint --NAME`` flag and a flake8 ``--normlint-NAME`` option.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from normlint.records import field, record


class ConfigError(Exception):
    """pyproject.toml exists but its [tool.normlint] table is not usable."""


@record
class Config:
    select: tuple[str, ...] = ("NL",)
    extend_select: tuple[str, ...] = ()  # added to select; an opt-in rule runs only when named in full here or in select
    ignore: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    root: Path | None = None
    docs_url: str | None = None  # base URL of the rule pages; None: reports carry no links
    extend_exclude: tuple[str, ...] = ()  # globs of paths that folder walks skip (besides .git, venv, ...)

    def enabled(self, code: str, path: str | None = None) -> bool:
        if code == "NL000":
            return True
        if code in _opt_in():
            if code not in self.select and code not in self.extend_select:
                return False
        elif not _matches(code, self.select + self.extend_select):
            return False
        if _matches(code, self.ignore):
            return False
        if path is not None and self.per_file_ignores:
            rel = _relative(path, self.root)
            for pattern, codes in self.per_file_ignores.items():
                if (fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(rel).name, pattern)) and _matches(code, codes):
                    return False
        return True

    def any_enabled(self, codes, path: str | None = None) -> bool:
        return any(self.enabled(c, path) for c in codes)


def _opt_in() -> frozenset[str]:
    from normlint.lint.rules import OPT_IN

    return OPT_IN


def _matches(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def _relative(path: str, root: Path | None) -> str:
    p = Path(path)
    if root is not None:
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return p.as_posix()


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for d in [start, *start.parents] if start.is_dir() else [start.parent, *start.parent.parents]:
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def known_codes() -> tuple[str, ...]:
    from normlint.lint.rules import ERRORS

    return tuple(ERRORS)


def check_codes(codes: tuple[str, ...], where: str) -> tuple[str, ...]:
    """``codes`` when each is a prefix of at least one normlint code (``NL``, ``NL1``, ``NL201``), else a
    ConfigError naming the first that is not: a typo must not silently select or ignore nothing."""
    known = known_codes()
    for code in codes:
        if not any(k.startswith(code) for k in known):
            raise ConfigError(f"{where}: unknown code {code!r} (normlint's codes are NL000 and the NLxxx of `normlint rules`)")
    return codes


def _codes(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: [tool.normlint] {key} must be a list of code prefixes, got {value!r}")
    return check_codes(tuple(v.strip().upper() for v in value), f"{path}: [tool.normlint] {key}")


def load_config(start: Path | None = None, pyproject: Path | None = None) -> Config:
    """Config from the nearest pyproject.toml above ``start`` (or the given file); defaults if none."""
    path = pyproject or find_pyproject(start or Path.cwd())
    if path is None:
        return Config()
    import tomllib  # only where there is a file to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table, got {type(tool).__name__}")
    table = tool.get("normlint", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.normlint] must be a table")
    from normlint.lint.options import OptionError, all_options

    cfg = Config(root=path.parent)
    options = {o.name: o for o in all_options()}
    known = {"select", "extend-select", "ignore", "per-file-ignores", "docs-url", "extend-exclude"} | set(options)
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.normlint] key(s): {', '.join(unknown)}")
    if "select" in table:
        cfg.select = _codes(table["select"], "select", path)
        if not cfg.select:
            raise ConfigError(f"{path}: [tool.normlint] select is empty: nothing would be checked")
    if "extend-select" in table:
        cfg.extend_select = _codes(table["extend-select"], "extend-select", path)
    if "ignore" in table:
        cfg.ignore = _codes(table["ignore"], "ignore", path)
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{path}: [tool.normlint.per-file-ignores] must map globs to code lists")
    cfg.per_file_ignores = {k: _codes(v, f"per-file-ignores.{k}", path) for k, v in pfi.items()}
    if "extend-exclude" in table:
        globs = table["extend-exclude"]
        if not isinstance(globs, list) or not all(isinstance(g, str) and g.strip() for g in globs):
            raise ConfigError(f"{path}: [tool.normlint] extend-exclude must be a list of path globs, got {globs!r}")
        cfg.extend_exclude = tuple(g.strip() for g in globs)
    if "docs-url" in table:
        url = table["docs-url"]
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ConfigError(f"{path}: [tool.normlint] docs-url must be an http(s) URL, got {url!r}")
        cfg.docs_url = url
    for name, option in options.items():
        if name in table:
            try:
                cfg.options[option.key] = option.parse(table[name], f"{path}: [tool.normlint] {name}")
            except OptionError as exc:
                raise ConfigError(str(exc)) from None
    return cfg
