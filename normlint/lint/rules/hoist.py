"""The fix of NL401: hoist the layers a ``call()`` constructs into ``__init__`` as attributes.

``x = layers.Conv2D(6, 5)(inputs)`` in ``call()`` becomes ``x = self.conv2d(inputs)``, and
``self.conv2d = layers.Conv2D(6, 5)`` is appended to ``__init__`` (written when the class has none).
One fix per class hoists every construction it can; a construction stays where it is when its arguments
read a name that ``call()`` binds (its inputs, a local), when it sits in a loop or a comprehension (one
hoisted layer would replace several), or inside another construction (that one moves as a whole).
"""

from __future__ import annotations

import re

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext
from normlint.lint.data_scaling import names_in
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit, indentation
from normlint.lint.index import children

_LOOPS = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.Lambda, cst.FunctionDef)
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def attr_name(kind: str) -> str:
    """``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``, ``BatchNormalization`` -> ``batch_normalization``."""
    return _SNAKE.sub("_", kind).lower().replace("2_d", "2d").replace("1_d", "1d").replace("3_d", "3d")


def _bound_in(fn: cst.FunctionDef) -> set[str]:
    names = {p.name.value for p in [*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params]}
    if isinstance(fn.params.star_arg, cst.Param):
        names.add(fn.params.star_arg.name.value)
    if fn.params.star_kwarg is not None:
        names.add(fn.params.star_kwarg.name.value)
    stack: list[cst.CSTNode] = [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr, cst.CompFor)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for t in targets:
                names |= names_in(t)
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            names |= names_in(node.asname.name)
        stack.extend(children(node))
    return names


def _constructions(fn: cst.FunctionDef, wanted: set[int]) -> list[cst.Call]:
    """The outermost constructions of ``wanted`` in fn's body that are not inside a loop/comprehension."""
    found: list[cst.Call] = []
    stack: list[tuple[cst.CSTNode, bool]] = [(s, False) for s in reversed(fn.body.body)] \
        if isinstance(fn.body, cst.IndentedBlock) else []
    while stack:
        node, looped = stack.pop()
        if id(node) in wanted:
            if not looped:
                found.append(node)  # type: ignore[arg-type]
            continue  # what it holds moves with it (or stays with it)
        inner = looped or isinstance(node, _LOOPS)
        stack.extend((k, inner) for k in reversed(children(node)))
    return found


def hoist_fix(ctx: FileContext, cls: cst.ClassDef, flagged: list[cst.Call],
              method: str = "call") -> tuple[FixSpec, list[cst.Call]] | None:
    """The class-wide fix for the constructions flagged in ``cls.call()`` (a PyTorch module's
    ``forward()`` when ``method`` says so), and the constructions it moves."""
    if not isinstance(cls.body, cst.IndentedBlock):
        return None
    methods = {s.name.value: s for s in cls.body.body if isinstance(s, cst.FunctionDef)}
    call_fn = methods.get(method)
    if call_fn is None or not isinstance(call_fn.body, cst.IndentedBlock):
        return None
    local = _bound_in(call_fn) - {"self"}
    movable = [c for c in _constructions(call_fn, {id(c) for c in flagged})
               if not names_in(c) & local]
    if not movable:
        return None
    taken = set(re.findall(r"self\.(\w+)", ctx.code(cls))) | set(methods)
    init = methods.get("__init__")
    if init is not None and not (isinstance(init.body, cst.IndentedBlock) and init.body.body):
        return None  # `def __init__(self): ...` on one line: nowhere to append without rewriting it
    names = []
    for call in movable:
        kind = ctx.names.layer_class(call.func) or ctx.names.torch_module(call.func) or (
            call.func.value if isinstance(call.func, cst.Name) else "layer")
        base = attr_name(kind)
        name, n = base, 0
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names.append(name)

    def edits() -> tuple[NodeEdit, ...]:  # rendered only where edits are placed (libcst's tree holds indentation)
        body_indent = indentation(ctx.module, (cls.body, call_fn.body))
        placed = [NodeEdit(call, f"self.{name}") for call, name in zip(movable, names)]
        lines = "".join(f"{body_indent}self.{name} = {ctx.code(call)}\n" for call, name in zip(movable, names))
        if init is not None:
            return (*placed, NodeEdit(init.body.body[-1], lines, "insert_after_lines"))  # type: ignore[union-attr]
        def_indent = indentation(ctx.module, (cls.body,))
        params, args = ("self", "") if method == "forward" else ("self, **kwargs", "**kwargs")  # nn.Module takes none
        return (*placed, NodeEdit(call_fn, f"{def_indent}def __init__({params}):\n"
                                  f"{body_indent}super().__init__({args})\n" + lines + "\n", "insert_before_lines"))

    what = ", ".join(f"self.{name}" for name in names)
    return FixSpec(f"build {what} in __init__() and apply them in {method}()", UNSAFE, edits), movable
