"""PyTorch rules about module mode: ``eval()`` / ``train()`` around BatchNorm and Dropout."""

from __future__ import annotations

import re
from typing import Iterator

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext
from normlint.lint.index import dotted
from normlint.lint.rules import patterns
from normlint.lint.rules.base import Hit, Rule
from normlint.lint.torch_models import model_holds
from normlint.lint.torch_modes import EVAL, TRAIN, Modes, analyze_modes, is_eval_name, plain

FAMILY = "Train and eval mode"
_GRAD_OFF = re.compile(r"no_grad|inference_mode|set_grad_enabled")
_DEF = re.compile(r"def\s+(\w+)")


# a model-like call (``model(x)``, ``self.net(x)``, ``resnet(x)``: a name that ends so) or a mode switch
_MODEL_CALL = re.compile(r"(?:[Mm]odel|[Nn]et|encoder|decoder|backbone|generator|discriminator|classifier|teacher|"
                         r"student|cnn|CNN|mlp|MLP|ema|vgg)\d*\s*\(|\.(?:eval|train|forward)\s*\(|\bModule\b|"
                         r"Sequential\s*\(|\bmodels\.\w+\s*\(|from_pretrained")


def _grad_off_or_eval_function(source: str) -> bool:
    """Gradients switched off somewhere, or a function named for evaluation (``evaluate``, ``test``...),
    and something that looks like running a model."""
    return (bool(_GRAD_OFF.search(source)) or any(is_eval_name(m.group(1)) for m in _DEF.finditer(source))) \
        and bool(_MODEL_CALL.search(source))


def modes(ctx: FileContext) -> Modes:
    found = ctx.memo.get("torch_modes")
    if found is None:
        found = ctx.memo["torch_modes"] = analyze_modes(ctx.module, ctx.names, [site.node for site in ctx.calls])
    return found


def uses_torch(ctx: FileContext) -> bool:
    """The file imports PyTorch (torch, torchvision, lightning): the mode rules speak only there."""
    return any(v.split(".", 1)[0] in ("torch", "torchvision", "pytorch_lightning", "lightning")
               for v in ctx.names.imports.values())


def _holds(ctx: FileContext, key: str) -> bool:
    return model_holds(ctx, plain(key)) is not False  # unknown: most models hold one or the other


class TorchInferenceWithoutEval(Rule):
    code = "NL801"
    framework = "PyTorch"
    name = "torch-inference-without-eval"
    summary = "A model with BatchNorm/Dropout runs under no_grad()/inference_mode() or in an evaluate path without eval()."
    what = """
Flags a forward pass of a model (`model(x)`, `self.net(x)`, `model.forward(x)`) that runs under
`torch.no_grad()`, `torch.inference_mode()`, `torch.set_grad_enabled(False)` (as a `with` block or a
decorator), or inside a function of the file named for evaluation (`evaluate`, `validate`, `test`,
`predict`, `inference`...), while the model is still in training mode: no `model.eval()` (or
`model.train(False)`) on the way there. The way there is followed through the functions and methods
of the file that call each other (`validate(model)` after `model.eval()` is fine; `net =
load_model(path)` keeps the mode the helper left its model in; a method starts from what its class's
`__init__` set up), and through loops (an `eval()` in one epoch and a `train()` at the top of the next
are both seen). A copy (`copy.deepcopy`, `AveragedModel`) starts in its original's mode, a Hugging Face
`from_pretrained()` model and OpenAI's `clip.load()` in eval mode, a model switched where it is built
(`model = Net().eval()`, `netg, netd = NetG().eval(), NetD().eval()`) in that mode; a function nothing in
the file calls starts from the modes the module's own code left its models in.

Stays silent when the file shows the model holds neither BatchNorm nor Dropout (a class of the file by
the modules it builds, an `nn.Sequential` by its members, also of a list the file fills with
`append`/`extend`: `nn.Sequential(*all_layers)`), inside an `nn.Module`'s own methods (the outer model's
mode decides; a class whose base comes from elsewhere counts when it has `forward()` or `forward_*()`:
mmseg's segmentors), in Lightning modules (Lightning switches
modes itself), for a model put in training mode on purpose (an explicit `model.train()` in the same
function with no optimizer step, backward pass or call handed the model in between: recomputing
BatchNorm statistics as SWA's `update_bn` does, Monte Carlo dropout; or in a function that rewrites
BatchNorm's `running_mean`/`running_var`/`momentum` or resets them: precise BN), for a model that the same
training loop trains (a GAN's generator run under `no_grad()` to feed its discriminator stays in
training mode on purpose), for a forward with gradients on
in a loop that steps an optimizer (a linear probe trained inside `eval_linear()`: a function named for
training, `train()`, nearer to the forward than the evaluate-named one says the same), for shape checks on
made-up input (`net(torch.randn(1, 3, 32, 32))`) and in pytest's `test_*` functions.

A call runs a model when its receiver is one: a name the file assigns a module to or calls `.eval()`,
`.parameters()`... on, else a name for a model (`model`, `model_ft`, `teacher_net`, `netG`). Names that
hold what a model gives or is described by (`model_output`, `net_out`, `model_path`, `encoder_cfg`,
`seen_modules`), what watches or feeds one (`ema_meter`, `model_optimizer`, `data_generator`), functions
that make one (`load_model(path)`, `timm.create_model(...)`: an import or a verb-named function), what
torchvision's weights give (`Weights.DEFAULT.transforms()`), configuration keys in capitals
(`CONFIG.MODEL.NAME`), locals that only ever hold data (`out = model(x)`, a loop over `model.parameters()`),
tensors read off a module (`model.fc.weight.norm()`) and in-place tensor operations (`weight.normal_()`,
`ema_p.mul_(decay)`) run none.
"""
    why = """
`torch.no_grad()` and `torch.inference_mode()` only stop gradient tracking; they do not change what
layers compute. In training mode BatchNorm normalizes with the statistics of the current batch and
updates its running statistics with them (so evaluating on the test set changes the model), and
Dropout zeroes activations at random. Accuracy measured that way is noisy and wrong, depends on the
batch size, and a batch of one fails outright. `model.eval()` switches BatchNorm to its running
statistics and Dropout off.
"""
    example = """
def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""
    use_instead = """
def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
"""
    references = (
        "https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.eval",
        "https://pytorch.org/docs/stable/notes/autograd.html#locally-disabling-gradient-computation",
    )
    VALID = (
        "import torch\ndef evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n",
        "import torch\ndef evaluate(model, x):\n    model.train(False)\n    with torch.inference_mode():\n        return model(x)\n",
    )
    INVALID = ("import torch\ndef evaluate(model, x):\n    with torch.no_grad():\n        return model(x)\n",)
    required = (("torch", "lightning"),)
    triggers = (patterns.TORCH_IMPORT, _grad_off_or_eval_function)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        if not uses_torch(ctx):
            return
        found = modes(ctx)
        trained = {f.key for f in found.forwards
                   if not f.grad_off and f.eval_path is None and not f.in_module and f.mode != EVAL}
        flagged: set[int] = set()
        for f in found.forwards:
            if f.in_module or f.mode != TRAIN or id(f.node) in flagged:
                continue
            if not (f.grad_off or f.eval_path):
                continue
            if f.in_training_loop and not f.grad_off:
                continue  # gradients on, in a loop that steps an optimizer: training, whatever calls it (eval_linear)
            if f.in_training_loop and f.key in trained and f.eval_path is None:
                continue  # a model the loop trains, run without gradients on purpose (a GAN's generator)
            if f.chosen:
                continue  # model.train() just before, nothing trained since: batch statistics on purpose (update_bn)
            if not _holds(ctx, f.key):
                continue
            flagged.add(id(f.node))
            where = "under no_grad()/inference_mode()" if f.grad_off else f"in {f.eval_path}()"
            name = f.text
            yield Hit(f.node, f"{name} runs {where} in training mode: BatchNorm uses and updates batch "
                              f"statistics and Dropout drops; call {name}.eval() first (and {name}.train() "
                              f"before training again)")


class TorchEvalNotReverted(Rule):
    code = "NL802"
    framework = "PyTorch"
    name = "torch-eval-not-reverted"
    summary = "eval() in a training loop (often inside validation) with no train() before the next step."
    what = """
Flags the statement of a training loop (a loop that calls `optimizer.step()` or `loss.backward()`, here
or in a function of the file it calls) that leaves the model in eval mode, typically a
`validate(model)` whose body calls `model.eval()`, when the loop's next pass trains the model again
without a `model.train()` in between. The finding sits on that statement (the call in the loop, or
`model.eval()` itself when the loop calls it directly); the message names the line of the `eval()`.
"""
    why = """
`model.eval()` stays in force until `model.train()`. After the first validation every following epoch
trains with BatchNorm in inference mode (it normalizes with frozen running statistics and stops
updating them) and Dropout off: the model trains as a different network, overfits, and the numbers
of the first epoch are the only honest ones. Nothing fails; the loss curve just looks worse.
"""
    example = """
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


model.train()
for epoch in range(epochs):
    for x, y in train_loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    validate(model, val_loader)
"""
    use_instead = """
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in loader)


for epoch in range(epochs):
    model.train()
    for x, y in train_loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    validate(model, val_loader)
"""
    references = ("https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.train",)
    VALID = (
        "import torch\nfor epoch in range(3):\n    model.train()\n    for x in data:\n        model(x).sum().backward()\n"
        "        opt.step()\n    model.eval()\n",
    )
    INVALID = (
        "import torch\nmodel.train()\nfor epoch in range(3):\n    for x in data:\n        model(x).sum().backward()\n"
        "        opt.step()\n    model.eval()\n",
    )
    required = ((".eval(", "train(False", "train(mode=False", "train(0"), ("step(", "backward("))
    triggers = (patterns.TORCH_IMPORT,)

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        if not uses_torch(ctx):
            return
        flagged: set[int] = set()
        for r in modes(ctx).reverts:
            if id(r.left_by) in flagged or not _holds(ctx, r.key):
                continue
            flagged.add(id(r.left_by))
            where = "here" if r.left_by is r.eval_call else "(its eval() on line {line})"
            func = r.eval_call.func if isinstance(r.eval_call, cst.Call) else None
            name = (dotted(func.value) if isinstance(func, cst.Attribute) else None) or plain(r.key)
            yield Hit(r.left_by,
                      f"this leaves {name} in eval mode {where}, and the next pass of the loop trains it without "
                      f"{name}.train(): BatchNorm stops updating its statistics and Dropout stays off; call "
                      f"{name}.train() at the start of each epoch's training",
                      related=r.eval_call if r.left_by is not r.eval_call else None)


class TorchSwaWithoutUpdateBn(Rule):
    code = "NL805"
    framework = "PyTorch"
    name = "torch-swa-without-update-bn"
    summary = "An AveragedModel (SWA/EMA) is evaluated or saved without swa_utils.update_bn()."
    what = """
Flags the first place that evaluates (calls it, passes it to a function, `.eval()`) or saves
(`torch.save`, `state_dict()`) a `torch.optim.swa_utils.AveragedModel` when the file never calls
`torch.optim.swa_utils.update_bn(...)`. Silent when the averaged model was built with
`use_buffers=True` (the buffers are averaged too) or when the file shows the averaged model holds no
BatchNorm.
"""
    why = """
`AveragedModel` averages the parameters only. Its BatchNorm running statistics are not averaged: they
are copied from the model it follows at each `update_parameters()` (recent PyTorch; older releases
kept those of the copy it was made from). Either way they are the statistics of *other* weights: the
averaged weights produce activations with another mean and variance, so the averaged model normalizes
with numbers that fit none of its layers, and its accuracy can fall far below that of the model it
averages. `update_bn(loader, swa_model)` recomputes them with one pass over the training data.
"""
    example = """
swa_model = AveragedModel(model)
for epoch in range(epochs):
    train_one_epoch(model, loader, optimizer)
    swa_model.update_parameters(model)
evaluate(swa_model, test_loader)
"""
    use_instead = """
swa_model = AveragedModel(model)
for epoch in range(epochs):
    train_one_epoch(model, loader, optimizer)
    swa_model.update_parameters(model)
torch.optim.swa_utils.update_bn(loader, swa_model)
evaluate(swa_model, test_loader)
"""
    references = (
        "https://pytorch.org/docs/stable/optim.html#weight-averaging-swa-and-ema",
        "Izmailov et al.: Averaging Weights Leads to Wider Optima and Better Generalization, 2018. "
        "https://arxiv.org/abs/1803.05407",
    )
    VALID = (
        "from torch.optim.swa_utils import AveragedModel, update_bn\nswa = AveragedModel(model)\n"
        "update_bn(loader, swa)\nevaluate(swa)\n",
        "from torch.optim.swa_utils import AveragedModel\nema = AveragedModel(model, use_buffers=True)\nevaluate(ema)\n",
    )
    INVALID = ("from torch.optim.swa_utils import AveragedModel\nswa = AveragedModel(model)\nevaluate(swa)\n",)
    required = ("AveragedModel",)
    _QUIET = frozenset({"update_parameters", "update_bn", "deepcopy", "print", "len", "isinstance", "type"})

    def check(self, ctx: FileContext) -> Iterator[Hit]:
        if any((ctx.names.canonical(s.node.func) or "").endswith("update_bn")
               or (isinstance(s.node.func, cst.Attribute) and s.node.func.attr.value == "update_bn") for s in ctx.calls):
            return
        averaged: dict[str, cst.Call] = {}
        for site in ctx.calls:
            canon = ctx.names.canonical(site.node.func) or ""
            if not canon.endswith("swa_utils.AveragedModel") or site.assigned_to is None:
                continue
            buffers = next((a.value for a in site.node.args if a.keyword and a.keyword.value == "use_buffers"), None)
            if isinstance(buffers, cst.Name) and buffers.value == "True":
                continue
            first = site.node.args[0].value if site.node.args else None
            base = dotted(first) if first is not None else None
            if base and model_holds(ctx, base, "BatchNorm") is False:
                continue
            name = dotted(site.assigned_to)
            if name:
                averaged[name] = site.node
        for name, built in averaged.items():
            use = self._first_use(ctx, name, built)
            if use is not None:
                yield Hit(use, f"{name} is an AveragedModel whose BatchNorm statistics were never recomputed "
                               f"(built on line {{line}}): call torch.optim.swa_utils.update_bn(train_loader, "
                               f"{name}) before evaluating or saving it", related=built)

    def _first_use(self, ctx: FileContext, name: str, built: cst.Call) -> cst.Call | None:
        started = False
        for site in ctx.calls:
            call = site.node
            if call is built:
                started = True
                continue
            if not started:
                continue
            func = call.func
            if dotted(func) == name:
                return call  # swa_model(x)
            if isinstance(func, cst.Attribute):
                receiver = dotted(func.value) or ""
                if receiver in (name, f"{name}.module") and func.attr.value in ("eval", "state_dict", "forward"):
                    return call
            called = dotted(func) or ""
            if called.rsplit(".", 1)[-1] in self._QUIET:
                continue
            for a in call.args:
                if dotted(a.value) in (name, f"{name}.module"):
                    return call  # evaluate(swa_model), torch.save(swa_model, ...)
        return None
