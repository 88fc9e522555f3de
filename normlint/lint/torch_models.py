"""What a PyTorch model receiver (``model``, ``self.net``) was built from, and whether it holds BatchNorm or
Dropout: the question every train/eval rule asks before it speaks.

Read from the file's assignments to that name (``model = Net().to(device)``, ``self.net =
models.resnet18()``, ``model = DDP(model)``): a module class of the file is judged by the names it uses
(and those of the classes and functions of the file it calls), a ``torch.nn`` module by its kind (a ``Sequential`` by what it
holds), a torchvision model holds both. A model built elsewhere (a parameter, ``torch.load``, an import)
is unknown, and the rules treat unknown as holding: most models do.
"""

from __future__ import annotations

from normlint.lint.nodes import KIND
from normlint.lint.syntax import cst

from normlint.lint.context import FileContext
from normlint.lint.index import descendants, dotted
from normlint.lint.torch_api import BATCHNORM, DROPOUT, MODULE_CLASSES, TORCHVISION_MODELS_PREFIX, torchvision_model, unwrap

_WORDS = {"BatchNorm": BATCHNORM, "Dropout": DROPOUT}


def _assignments(ctx: FileContext) -> dict[str, list[cst.BaseExpression]]:
    """Last attribute (or name) -> the values assigned to it anywhere in the file."""
    found = ctx.memo.get("torch_assignments")
    if found is None:
        found = {}
        for node in descendants(ctx.module):
            if KIND[type(node)] is cst.Assign:
                for t in node.targets:  # type: ignore[attr-defined]
                    name = dotted(t.target)
                    if name:
                        found.setdefault(name.rsplit(".", 1)[-1], []).append(node.value)  # type: ignore[attr-defined]
        ctx.memo["torch_assignments"] = found
    return found


def model_holds(ctx: FileContext, key: str, kinds: str = "BatchNorm/Dropout", _depth: int = 0) -> bool | None:
    """True when the model named ``key`` holds BatchNorm or Dropout (``kinds="BatchNorm"``: BatchNorm only),
    False when every construction the file shows holds neither, None when the file does not say."""
    memo = ctx.memo.setdefault("torch_model_holds", {})
    if (key, kinds) in memo:
        return memo[(key, kinds)]
    memo[(key, kinds)] = None  # a cycle (model = wrap(model)) reads as unknown
    wanted = frozenset().union(*(_WORDS[w] for w in kinds.split("/")))
    memo[(key, kinds)] = found = _holds(ctx, key, wanted, _depth)
    return found


def _holds(ctx: FileContext, key: str, wanted: frozenset[str], _depth: int) -> bool | None:
    name = key.rsplit(".", 1)[-1]
    values = _assignments(ctx).get(name, [])
    if not values and "." in key:  # model.decode(z), self.teacher.normalize_input(x): what the receiver holds
        return _holds(ctx, key.rsplit(".", 1)[0], wanted, _depth)
    verdicts = []
    for value in values:
        # model = model.to(device), self.model = model: the same module under its own name, not a verdict of
        # its own (the other values of the name decide)
        moved = unwrap(value)
        if KIND[type(moved)] in (cst.Name, cst.Attribute) and (dotted(moved) or "").rsplit(".", 1)[-1] == name:
            continue
        verdicts.append(_value_holds(ctx, value, wanted, _depth))
    if any(v is True for v in verdicts):
        return True
    if verdicts and all(v is False for v in verdicts):
        return False
    return None


def _value_holds(ctx: FileContext, value: cst.BaseExpression, wanted: frozenset[str], depth: int) -> bool | None:
    value = unwrap(value)  # Net().to(device)
    if KIND[type(value)] is cst.IfExp and depth < 4:  # nn.ReLU() if relu else nn.Tanh(): either may be built
        either = (_value_holds(ctx, value.body, wanted, depth + 1),  # type: ignore[attr-defined]
                  _value_holds(ctx, value.orelse, wanted, depth + 1))  # type: ignore[attr-defined]
        return True if True in either else False if either == (False, False) else None
    if not isinstance(value, cst.Call):
        if isinstance(value, (cst.Name, cst.Attribute)) and depth < 3:
            name = dotted(value)
            return model_holds(ctx, name, _kinds(wanted), depth + 1) if name else None
        return None
    func = value.func
    if ctx.names.is_ddp(func) or (ctx.names.canonical(func) or "").endswith("AveragedModel"):
        first = value.args[0].value if value.args else None
        return _value_holds(ctx, first, wanted, depth + 1) if first is not None and depth < 3 else None
    kind = ctx.names.torch_module(func)
    if kind is not None:
        if kind in wanted:
            return True
        if kind in ("Sequential", "ModuleList", "ModuleDict"):
            if _mentions(value, tuple(w.lower() for w in _kinds(wanted).split("/"))):
                return True
            return _members_hold(ctx, value, wanted, depth)
        return False if kind in MODULE_CLASSES else None
    canon = ctx.names.canonical(func) or ""
    if canon.startswith(TORCHVISION_MODELS_PREFIX):  # a model, else its weights, their transforms(), list_models()
        return torchvision_model(canon) is not None
    if isinstance(func, cst.Name) and func.value in ctx.names.classes and func.value not in ctx.names.imports:
        return _class_holds(ctx, func.value, wanted)
    return None


def _members_hold(ctx: FileContext, container: cst.Call, wanted: frozenset[str], depth: int) -> bool | None:
    """False when a Sequential/ModuleList written in place holds only modules the file shows to hold none of
    ``wanted`` (``nn.Sequential(nn.Linear(784, 128), nn.ReLU(), ...)``); None when any is unknown (``*layers``,
    an OrderedDict, a helper's result)."""
    members: list[cst.BaseExpression] = []
    for a in container.args:
        if a.star == "*" and KIND[type(a.value)] is cst.Name:  # nn.Sequential(*layers)
            items = _list_items(ctx, a.value.value)  # type: ignore[attr-defined]
            if items is None:
                return None
            members.extend(items)
            continue
        if a.star or a.keyword is not None:
            return None
        value = a.value
        if KIND[type(value)] in (cst.List, cst.Tuple):  # nn.ModuleList([...])
            if any(KIND[type(el)] is not cst.Element for el in value.elements):  # type: ignore[attr-defined]
                return None
            members.extend(el.value for el in value.elements)  # type: ignore[attr-defined]
        else:
            members.append(value)
    if not members or depth > 3:
        return None
    verdicts = [_value_holds(ctx, m, wanted, depth + 1) for m in members]
    return False if all(v is False for v in verdicts) else None


def _list_items(ctx: FileContext, name: str) -> list[cst.BaseExpression] | None:
    """What the list ``name`` holds when the file shows all of it: bound only to list or tuple displays and
    filled by ``name.append(x)``, ``.insert(i, x)`` and ``.extend([...])`` (rasbt's ``all_layers.append(
    nn.Linear(...))`` loop); None when anything else may have put something in it."""
    if name in ctx.index.derived:
        return None  # layers += blocks, a, layers = ...: not read here
    items: list[cst.BaseExpression] = []
    for value in ctx.index.assignments.get(name, []):
        if KIND[type(value)] not in (cst.List, cst.Tuple) or any(
                KIND[type(el)] is not cst.Element for el in value.elements):  # type: ignore[attr-defined]
            return None
        items.extend(el.value for el in value.elements)  # type: ignore[attr-defined]
    if not ctx.index.assignments.get(name):
        return None
    for call in ctx.name_methods.get(name, []):
        args = [a.value for a in call.args if a.keyword is None and not a.star]
        method = call.func.attr.value  # type: ignore[attr-defined]
        if method in ("append", "insert") and args:
            items.append(args[-1])
        elif method == "extend" and args and KIND[type(args[0])] in (cst.List, cst.Tuple):
            items.extend(el.value for el in args[0].elements)  # type: ignore[attr-defined]
        elif method not in _READS:
            return None  # extend(blocks), __setitem__...: contents the file does not show here
    return items


# list methods that leave its contents as they are
_READS = frozenset({"index", "count", "copy", "pop", "remove", "clear", "reverse", "sort"})


def _class_holds(ctx: FileContext, name: str, wanted: frozenset[str]) -> bool | None:
    """A module class of the file, by the names it and the classes and functions of the file it calls
    use (``nn.BatchNorm2d``, ``nn.Dropout``, ``F.dropout``, ``norm_layer``); unknown when it builds
    parts from outside the file."""
    words = tuple(w.lower() for w in _kinds(wanted).split("/")) + ("batch_norm", "norm_layer")
    seen: set[str] = set()
    todo = [name]
    outside = False
    while todo:
        current = todo.pop()
        if current in seen or len(seen) > 20:
            continue
        seen.add(current)
        node = ctx.names.classes.get(current) or ctx.names.functions.get(current)
        if node is None:
            continue
        if _mentions(node, words):
            return True
        for call in descendants(node):
            if not isinstance(call, cst.Call):
                continue
            if isinstance(call.func, cst.Name) and call.func.value in ctx.names.imports:
                if ctx.names.torch_module(call.func) is None and not ctx.names.imports[call.func.value].startswith("torch"):
                    outside = True  # from .backbone import build_backbone
            elif isinstance(call.func, cst.Name):
                todo.append(call.func.value)
    return None if outside else False


def _mentions(node: cst.CSTNode, words: tuple[str, ...]) -> bool:
    """Some name, attribute or string under ``node`` holds one of ``words`` (lowercase)."""
    return any(isinstance(n, (cst.Name, cst.SimpleString)) and any(w in n.value.lower() for w in words)
               for n in descendants(node))


def _kinds(wanted: frozenset[str]) -> str:
    return "/".join(w for w, kinds in _WORDS.items() if kinds <= wanted)
