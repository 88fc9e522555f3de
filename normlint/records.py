"""``@record``: ``@dataclass`` without its cost at import, for the classes every lint run imports.

``dataclasses`` writes each class's methods as source text and compiles them when the module is
imported: the 33 classes a lint run imports cost ~11 ms of its start, and the module pulls in
``inspect`` (~4 ms), serial time before any file is read (``benchmarks/bench_startup.py``). ``@record``
reads the same declaration (annotations, defaults, ``field(default_factory=..., compare=...)``, and
``eq``, ``frozen``, ``order``) and binds methods that ``python -m normlint.records`` generated from
those declarations into normlint/record_code.py, compiled once like any module (a test fails when that
file is stale). A class whose declaration no longer matches its generated code is made by
``dataclasses`` itself: correct, only slower to import.

What a record has, as a dataclass does: ``__init__`` (fields in order, defaults, factories), ``__repr__``,
``__eq__`` on the compared fields (``eq``, the default; else identity), ``__hash__`` (frozen and eq: of
the compared fields; eq and not frozen: unhashable), ``__lt__``..``__ge__`` (``order``), assignment
refused (``frozen``: ``FrozenInstanceError``). ``replace`` and ``asdict`` work on records and dataclasses.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar

T = TypeVar("T")
MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()


class FrozenInstanceError(AttributeError):
    """An assignment to a field of a frozen record."""


class _Field:
    __slots__ = ("default", "factory", "compare")

    def __init__(self, default: Any, factory: Callable[[], Any] | None, compare: bool) -> None:
        self.default, self.factory, self.compare = default, factory, compare


def _field(*, default: Any = MISSING, default_factory: Callable[[], Any] | None = None, compare: bool = True) -> Any:
    """A field's default made anew for each record (``default_factory``), or one left out of comparisons."""
    return _Field(default, default_factory, compare)


# (field names, "required" / "default" / "factory" per field, the compared fields, eq, frozen, order)
Shape = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, bool, bool]
DECLARED: dict[str, Shape] = {}  # every record's shape, by module.qualname (what the generator writes)
_GENERATED: dict[str, tuple[Shape, Callable[..., dict[str, Any]]]] | None = None


def _fields(cls: type) -> list[tuple[str, Any]]:
    """(name, what the class body assigned it: MISSING, a default or a _Field), in declaration order."""
    out = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
        if text.startswith(("ClassVar", "typing.ClassVar")):
            continue
        out.append((name, cls.__dict__.get(name, MISSING)))
    return out


def _shape(fields: list[tuple[str, Any]], eq: bool, frozen: bool, order: bool) -> Shape:
    kinds = tuple("required" if v is MISSING else "factory" if isinstance(v, _Field) and v.factory is not None
                  else "default" for _, v in fields)
    compared = tuple(n for n, v in fields if not (isinstance(v, _Field) and not v.compare))
    return tuple(n for n, _ in fields), kinds, compared, eq, frozen, order


def _record(cls: type[T] | None = None, /, *, eq: bool = True, frozen: bool = False, order: bool = False) -> Any:
    """``@record`` / ``@record(eq=False)`` / ``@record(frozen=True, order=True)``: as ``@dataclass``."""

    def make(cls: type[T]) -> type[T]:
        global _GENERATED
        fields = _fields(cls)
        shape = _shape(fields, eq, frozen, order)
        key = f"{cls.__module__}.{cls.__qualname__}"
        DECLARED[key] = shape
        if _GENERATED is None:
            try:
                from normlint.record_code import CODE
            except ImportError:  # not generated yet: every record is a dataclass
                CODE = {}
            _GENERATED = CODE  # type: ignore[assignment]
        generated = _GENERATED.get(key)  # type: ignore[union-attr]
        if generated is None or generated[0] != shape:
            return _dataclass(cls, fields, eq, frozen, order)
        values = []
        for name, v in fields:
            if isinstance(v, _Field):
                values.append(v.factory if v.factory is not None else v.default)
                if v.factory is not None:
                    delattr(cls, name)  # as dataclasses leaves it: no class attribute for a factory field
                else:
                    setattr(cls, name, v.default)
            elif v is not MISSING:
                values.append(v)
        for name, fn in generated[1](*values).items():
            if name == "__hash__" or name not in cls.__dict__:  # what the class defines itself stays
                setattr(cls, name, fn)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = _repr  # type: ignore[assignment]
        if frozen:
            cls.__setattr__ = _refuse_assignment  # type: ignore[assignment]
            cls.__delattr__ = _refuse_deletion  # type: ignore[assignment]
        cls.__record_fields__ = shape[0]  # type: ignore[attr-defined]
        return cls

    return make if cls is None else make(cls)


def _dataclass(cls: type[T], fields: list[tuple[str, Any]], eq: bool, frozen: bool, order: bool) -> type[T]:
    import dataclasses

    for name, v in fields:
        if isinstance(v, _Field):
            setattr(cls, name, dataclasses.field(default=v.default, compare=v.compare) if v.factory is None
                    else dataclasses.field(default_factory=v.factory, compare=v.compare))
    made = dataclasses.dataclass(cls, eq=eq, frozen=frozen, order=order)
    made.__record_fields__ = tuple(n for n, _ in fields)  # type: ignore[attr-defined]
    return made


def _refuse_assignment(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_deletion(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


_REPRS: set[int] = set()  # the records whose repr is being written (a flow's values refer to each other)


def _repr(self: Any) -> str:
    if id(self) in _REPRS:
        return "..."
    _REPRS.add(id(self))
    try:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self).__record_fields__)
    finally:
        _REPRS.discard(id(self))
    return f"{type(self).__qualname__}({inner})"


def _replace(obj: T, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes``."""
    values = {n: getattr(obj, n) for n in type(obj).__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def _asdict(obj: Any) -> Any:
    """A record as a dict of its fields, records inside it too (lists and tuples of them, dicts)."""
    fields = getattr(type(obj), "__record_fields__", None)
    if fields is not None:
        return {n: _asdict(getattr(obj, n)) for n in fields}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_asdict(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _asdict(v) for k, v in obj.items()}
    return obj


if TYPE_CHECKING:  # the type checker reads records as the dataclasses they behave as
    from dataclasses import asdict, dataclass as record, field, replace
else:
    record, field, replace, asdict = _record, _field, _replace, _asdict

__all__ = ["FrozenInstanceError", "MISSING", "asdict", "field", "record", "replace"]


# ---- the generator: python -m normlint.records writes normlint/record_code.py

# the modules that declare records (imported by the generator; a test finds every @record in normlint)
MODULES = (
    "normlint.config", "normlint.lint.engine", "normlint.lint.fixes", "normlint.lint.files", "normlint.lint.index",
    "normlint.lint.context", "normlint.lint.graph", "normlint.lint.options", "normlint.lint.rules.base",
    "normlint.lint.torch_modes", "normlint.lint.notebook", "normlint.lint.autofix",
)


def _function_name(key: str) -> str:
    return "_" + key.replace(".", "_")


def _tuple(owner: str, names: tuple[str, ...], indent: str, fold: bool = False) -> str:
    """``(owner.a, owner.b,)``, folded over lines that stay under the line length."""
    items = [f"{owner}.{n}," for n in names]
    if not fold and len(indent) + sum(len(i) + 1 for i in items) < 100:
        return f"({' '.join(items)})"
    lines, line = [], ""
    for item in items:
        if line and len(indent) + 4 + len(line) + len(item) > 110:
            lines.append(line)
            line = ""
        line = f"{line} {item}" if line else item
    lines.append(line)
    inner = "".join(f"\n{indent}    {text}" for text in lines)
    return f"({inner}\n{indent})"


def _methods(key: str, shape: Shape) -> str:
    names, kinds, compared, eq, frozen, order = shape
    params, body, defaults = [], [], []
    for i, (name, k) in enumerate(zip(names, kinds)):
        if k == "required":
            params.append(name)
            value = name
        elif k == "default":
            defaults.append(f"d{i}")
            params.append(f"{name}=d{i}")
            value = name
        else:
            defaults.append(f"f{i}")
            params.append(f"{name}=MISSING")
            value = f"f{i}() if {name} is MISSING else {name}"
        body.append(f"        _set(self, {name!r}, {value})" if frozen else f"        self.{name} = {value}")
    lines = [f"def {_function_name(key)}({', '.join(defaults)}):"]
    if len(params) > 4:
        lines += ["    def __init__(", "        self,", *(f"        {p}," for p in params), "    ):"]
    else:
        lines.append(f"    def __init__(self{''.join(', ' + p for p in params)}):")
    lines.extend(body or ["        pass"])
    made = ["__init__"]

    def compare(method: str, op: str) -> None:
        mine, theirs = _tuple("self", compared, "        "), _tuple("other", compared, "        ")
        if "\n" not in mine and len(mine) + len(theirs) > 100:
            mine, theirs = _tuple("self", compared, "        ", fold=True), _tuple("other", compared, "        ", fold=True)
        lines.extend(["", f"    def {method}(self, other):", "        if other.__class__ is not self.__class__:",
                      "            return NotImplemented", f"        return {mine} {op} {theirs}"])
        made.append(method)

    if eq:
        compare("__eq__", "==")
        if frozen:
            lines += ["", "    def __hash__(self):", f"        return hash({_tuple('self', compared, '        ')})"]
            made.append("__hash__")
    if order:
        for method, op in (("__lt__", "<"), ("__le__", "<="), ("__gt__", ">"), ("__ge__", ">=")):
            compare(method, op)
    entries = [f"{m!r}: {m}," for m in made] + (["'__hash__': None,"] if eq and not frozen else [])
    lines.append("")
    lines.append("    return {" + "".join(f"\n        {e}" for e in entries) + "\n    }")
    return "\n".join(lines)


def generated_source() -> str:
    """normlint/record_code.py as the declarations read now (their modules imported)."""
    import importlib
    import pprint

    for module in MODULES:
        importlib.import_module(module)
    parts = ['"""Generated by ``python -m normlint.records`` from the @record declarations: do not edit."""',
             "", "from normlint.records import MISSING", "", "_set = object.__setattr__", ""]
    table = []
    for key in sorted(DECLARED):
        parts += ["", _methods(key, DECLARED[key]), ""]
        shape = pprint.pformat(DECLARED[key], width=100).replace("\n", "\n        ")
        table.append(f"    {key!r}: (\n        {shape},\n        {_function_name(key)},\n    ),")
    parts += ["", "CODE = {", *table, "}", ""]
    return "\n".join(parts)


def main() -> int:
    from pathlib import Path

    from normlint import records  # this file runs as __main__: the modules register with normlint.records

    target = Path(records.__file__).with_name("record_code.py")
    target.write_text(records.generated_source(), encoding="utf-8")
    print(f"wrote {target} ({len(records.DECLARED)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
