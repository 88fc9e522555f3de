"""PyTorch rules about how normalization is set up: BatchNorm momentum, transform order, SyncBatchNorm."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext, keyword, literal
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit, written_literal
from normlint.lint.graph import LayerObj
from normlint.lint.index import children, dotted
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.rules.training import _constant_fix
from normlint.lint.torch_api import BATCHNORM, MOMENTUM_POSITION

FAMILY = "Normalization setup"


def _momentum(call: cst.Call, kind: str, offset: int = 0) -> cst.BaseExpression | None:
    found = keyword(call, "momentum")  # also through **cfg of a constant dict
    if found is not None:
        return found
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    at = MOMENTUM_POSITION.get(kind)
    if at is None or kind == "batch_norm":
        return None
    at += offset
    return positional[at] if len(positional) > at else None


class TorchMomentumInKerasConvention(Rule):
    code = "NL803"
    framework = "PyTorch"
    name = "torch-momentum-in-keras-convention"
    summary = "nn.BatchNorm*(momentum > 0.5) looks like Keras's convention (0.9 there is 0.1 in PyTorch)."
    what = """
Flags `nn.BatchNorm1d/2d/3d`, `nn.SyncBatchNorm`, `nn.LazyBatchNorm*` and `F.batch_norm` with a
momentum above 0.5, given by keyword, by position, through a constant name, a `**cfg` dict or a
`functools.partial(nn.BatchNorm2d, momentum=...)`. A class of the file that happens to be called
`BatchNorm2d` is not PyTorch's and is not flagged; `momentum=None` (a cumulative average) is fine, and so
is 0.5, which weighs old and new alike in either convention.
"""
    why = """
PyTorch updates `running = (1 - momentum) * running + momentum * batch`; Keras and TensorFlow update
`moving = momentum * moving + (1 - momentum) * batch`. PyTorch's default 0.1 is Keras's 0.9, and a
Keras value ported literally (`momentum=0.9`, `0.99`) makes the running statistics follow the last
batch or two: evaluation then normalizes with the noisy statistics of whatever batch came last.
"""
    example = """
self.bn = nn.BatchNorm2d(64, momentum=0.9)
"""
    use_instead = """
self.bn = nn.BatchNorm2d(64, momentum=0.1)  # Keras momentum=0.9
"""
    fix_doc = """
Replaces the momentum written in the call with `1 - m` (1 becomes PyTorch's default 0.1). **Unsafe**:
the running statistics then average over many more batches, which changes what evaluation computes
(the point of the fix). A constant that holds the momentum is rewritten where it is assigned when it
is assigned once and read only as `momentum=`.
"""
    references = (
        "https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html (the momentum note)",
        "https://keras.io/api/layers/normalization_layers/batch_normalization/",
    )
    VALID = ("import torch.nn as nn\nnn.BatchNorm2d(64, momentum=0.1)\n",
             "class BatchNorm2d:\n    def __init__(self, n, momentum=0.9): pass\nBatchNorm2d(64, momentum=0.9)\n")
    INVALID = ("import torch.nn as nn\nnn.BatchNorm2d(64, momentum=0.9)\n",
               "import torch.nn as nn\nnn.BatchNorm1d(64, 1e-3, 0.99)\n")
    required = (("BatchNorm", "batch_norm"),)
    # a PyTorch BatchNorm spelling (or a torch import), and a momentum keyword or three positional arguments
    triggers = (lambda s: patterns.TORCH_IMPORT(s) or patterns.TORCH_BN(s),
                r"momentum|BatchNorm\w*\s*\([^()=]*,[^()=]*,")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for site in ctx.calls:
            call, offset = site.node, 0
            kind = ctx.names.torch_module(call.func) or ctx.names.torch_functional(call.func)
            if kind is None and (ctx.names.canonical(call.func) or "") == "functools.partial" and call.args:
                kind = ctx.names.torch_module(call.args[0].value)
                offset = 1  # partial(nn.BatchNorm2d, 64, 1e-5, 0.9)
            if kind not in BATCHNORM:
                continue
            expr = _momentum(call, kind, offset)
            value = literal(expr)
            # 0.5 weighs old and new alike in both conventions: nothing to port
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.5 < value <= 1:
                continue
            new = "0.1" if value == 1 else f"{1 - value:g}"
            in_call = expr is not None and any(a.value is expr for a in call.args)
            fix = None
            if in_call and written_literal(expr):  # type: ignore[arg-type]
                fix = FixSpec(f"use momentum={new}", UNSAFE, (NodeEdit(expr, new),))  # type: ignore[arg-type]
            elif in_call and isinstance(expr, cst.Name):
                fix = _constant_fix(ctx, expr.value, new)
            label = kind if kind != "batch_norm" else "F.batch_norm"
            yield Hit(expr if in_call else call,  # type: ignore[arg-type]
                      f"{label}(momentum={value:g}) uses the Keras convention; PyTorch weighs the new batch by "
                      f"momentum, keeping only {1 - value:g} of the running statistics per step: use momentum={new}",
                      fix=fix)


_MOMENTUM_WORD = re.compile(r"(?:^|_|\.)(?:bn_)?mom(?:entum)?(?:_|$)", re.I)


def _positional_eps(call: cst.Call, kind: str, offset: int) -> tuple[cst.BaseExpression | None, list]:
    """(the eps a BatchNorm call gives by position, its positional arguments): the argument just before
    momentum's place (``BatchNorm2d(num_features, eps, momentum)``; ``LazyBatchNorm2d(eps, momentum)``)."""
    positional = [a.value for a in call.args if a.keyword is None]
    if any(a.star == "*" for a in call.args):
        return None, positional  # where *args puts each value is unknown
    at = MOMENTUM_POSITION[kind] - 1 + offset
    return (positional[at] if len(positional) > at else None), positional


class TorchBatchNormPositionalEps(Rule):
    code = "NL807"
    framework = "PyTorch"
    name = "torch-batchnorm-positional-eps"
    summary = "nn.BatchNorm2d(C, 0.8): the second positional argument is eps, not momentum."
    what = """
Flags a PyTorch BatchNorm (`nn.BatchNorm1d/2d/3d`, `nn.SyncBatchNorm`, `nn.LazyBatchNorm*`, also through
`functools.partial`) whose eps, given by position, is 0.1 or more (`nn.BatchNorm2d(128, 0.8)`), is the
number of features again (`nn.BatchNorm2d(n, n)`) or is a name for a momentum (`nn.BatchNorm2d(c,
bn_momentum)`). A value held in a constant name counts. An eps given by keyword is left alone, and so is a
class of the file that happens to be called `BatchNorm2d`.
"""
    why = """
The signature is `BatchNorm2d(num_features, eps=1e-05, momentum=0.1, ...)`: the second positional argument
is eps, which is added to the batch variance before the square root. Keras's `BatchNormalization` has no
`num_features` and takes `momentum` by keyword, so `BatchNormalization(momentum=0.8)` ported as
`BatchNorm2d(128, 0.8)` (a pattern that spread through popular GAN collections) sets eps=0.8 and leaves
momentum at 0.1: every channel whose variance is below ~0.8 is divided by about sqrt(0.8) instead of its
own standard deviation, so the layer hardly normalizes, and no error says so.
"""
    example = """
self.bn = nn.BatchNorm2d(128, 0.8)
"""
    use_instead = """
self.bn = nn.BatchNorm2d(128, momentum=0.2)  # Keras momentum=0.8
"""
    fix_doc = """
A value between 0.5 and 1 (a Keras momentum) becomes `momentum=1 - value` in PyTorch's convention
(`BatchNorm2d(128, 0.8)` -> `BatchNorm2d(128, momentum=0.2)`), and a name for a momentum becomes
`momentum=NAME`, when it is the last positional argument and no momentum is given by keyword. **Unsafe**:
eps goes back to 1e-05 and the momentum changes, which changes what the layer computes (the point of the
fix). Other values are left to you.
"""
    references = (
        "https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html",
        "https://github.com/eriklindernoren/PyTorch-GAN/issues/116",
    )
    VALID = ("import torch.nn as nn\nnn.BatchNorm2d(128, 1e-3)\n",
             "import torch.nn as nn\nnn.BatchNorm2d(128, eps=1e-3, momentum=0.2)\n",
             "class BatchNorm2d:\n    def __init__(self, n, momentum=0.9): pass\nBatchNorm2d(64, 0.9)\n")
    INVALID = ("import torch.nn as nn\nnn.BatchNorm2d(128, 0.8)\n",
               "from torch import nn\ndef block(n):\n    return nn.Sequential(nn.Conv2d(n, n, 3), nn.BatchNorm2d(n, n))\n")
    required = ("BatchNorm",)
    # a PyTorch BatchNorm spelling (or a torch import), and a BatchNorm call whose eps's place holds a
    # positional argument: BatchNorm2d(n, x), LazyBatchNorm2d(x), partial(nn.BatchNorm2d, n, x)
    triggers = (lambda s: patterns.TORCH_IMPORT(s) or patterns.TORCH_BN(s),
                r"BatchNorm\w*\s*[(,][^()=]*(?:\([^()]*\)[^()=]*)*,\s*(?!\w+\s*=[^=])[^\s)]"
                r"|LazyBatchNorm\w*\s*\(\s*(?!\w+\s*=[^=])[^\s)]")

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for site in ctx.calls:
            call, offset = site.node, 0
            kind = ctx.names.torch_module(call.func)
            if kind is None and (ctx.names.canonical(call.func) or "") == "functools.partial" and call.args:
                kind = ctx.names.torch_module(call.args[0].value)
                offset = 1  # partial(nn.BatchNorm2d, 64, 0.8)
            if kind not in BATCHNORM or kind == "batch_norm":
                continue
            eps, positional = _positional_eps(call, kind, offset)
            if eps is None:
                continue
            label = f"{kind}({', '.join(ctx.code(a) for a in positional[offset:])})"
            place = f"the {'second' if MOMENTUM_POSITION[kind] == 2 else 'first'} positional argument of {kind} is eps"
            value = literal(eps)
            features = positional[offset] if MOMENTUM_POSITION[kind] == 2 else None
            last = eps is positional[-1] and keyword(call, "momentum") is None
            fix = None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value < 0.1:
                    continue
                message = (f"{label} sets eps={value:g}: {place} (default 1e-05), added to the batch variance "
                           f"before the square root: a channel whose variance is below {value:g} is hardly normalized")
                if 0.5 <= value < 1:
                    new = f"{1 - value:g}"
                    message += (f"; if a momentum was meant, pass it by keyword in PyTorch's convention "
                                f"(Keras's {value:g} is momentum={new})")
                    if last and written_literal(eps):
                        fix = FixSpec(f"pass momentum={new}", UNSAFE, (NodeEdit(eps, f"momentum={new}"),))
                else:
                    message += "; pass eps= by keyword if you meant it, else drop the argument"
            elif features is not None and ctx.code(eps) == ctx.code(features):
                message = (f"{label} passes {ctx.code(eps)} as eps: {place} (default 1e-05), added to the batch "
                           f"variance before the square root; drop it")
            elif isinstance(eps, (cst.Name, cst.Attribute)) and _MOMENTUM_WORD.search(dotted(eps) or ""):
                name = ctx.code(eps)
                message = f"{label} passes {name} as eps: {place}, not momentum; pass momentum={name} by keyword"
                if last:
                    fix = FixSpec(f"pass momentum={name}", UNSAFE, (NodeEdit(eps, f"momentum={name}"),))
            else:
                continue
            yield Hit(eps, message, fix=fix)


# converters that make a float tensor in [0, 1] of a PIL image / uint8 array
_SCALING = frozenset({"ToTensor", "ConvertImageDtype"})
_TO_IMAGE = frozenset({"ToImage", "PILToTensor", "ToImageTensor"})


def _scales(layer: LayerObj) -> bool:
    if layer.kind in _SCALING:
        return True
    if layer.kind == "ToDtype":
        return literal(layer.arg("scale", 1)) is True
    return False


def _mean_in_unit_range(layer: LayerObj) -> bool:
    mean = literal(layer.arg("mean", 0))
    if isinstance(mean, (list, tuple)) and mean and all(isinstance(v, (int, float)) for v in mean):
        return max(abs(v) for v in mean) <= 1
    return isinstance(mean, (int, float)) and abs(mean) <= 1 or not isinstance(mean, (int, float, list, tuple))


class TorchNormalizeBeforeToTensor(Rule):
    code = "NL804"
    framework = "PyTorch"
    name = "torch-normalize-before-totensor"
    summary = "transforms.Normalize runs before ToTensor (or on 0-255 values) in a Compose."
    what = """
Flags a torchvision `Normalize` in a `transforms.Compose([...])` (v1 or v2, the list written in place
or built with `+`, `append` and comprehensions) that comes before the transform that makes the image
a float tensor in [0, 1]: `ToTensor()`, `ConvertImageDtype(...)` or v2's `ToDtype(..., scale=True)`
(also when a `ToImage()` / `PILToTensor()` follows it). Also flags, in v2, a `Normalize` whose mean is
in 0-1 units that follows `ToImage()` / `PILToTensor()` and a `ToDtype(torch.float32)` without
`scale=True`: the values it normalizes are still 0-255.
"""
    why = """
`Normalize(mean, std)` subtracts means and divides by standard deviations measured on images in [0, 1]
(ImageNet's 0.485/0.229...). Before `ToTensor` it sees a PIL image (v1 fails at the first sample) or,
after a `ToDtype` that does not scale, 0-255 floats: the "normalized" input is then in the hundreds,
training is unstable or fails to converge, and pretrained weights see nothing they were trained on.
"""
    example = """
transform = transforms.Compose([
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
    transforms.ToTensor(),
])
"""
    use_instead = """
transform = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)),
])
"""
    references = (
        "https://pytorch.org/vision/stable/generated/torchvision.transforms.Normalize.html",
        "https://pytorch.org/vision/stable/generated/torchvision.transforms.v2.ToDtype.html (scale)",
    )
    VALID = ("from torchvision import transforms as T\nt = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])\n",)
    INVALID = ("from torchvision import transforms as T\nt = T.Compose([T.Normalize((0.5,), (0.5,)), T.ToTensor()])\n",)
    required = ("Normalize", "Compose")
    triggers = (patterns.TORCH_IMPORT,)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        flagged: set[int] = set()
        for compose in ctx.flow.pipelines:
            steps = compose.members
            for i, step in enumerate(steps):
                if step.kind != "Normalize" or id(step.node) in flagged:
                    continue
                later = next((s for s in steps[i + 1:] if _scales(s) or s.kind in _TO_IMAGE), None)
                if later is not None:
                    flagged.add(id(step.node))
                    yield Hit(step.node, f"Normalize runs before {later.kind} (line {{line}}): it sees the image "
                                         f"before it is a float tensor in [0, 1]; move it after {later.kind}",
                              related=later.node)
                    continue
                before = steps[:i]
                image = next((k for k, s in enumerate(before) if s.kind in _TO_IMAGE), None)
                if image is None or any(_scales(s) for s in before[image:]) or not _mean_in_unit_range(step):
                    continue
                cast = next((s for s in before[image:] if s.kind == "ToDtype"), None)
                if cast is not None:
                    flagged.add(id(step.node))
                    yield Hit(step.node, "Normalize sees 0-255 values: the ToDtype on line {line} converts "
                                         "without scale=True; pass scale=True there", related=cast.node)


class TorchSyncBatchNormAfterDdp(Rule):
    code = "NL806"
    severity = "warning"  # an order PyTorch documents; today's releases mostly survive it
    framework = "PyTorch"
    name = "torch-syncbn-after-ddp"
    summary = "nn.SyncBatchNorm.convert_sync_batchnorm() runs after the model is wrapped in DistributedDataParallel."
    what = """
Flags `nn.SyncBatchNorm.convert_sync_batchnorm(x)` when, earlier in the same function (or module
body), the same model was wrapped in `DistributedDataParallel` (`x = DDP(x)`, or `ddp = DDP(model)`
followed by converting `model` or `ddp`).
"""
    why = """
PyTorch documents the order: convert the BatchNorm layers with `convert_sync_batchnorm`, *then* wrap
the network in DDP. DDP sets itself up for the module it is given when it is constructed: it looks for
`SyncBatchNorm` layers (to check they sit on a GPU, and to record that the model synchronizes batch
statistics), buckets the parameters and collects the buffers it broadcasts. Converting afterwards
rewrites the module under a wrapper that was set up for plain BatchNorm: the construction-time checks
never run (on CPU the failure moves from a clear error at `DDP(...)` to the first forward pass), and
the result depends on `convert_sync_batchnorm` reusing the same parameter and buffer objects, which
is not a documented promise (PyTorch 1.x raised "SyncBatchNorm is only supported within
DistributedDataParallel" at the first forward of a model converted after wrapping).
"""
    example = """
model = DDP(model.to(rank), device_ids=[rank])
model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
"""
    use_instead = """
model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
model = DDP(model.to(rank), device_ids=[rank])
"""
    references = (
        "https://pytorch.org/docs/stable/generated/torch.nn.SyncBatchNorm.html#torch.nn.SyncBatchNorm.convert_sync_batchnorm",
    )
    VALID = ("import torch.nn as nn\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n"
             "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)\nmodel = DDP(model)\n",)
    INVALID = ("import torch.nn as nn\nfrom torch.nn.parallel import DistributedDataParallel as DDP\n"
               "model = DDP(model)\nmodel = nn.SyncBatchNorm.convert_sync_batchnorm(model)\n",)
    required = ("convert_sync_batchnorm",)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        for scope in _scopes(ctx.module):
            wrapped: dict[str, cst.Call] = {}  # a name -> the DDP call that wrapped it (or made it)
            for call in _calls_in(scope):
                if ctx.names.is_ddp(call.func) and "DataParallel" in (ctx.names.canonical(call.func) or "") \
                        and "Distributed" in (ctx.names.canonical(call.func) or ""):
                    first = call.args[0].value if call.args else None
                    inner = _root(first)
                    if inner:
                        wrapped[inner] = call
                    target = _assigned_name(scope, call)
                    if target:
                        wrapped[target] = call
                    continue
                func = call.func
                if isinstance(func, cst.Attribute) and func.attr.value == "convert_sync_batchnorm" and call.args:
                    name = _root(call.args[0].value)
                    if name in wrapped:
                        yield Hit(call, "convert_sync_batchnorm() after the DistributedDataParallel wrap on line "
                                        "{line}: DDP set itself up for the module before the conversion; convert "
                                        "the model first, then wrap it", related=wrapped[name])


def _root(expr: cst.BaseExpression | None) -> str | None:
    """``model`` for ``model``, ``model.to(rank)``, ``model.module``."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
        expr = expr.func.value
    name = dotted(expr)
    if name and name.endswith(".module"):
        name = name[: -len(".module")]
    return name


def _scopes(module: cst.Module) -> list[cst.CSTNode]:
    found: list[cst.CSTNode] = [module]
    todo: list[cst.CSTNode] = [module]
    while todo:
        node = todo.pop()
        for kid in children(node):
            if isinstance(kid, cst.FunctionDef):
                found.append(kid)
            todo.append(kid)
    return found


def _calls_in(scope: cst.CSTNode) -> list[cst.Call]:
    """The calls of one function (or the module body), not of the functions defined in it, in order."""
    out: list[cst.Call] = []
    todo: list[tuple[cst.CSTNode, bool]] = [(k, False) for k in reversed(children(scope))]
    while todo:
        node, done = todo.pop()
        if done:
            out.append(node)  # type: ignore[arg-type]
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, cst.Call):
            todo.append((node, True))
        todo.extend((k, False) for k in reversed(children(node)))
    return out


def _assigned_name(scope: cst.CSTNode, call: cst.Call) -> str | None:
    todo = [scope]
    while todo:
        node = todo.pop()
        if isinstance(node, cst.Assign) and node.value is call and len(node.targets) == 1:
            return dotted(node.targets[0].target)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not scope:
            continue
        todo.extend(children(node))
    return None
