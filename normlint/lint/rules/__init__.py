"""The rule registry: every ``Rule`` subclass defined in a module of this package, in code order.

Rules are discovered (as Fixit walks its rule modules): adding a rule is writing its class in a module
here, nothing else. ``python -m normlint.scaffold`` writes such a module with its fixtures.
"""

from __future__ import annotations

import importlib
import os

from normlint.lint.rules.base import Hit, Rule


def _module_names() -> list[str]:
    """The modules of this package, by name. Listed from its folder (``pkgutil.iter_modules`` imports
    ``inspect``, ~5 ms of every run's start); a package that is no plain folder (a zip) asks pkgutil."""
    names: set[str] = set()
    for folder in __path__:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        names.update(e[:-3] for e in entries if e.endswith(".py") and e[:-3].isidentifier() and e != "__init__.py")
    if not names:
        import pkgutil

        names = {info.name for info in pkgutil.iter_modules(__path__)}
    return sorted(names)


def _discover() -> tuple[type[Rule], ...]:
    found: dict[str, type[Rule]] = {}
    for name in _module_names():
        module = importlib.import_module(f"{__name__}.{name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Rule) and obj.__module__ == module.__name__
                    and "code" in obj.__dict__):
                other = found.get(obj.code)
                if other is not None and other is not obj:
                    raise RuntimeError(f"two rules claim {obj.code}: {other.__module__}.{other.__name__} "
                                       f"and {obj.__module__}.{obj.__name__}")
                found[obj.code] = obj
    return tuple(sorted(found.values(), key=lambda r: r.code))


ALL_RULES: tuple[type[Rule], ...] = _discover()
RULES_BY_CODE: dict[str, type[Rule]] = {r.code: r for r in ALL_RULES}
# Opt-in rules: they run only when their full code is selected (select / extend-select)
OPT_IN: frozenset[str] = frozenset(r.code for r in ALL_RULES if not r.default)
# The ERRORS table: code -> one-line summary (NL000 is the engine's own).
ERRORS: dict[str, str] = {"NL000": "file could not be read, parsed or analysed"} | {r.code: r.summary for r in ALL_RULES}

__all__ = ["ALL_RULES", "ERRORS", "OPT_IN", "RULES_BY_CODE", "Hit", "Rule"]
