"""Import a user's model file and find the model(s) in it (runs in the worker process)."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

BUILDER_NAMES = ("build_model", "create_model", "get_model", "make_model")
SHAPE_NAMES = ("INPUT_SHAPE", "input_shape", "IMAGE_SHAPE")
_NORMLINT_DIR = str(Path(__file__).resolve().parent.parent)


class LoadError(Exception):
    """A one-line reason the file gave no model; ``user_traceback`` holds the user's frames, if any."""

    def __init__(self, message: str, user_traceback: str | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.user_traceback = user_traceback
        self.kind = kind


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without normlint's or importlib's frames."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(_NORMLINT_DIR) and not f.filename.startswith("<frozen")
    ]
    lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def _raised(what: str, exc: BaseException) -> LoadError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(first) > 300:  # an exception that prints a whole array stays one readable line
        first = first[:300] + " ..."
    return LoadError(f"{what} raised {type(exc).__name__}: {first}".rstrip(": "), user_traceback(exc), "raised")


def package_name(path: Path) -> tuple[str, Path] | None:
    """(dotted module name, folder to put on sys.path) when ``path`` lies in a package (``__init__.py``
    beside it), so that its relative imports work; None for a plain script."""
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    if len(parts) == 1 or not path.stem.isidentifier():
        return None
    return ".".join(parts), folder


def import_file(path: Path):
    packaged = package_name(path)
    if packaged is not None:  # pkg/model.py with `from .blocks import block`: import it as pkg.model
        name, root = packaged
        sys.path.insert(0, str(root))
    else:
        name = re.sub(r"\W", "_", path.stem) or "model"
        if name[0].isdigit():
            name = "_" + name
        sys.path.insert(0, str(path.parent))
    try:
        if packaged is not None:
            module = importlib.import_module(name)
            origin = getattr(module, "__file__", None)
            if origin is None or Path(origin).resolve() != path.resolve():
                raise LoadError(f"importing {name} loaded {origin}, not {path}: another package named "
                                f"{name.split('.')[0]} comes first on sys.path", kind="raised")
        else:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise LoadError(f"{path} is not an importable Python file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    except LoadError:
        raise
    except SystemExit as exc:
        raise LoadError(f"{path.name} called sys.exit({exc.code}) while being imported", kind="raised") from None
    except BaseException as exc:  # the user's code: report, never crash
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _raised(f"{path.name}", exc) from None
    return module


def _call_builder(fn, label: str):
    try:
        sig = inspect.signature(fn)
        required = [p for p in sig.parameters.values() if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    if required:
        raise LoadError(f"{label} needs arguments ({', '.join(p.name for p in required)}): pass --entry to a function without")
    try:
        return fn()
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _raised(label, exc) from None


def find_models(module, entry: str | None) -> list[tuple[str, Any]]:
    """Models in the order of the issue: --entry, builder functions, module-level models, subclasses."""
    import keras

    if entry:
        mod_part, _, attr = entry.rpartition(":")
        target = module
        if mod_part and mod_part != module.__name__:
            try:
                target = importlib.import_module(mod_part)
            except BaseException as exc:
                raise _raised(f"--entry module {mod_part}", exc) from None
        fn = getattr(target, attr, None)
        if fn is None:
            raise LoadError(f"--entry {entry}: {attr!r} not found")
        model = _call_builder(fn, f"--entry {entry}") if callable(fn) and not isinstance(fn, keras.layers.Layer) else fn
        if not isinstance(model, keras.layers.Layer):
            raise LoadError(f"--entry {entry} returned {type(model).__name__}, not a Keras model")
        return [(attr, model)]
    for name in BUILDER_NAMES:
        fn = getattr(module, name, None)
        if callable(fn):
            model = _call_builder(fn, f"{name}()")
            if not isinstance(model, keras.layers.Layer):
                raise LoadError(f"{name}() returned {type(model).__name__}, not a Keras model")
            return [(f"{name}()", model)]
    found = [(n, v) for n, v in vars(module).items() if isinstance(v, keras.Model) and not n.startswith("_")]
    if found:
        return found
    classes = [
        (n, v)
        for n, v in vars(module).items()
        if inspect.isclass(v) and v.__module__ == module.__name__ and issubclass(v, (keras.Model, keras.layers.Layer))
    ]
    has_model_class = any(issubclass(c, keras.Model) for _, c in classes)
    models = []
    for n, cls in classes:
        if has_model_class and not issubclass(cls, keras.Model):
            continue  # layers of a model class are checked through the model
        try:
            sig = inspect.signature(cls)
            if any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in sig.parameters.values()):
                continue
        except (TypeError, ValueError):
            pass
        models.append((f"{n}()", _call_builder(cls, f"{n}()")))
    if models:
        return models
    # standalone normalization layers at module level (e.g. an adapted Normalization) are checkable too
    from normlint.runtime.checks import is_checked

    layers = [(n, v) for n, v in vars(module).items() if isinstance(v, keras.layers.Layer) and is_checked(v)]
    if layers:
        return layers
    raise LoadError(
        f"no model found in {Path(module.__file__).name}: define build_model() (or create_model/get_model/"
        f"make_model), a module-level keras.Model, or a Model subclass constructible without arguments; "
        f"or pass --entry module:callable",
        kind="no_model",
    )


def declared_shape(module, model) -> tuple[int, ...] | None:
    for holder in (model, type(model), module):
        for name in SHAPE_NAMES:
            value = getattr(holder, name, None)
            if isinstance(value, (tuple, list)) and value and all(isinstance(d, int) for d in value):
                return tuple(value)
    return None


def model_input_shape(model) -> tuple[int, ...] | None:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        shape = tuple(inputs[0].shape[1:])
        if all(isinstance(d, int) for d in shape):
            return shape
    shapes = getattr(model, "_build_shapes_dict", None)
    if isinstance(shapes, dict) and len(shapes) == 1:
        (only,) = shapes.values()
        if only and all(isinstance(d, int) for d in only[1:]):
            return tuple(only[1:])
    return None


def module_arrays(module) -> dict[str, np.ndarray]:
    return {n: v for n, v in vars(module).items() if isinstance(v, np.ndarray) and v.ndim >= 2 and not n.startswith("_")}


def layer_lines(source: str, module, model, layers: dict[str, Any]) -> dict[str, int]:
    """Source line where each layer (by report path) is built: ``self.attr = ...`` of its owner,
    ``name="..."`` in the call, or ``var = ...`` at module level. Layers not found are left out."""
    owners = [model] + list(layers.values())
    attr_of: dict[int, str] = {}
    for owner in owners:
        for attr, value in list(vars(owner).items()):
            if not attr.startswith("_") and id(value) not in attr_of and any(value is layer for layer in layers.values()):
                attr_of[id(value)] = attr
    globals_of = {id(v): n for n, v in vars(module).items() if not n.startswith("_")}
    lines: dict[str, int] = {}
    for path, layer in layers.items():
        patterns = []
        if id(layer) in attr_of:
            patterns.append(rf"self\.{re.escape(attr_of[id(layer)])}\s*=(?!=)")
        patterns.append(rf"name\s*=\s*[\"']{re.escape(layer.name)}[\"']")
        if id(layer) in globals_of:
            patterns.append(rf"^\s*{re.escape(globals_of[id(layer)])}\s*=(?!=)")
        for pattern in patterns:
            m = re.search(pattern, source, re.M)
            if m:
                lines[path] = source.count("\n", 0, m.start()) + 1
                break
    return lines
