"""PyTorch module modes through a file, without running it: where ``model.eval()`` / ``model.train()``
hold, and which forward passes run under ``torch.no_grad()`` / ``torch.inference_mode()``.

The walker runs each entry of the file (the module body, then every function or method that nothing in
the file calls) statement by statement, and inlines the functions and ``self.`` methods of the file that
they call, with the caller's names for the callee's parameters (``validate(net)`` walks ``validate``
with its ``model`` read as ``net``). A mode is kept per receiver text (``model``, ``self.model``); a
mode set on ``model`` covers ``model.backbone`` until something sets the longer one. Loop bodies are
walked twice, so what one iteration leaves behind (an ``eval()`` in validation) meets the next one's
training step. ``if`` branches are walked one after the other: the last one's mode stays.

It records, for the rules:

- ``forwards``: each call of a model-like receiver, with its mode then, whether gradients were off,
  and whether an evaluate/predict-named function of the file is on the way to it;
- ``reverts``: training forwards that ran in the eval mode an earlier iteration of their loop left;
"""

from __future__ import annotations

import re
from itertools import chain
from typing import Any, Iterator

from normlint.lint.syntax import cst
from normlint.records import field, record

from normlint.lint.index import COMPREHENSIONS, _target_names, children, descendants, dotted
from normlint.lint.nodes import KIND
from normlint.lint.names import Names
from normlint.lint.torch_api import SELF_RETURNING, torchvision_model, unwrap

TRAIN, EVAL, UNKNOWN = "train", "eval", "unknown"
_MAX_DEPTH = 5
_MAX_EVENTS = 20_000
# function names of an evaluation path (evaluate, validate, test, predict, inference...), by word
_EVAL_WORDS = frozenset({"eval", "evaluate", "evaluation", "validate", "validation", "val", "test",
                         "testing", "predict", "prediction", "inference"})
_WORD = re.compile(r"[a-z]+")
_TRAIN_WORDS = frozenset({"train", "training", "fit", "finetune", "tune"})
# receivers read as models when nothing else says so: a name that holds one of these words
_MODEL_WORDS = ("model", "net", "network", "module", "classifier", "encoder", "decoder", "backbone", "generator",
                "discriminator", "teacher", "student", "ema", "resnet", "unet", "vgg", "cnn", "mlp")
_MODEL_NAME = re.compile(r"(?:^|_)(?:" + "|".join(_MODEL_WORDS) + r")s?(?:_|$|\d)|net$|^(?:G|D|net[GD])$", re.I)
# the words of a name (``model_path``: model, path; ``netG``: net, g; ``modelOutput``: model, output)
_NAME_WORDS = re.compile(r"[a-z]+|[A-Z][a-z]*")
# a word before the model word that makes the name a function's: load_model(path), timm.create_model(...)
_VERBS = frozenset({
    "load", "build", "get", "create", "make", "init", "initialize", "setup", "set", "save", "export", "convert", "wrap",
    "prepare", "compile", "freeze", "unfreeze", "trace", "script", "define", "construct", "instantiate", "restore",
    "download", "fetch", "register", "print", "count", "summarize", "check", "validate", "evaluate", "eval", "test",
    "train", "run", "update", "apply", "copy", "clone", "average", "merge", "fuse", "quantize", "prune", "shard",
    "replicate", "move", "cast", "dump", "log", "show", "plot", "inspect", "is", "has", "find", "list", "select",
    "compare", "unwrap", "reset", "patch", "replace", "swap", "reload", "read", "write", "parse", "resolve", "lookup",
})
# a word after it that makes the name data about a model: model_path, net_output, encoder_cfg, teacher_logits
_DATA_WORDS = frozenset({
    "output", "outputs", "out", "outs", "path", "paths", "dir", "dirs", "folder", "name", "names", "cfg", "cfgs", "conf",
    "config", "configs", "file", "files", "filename", "type", "types", "kind", "arg", "args", "kwargs", "opts", "options",
    "state", "states", "dict", "params", "param", "pred", "preds", "prediction", "predictions", "result", "results",
    "score", "scores", "loss", "losses", "logit", "logits", "prob", "probs", "url", "id", "ids", "info", "list", "fn",
    "func", "function", "factory", "builder", "cls", "class", "registry", "version", "size", "dim", "dims", "input",
    "inputs", "weights", "ckpt", "checkpoint", "key", "keys", "str", "dtype", "device", "summary", "stats", "metrics",
    "history", "log", "logs", "spec", "tag", "zoo", "data", "idx", "index", "count", "num", "root", "prefix", "desc",
    "meta", "metadata", "attrs", "map", "mapping", "cache", "hook", "hooks", "mode", "flag", "flags", "grad", "grads",
    "feat", "feats", "features", "emb", "embedding", "embeddings", "hidden", "act", "acts", "activations", "mask",
    "masks", "sample", "samples", "image", "images", "img", "imgs", "text", "tokens", "labels", "target", "targets",
    "decay", "alpha", "beta", "rate", "momentum", "buf", "buffer", "value", "values", "val", "acc", "step", "steps",
    "epoch", "lr", "p", "w", "meter", "meters", "timer", "timers", "logger", "loggers", "writer", "tracker", "monitor",
    "saver", "recorder", "profiler", "callback", "callbacks", "optimizer", "optimizers", "optim", "opt", "scheduler",
    "sched", "criterion", "lock", "queue",
})
# a word right before it that makes the name data's: data_generator, batch_generator, random_generator
_DATA_QUALIFIERS = frozenset({"data", "batch", "batches", "dataset", "random", "number", "rng", "sample", "samples"})
# attributes of a module that hold tensors: ``model.fc.weight.norm()`` computes on a tensor, it runs no model
_TENSOR_ATTRS = frozenset({"weight", "bias", "data", "grad", "running_mean", "running_var", "num_batches_tracked",
                           "weight_g", "weight_v", "in_proj_weight", "in_proj_bias"})
# what iterating over these calls gives is tensors (and their names): ``for p in model.parameters()``
_TENSOR_ITERATORS = frozenset({"parameters", "named_parameters", "buffers", "named_buffers"})
# a model word that names several: a list or set of models (seen_modules.add(m)) is not one
_PLURALS = frozenset(f"{w}s" for w in _MODEL_WORDS if not w.endswith("s"))

_MODEL_METHODS = frozenset({"eval", "train", "parameters", "named_parameters", "state_dict", "load_state_dict",
                            "modules", "named_modules", "children", "zero_grad", "buffers"})
_RANDOM = frozenset(f"torch.{f}" for f in ("randn", "rand", "zeros", "ones", "empty", "randint", "full"))
# methods of a module that do not run it
_NOT_FORWARD = frozenset({
    "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children", "modules",
    "named_modules", "state_dict", "load_state_dict", "to", "cuda", "cpu", "float", "double", "half", "bfloat16",
    "zero_grad", "apply", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_buffer", "register_parameter", "requires_grad_", "add_module", "get_submodule", "get_parameter",
    "save_pretrained", "update_parameters", "extra_repr", "type", "share_memory", "items", "keys", "values",
    "append", "extend", "numel", "size", "detach", "item", "cpu", "numpy", "tolist", "copy_", "fill_", "zero_",
    "data_ptr", "clone", "save", "load", "train", "eval", "step", "backward", "format", "join", "split",
    "to_empty", "compile",
    # a tensor's methods: ``model.stride.max()`` reads a buffer (YOLO's strides), it runs no model
    "max", "min", "sum", "mean", "std", "var", "argmax", "argmin", "abs", "norm", "prod", "all", "any", "long", "int",
    "bool", "view", "reshape", "squeeze", "unsqueeze", "flatten", "permute", "transpose", "contiguous", "expand",
    "repeat", "sort", "topk", "sqrt", "exp", "log", "round", "clamp", "gather", "index_select", "nonzero", "unique",
    # a string's: cfg.model_name.lower()
    "lower", "upper", "strip", "startswith", "endswith", "replace",
})
# the first word of a module's methods that set it up or read it, never run it: model.get_classifier(),
# model.reset_classifier(10), model.set_grad_checkpointing(), model_ema.update(model), model.load_pretrained(path)
_SETUP_VERBS = frozenset({"get", "set", "reset", "init", "initialize", "register", "load", "save", "export", "freeze",
                          "unfreeze", "count", "print", "summarize", "prepare", "fuse", "convert", "update", "copy",
                          "enable", "disable", "zero", "num", "no", "group", "is", "has"})
_LITERAL_KINDS = frozenset({cst.SimpleString, cst.Integer, cst.Float})
# what a BatchNorm's running statistics are made of: rewriting one of them recomputes the statistics
_STATISTICS = frozenset({"running_mean", "running_var", "momentum"})
# calls of these builtins make data, never a model: ``seen_modules = set()``
_DATA_BUILTINS = frozenset({"set", "dict", "list", "tuple", "frozenset", "str", "int", "float", "bool", "len", "sorted",
                            "range", "enumerate", "zip", "open", "repr", "format", "vars", "sum", "min", "max"})
# expressions whose value is data: literals, displays, comprehensions, arithmetic, comparisons
_DATA_KINDS = frozenset({cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.Integer, cst.Float,
                         cst.Imaginary, cst.Dict, cst.List, cst.Set, cst.Tuple, cst.ListComp, cst.SetComp, cst.DictComp,
                         cst.GeneratorExp, cst.BinaryOperation, cst.Comparison, cst.UnaryOperation})
# calls that change a mode, switch gradients off or take a training step
# calls handed a model that do not train it
_HARMLESS_WITH_MODEL = frozenset({"copy.deepcopy", "copy.copy", "print", "repr", "str", "len", "id", "type",
                                  "isinstance", "hasattr", "getattr", "torch.save"})
_MODE_CALLS = frozenset({"eval", "train", "step", "backward", "no_grad", "inference_mode", "set_grad_enabled",
                         "from_pretrained", "deepcopy"})
# the methods that make a class of unknown base a module: nn.Module's, and mmcv's train/test entry points
_FORWARDS = frozenset({"forward", "forward_train", "forward_test"})
# loaders that return (model, ...) with the model in eval mode: OpenAI's CLIP builds it with `model.eval()`
_EVAL_LOADERS = frozenset({"clip.load"})
_GRAD_OFF = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad",
                       "torch.autograd.grad_mode.no_grad", "torch.autograd.grad_mode.inference_mode"})


def model_like(name: str) -> bool:
    """A variable named for a model: ``model``, ``model_ema``, ``teacher_net``, ``netG``, ``resnet``; not a
    function that makes one (``load_model``, ``create_model``, ``trace_module``), data about one
    (``model_path``, ``net_output``, ``encoder_cfg``), what watches one (``ema_meter``, ``model_optimizer``),
    a source of data (``data_generator``) or a collection of them (``seen_modules``)."""
    if not _MODEL_NAME.search(name) or (len(name) > 1 and name.isupper()):  # CONFIG.MODEL.NAME: a config key
        return False
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    at = next((i for i, w in enumerate(words) if w in _MODEL_WORDS or w in _PLURALS or w.endswith("net")), None)
    if at is None:
        return True
    if words[at] in _PLURALS and at == len(words) - 1:
        return False
    if at and words[at - 1] in _DATA_QUALIFIERS:
        return False
    return not any(w in _VERBS for w in words[:at]) and not any(w in _DATA_WORDS for w in words[at + 1:])


def plain(key: str) -> str:
    """A receiver key as the code writes it: a local's key carries its function (``1234:model``)."""
    return key.split(":", 1)[1] if ":" in key else key


def is_train_name(name: str) -> bool:
    """``train``, ``train_one_epoch``, ``fit``, ``finetune``: a function named for training."""
    return any(w in _TRAIN_WORDS for w in _WORD.findall(name.lower()))


def is_eval_name(name: str) -> bool:
    """``evaluate``, ``validate_epoch``, ``run_test``, ``predict``... (never a pytest ``test_...``)."""
    if name.startswith(("test_", "_test")):  # pytest tests and their helpers
        return False
    return any(w in _EVAL_WORDS for w in _WORD.findall(name.lower()))


@record(eq=False)
class Forward:
    node: cst.Call
    key: str  # the receiver, in the names of the entry the walk started from
    text: str  # the receiver as written at the call
    mode: str
    grad_off: bool
    eval_path: str | None  # the evaluate/predict-named function of the file on the way, if any
    in_module: bool  # inside an nn.Module's own method: the outer model's mode decides
    in_training_loop: bool  # the innermost loop around it takes optimizer steps
    setter: cst.CSTNode | None  # the eval()/train() call that set the mode it ran in
    # training mode chosen on purpose: a train() call in the same function, with no optimizer step, backward
    # pass or call handed the model since (SWA's update_bn, Monte Carlo dropout)
    chosen: bool = False


@record(eq=False)
class Revert:
    """A training forward in the eval mode that an earlier pass of its loop left."""

    forward: cst.Call
    key: str
    left_by: cst.CSTNode  # the statement of the loop (or the eval() call) that left the model in eval mode
    eval_call: cst.CSTNode  # the eval() call itself


@record
class Modes:
    forwards: list[Forward] = field(default_factory=list)
    reverts: list[Revert] = field(default_factory=list)


@record(eq=False)
class _Loop:
    node: cst.CSTNode
    depth: int  # how many inlined calls deep the function that holds it is
    iteration: int = 0
    steps: bool = False  # an optimizer step inside it


@record(eq=False)
class _Setting:
    mode: str
    call: cst.CSTNode
    sites: tuple[cst.CSTNode, ...]  # the calls that inlined the functions it sits in, outermost first
    loops: tuple[tuple[int, int], ...]  # (id of each enclosing loop, its iteration) when it was set
    trained: int = 0  # the walker's count of what may have trained a model (``_Walker.trained``) when it was set
    where: int = 0  # id of the function it was set in (0: the module's own code)


# the nodes that hold statements: ClassDef and Assign are never under anything else (expressions hold none)
_HOLDS_STATEMENTS = frozenset({
    cst.Module, cst.IndentedBlock, cst.SimpleStatementSuite, cst.SimpleStatementLine, cst.If, cst.Else, cst.For,
    cst.While, cst.With, cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally,
    cst.FunctionDef, cst.ClassDef, cst.Match, cst.MatchCase})


def _statements(module: cst.Module) -> Iterator[Any]:
    """Every statement of the module, at any depth (and the blocks holding them), without its expressions."""
    todo: list[Any] = [module]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(kid for kid in children(node) if KIND[type(kid)] in _HOLDS_STATEMENTS or
                    KIND[type(kid)] is cst.Assign)


class _Walker:
    def __init__(self, module: cst.Module, names: Names, calls: list[cst.Call]) -> None:
        self.module = module
        self.names = names
        self._calls = calls  # every call of the file (the index's)
        self.out = Modes()
        self.functions: dict[str, cst.FunctionDef] = {}
        self.methods: dict[int, dict[str, cst.FunctionDef]] = {}  # class id -> its methods
        self.class_of: dict[int, cst.ClassDef] = {}  # method id -> its class
        self.model_keys: set[str] = set()
        self._collect()
        self.modes: dict[str, _Setting] = {}
        self.grad_off = 0
        self.sites: list[cst.CSTNode] = []
        self.stack: list[cst.FunctionDef] = []
        self.loops: list[_Loop] = []
        self.events = 0
        # what may have trained a model so far: optimizer steps, backward passes, and calls of functions the
        # walk cannot see into that were handed a model (train_one_epoch(model, ...) from another module)
        self.trained = 0
        self.aliases: dict[str, str] = {}
        self.returned: _Setting | None = None
        self.returned_model = self.inlined_model = False
        self.inlined: tuple[cst.CSTNode | None, _Setting | None] = (None, None)
        self.in_comprehension = False
        self._locals: dict[int, dict[str, cst.BaseExpression]] = {}
        self._data_locals: dict[int, frozenset[str]] = {}
        self.seen_forwards: set[tuple[int, str, bool, str | None, bool]] = set()
        self._recomputes: dict[int, bool] = {}  # function id -> it rewrites BatchNorm's statistics
        self._module_modes: dict[str, _Setting] = {}

    # ------------------------------------------------------------ the file
    def _collect(self) -> None:
        called: set[str] = set()  # functions called by name
        self_called: set[str] = set()  # methods called on self
        node: Any  # a node of either tree, told apart by KIND
        # the statements (classes, assignments) by a walk that skips expressions; the calls are the index's
        for node in chain(_statements(self.module), self._calls):
            k = KIND[type(node)]
            if k is cst.ClassDef:
                methods = {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)} \
                    if isinstance(node.body, cst.IndentedBlock) else {}
                self.methods[id(node)] = methods
                for m in methods.values():
                    self.class_of[id(m)] = node
            elif k is cst.Assign and len(node.targets) == 1 and self._builds_model(node.value):
                key = dotted(node.targets[0].target)
                if key:
                    self.model_keys.add(key)
            elif k is cst.Call:
                func = node.func
                kf = KIND[type(func)]
                if kf is cst.Name:
                    called.add(func.value)
                elif kf is cst.Attribute:
                    if KIND[type(func.value)] is cst.Name and func.value.value == "self":
                        self_called.add(func.attr.value)
                    if func.attr.value in _MODEL_METHODS:
                        key = dotted(func.value)
                        if key:
                            self.model_keys.add(key)
        for stmt in _top_level(self.module.body):
            if isinstance(stmt, cst.FunctionDef):
                self.functions.setdefault(stmt.name.value, stmt)
        self.called = called
        self.self_called = self_called

    def _relevant(self, fn: cst.FunctionDef) -> bool:
        """A root worth walking: it switches gradients or modes, steps an optimizer, is named for
        evaluation, or calls a function of the file (which may). Test suites hold hundreds of roots
        that do none of these."""
        if is_eval_name(fn.name.value) or fn.decorators:
            return True
        cls = self.class_of.get(id(fn))
        own = self.methods.get(id(cls), {}) if cls is not None else {}
        n: Any
        for n in descendants(fn.body):
            k = KIND[type(n)]
            if k is cst.With:
                return True
            if k is cst.Call:
                func = n.func
                if isinstance(func, cst.Attribute) and (func.attr.value in _MODE_CALLS or (
                        isinstance(func.value, cst.Name) and func.value.value == "self" and func.attr.value in own)):
                    return True
                if isinstance(func, cst.Name) and func.value in self.functions:
                    return True
        return False

    def _builds_model(self, value: cst.BaseExpression) -> bool:
        """``Net()``, ``nn.Sequential(...)``, ``models.resnet18()``, ``AveragedModel(m)``, ``DDP(m)``, with
        ``.to(device)`` and the like after them."""
        value = unwrap(value)
        if not isinstance(value, cst.Call):
            return False
        func = value.func
        kind = self.names.torch_module(func)
        if kind is not None and kind.endswith("Loss"):
            return False  # criterion = nn.CrossEntropyLoss(): a module, but not a model that runs in a mode
        if kind is not None or self.names.is_ddp(func):
            return True
        canon = self.names.canonical(func) or ""
        if torchvision_model(canon) is not None or canon.endswith("AveragedModel"):
            return True
        if isinstance(func, cst.Name) and func.value in self.names.classes and func.value not in self.names.imports:
            return self.names.torch_base(self.names.classes[func.value]) is not None
        return False

    def run(self) -> Modes:
        self.walk_block(self.module.body)
        self._module_modes = dict(self.modes)  # what the module's own code left its models in
        for stmt in _top_level(self.module.body):
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value not in self.called:
                self.enter(stmt, {})
            elif isinstance(stmt, cst.ClassDef):
                for name, method in self.methods.get(id(stmt), {}).items():
                    if name not in self.self_called and not name.startswith("__"):
                        self.enter(method, {})
        return self.out

    def enter(self, fn: cst.FunctionDef, aliases: dict[str, str]) -> None:
        """A root: nothing in the file calls it, so its receivers start in the mode a new module has, the
        module's own models in the mode its code left them in (``teacher = Net().eval()``)."""
        if not self._relevant(fn):
            return
        self.modes = dict(self._module_modes)
        self.grad_off = 0
        self.loops = []
        cls = self.class_of.get(id(fn))
        init = self.methods.get(id(cls), {}).get("__init__") if cls is not None else None
        if init is not None and init is not fn:
            self.call_function(init, {})  # a method runs on an object its __init__ set up (self.model.eval())
        self.call_function(fn, aliases)

    # ------------------------------------------------------------ functions
    def call_function(self, fn: cst.FunctionDef, aliases: dict[str, str]) -> None:
        if fn in self.stack or len(self.stack) >= _MAX_DEPTH or self.events > _MAX_EVENTS:
            return
        off = 1 if any(self._grad_off(d.decorator) for d in fn.decorators) else 0
        self.stack.append(fn)
        self.grad_off += off
        saved, self.aliases = getattr(self, "aliases", {}), aliases
        try:
            self.walk_block(fn.body.body if isinstance(fn.body, cst.IndentedBlock) else [fn.body])
        finally:
            self.aliases = saved
            self.grad_off -= off
            self.stack.pop()

    def _grad_off(self, expr: cst.BaseExpression) -> bool:
        """``torch.no_grad()``, ``torch.inference_mode()`` (not ``(False)``), ``torch.set_grad_enabled(False)``,
        and the bare decorators ``@torch.no_grad``."""
        call = expr if isinstance(expr, cst.Call) else None
        canon = self.names.canonical(call.func if call else expr) or ""
        if canon in _GRAD_OFF:
            first = call.args[0].value if call and call.args else None
            return not (isinstance(first, cst.Name) and first.value == "False")
        if canon == "torch.set_grad_enabled" and call and call.args:
            value = call.args[0].value
            return isinstance(value, cst.Name) and value.value == "False"
        return False

    # ------------------------------------------------------------ statements
    def walk_block(self, body) -> None:
        for stmt in body:
            self.walk_stmt(stmt)

    def walk_stmt(self, stmt: Any) -> None:  # a CSTNode, told apart by KIND (mypy cannot narrow on it)
        self.events += 1
        if self.events > _MAX_EVENTS:
            return
        k = KIND[type(stmt)]  # not isinstance(): each miss against the node classes (ABCs) is a Python call
        if k is cst.FunctionDef or k is cst.ClassDef:
            return
        if k is cst.With:
            off = 0
            for item in stmt.items:
                self.walk_expr(item.item)
                off += self._grad_off(item.item)
            self.grad_off += off
            try:
                self.walk_block(_body(stmt.body))
            finally:
                self.grad_off -= off
            return
        if k is cst.For or k is cst.While:
            self.walk_expr(stmt.iter if k is cst.For else stmt.test)
            loop = _Loop(stmt, len(self.sites), steps=self._has_step(stmt))
            self.loops.append(loop)
            try:
                for loop.iteration in range(2):
                    self.walk_block(_body(stmt.body))
            finally:
                self.loops.pop()
            if stmt.orelse is not None:
                self.walk_block(_body(stmt.orelse.body))
            return
        if k is cst.If:
            node: Any = stmt
            while node is not None:
                is_if = KIND[type(node)] is cst.If
                if is_if:
                    self.walk_expr(node.test)
                self.walk_block(_body(node.body))
                node = node.orelse if is_if else None
            return
        if k is cst.Try:
            self.walk_block(_body(stmt.body))
            for h in stmt.handlers:
                self.walk_block(_body(h.body))
            for part in (stmt.orelse, stmt.finalbody):
                if part is not None:
                    self.walk_block(_body(part.body))
            return
        if k is cst.SimpleStatementLine or k is cst.SimpleStatementSuite:
            for small in stmt.body:
                ks = KIND[type(small)]
                if ks is cst.Return and small.value is not None:
                    self.walk_expr(small)
                    key = self.key(small.value)
                    self.returned = self.setting(key) if key is not None else None
                    self.returned_model = key is not None and self.is_model(key)
                    continue
                self.walk_expr(small)
                if ks is cst.Assign and len(small.targets) == 1:
                    self._copied(small.targets[0].target, small.value)
            return
        for kid in children(stmt):  # match statements and the like
            if isinstance(kid, (cst.BaseSuite, cst.BaseStatement)):
                self.walk_stmt(kid)

    # ------------------------------------------------------------ expressions
    def walk_expr(self, node: cst.CSTNode | None) -> None:
        """Every call in ``node``, arguments before the call that takes them."""
        if node is None:
            return
        order: list[tuple[cst.Call, bool]] = []
        todo: list[tuple[cst.CSTNode, bool, bool]] = [(node, False, False)]
        while todo:
            n, done, comp = todo.pop()
            if done:
                order.append((n, comp))  # type: ignore[arg-type]
                continue
            k = KIND[type(n)]
            if k is cst.Lambda or k is cst.FunctionDef:
                continue
            if k is cst.Call:
                todo.append((n, True, comp))
            inner = comp or k in COMPREHENSIONS
            todo.extend((k, False, inner) for k in reversed(children(n)))
        for call, comp in order:
            self.in_comprehension = comp
            self.on_call(call)
        self.in_comprehension = False

    def key(self, expr: cst.BaseExpression) -> str | None:
        expr = unwrap(expr)  # model.to(device).train(): the model
        name = dotted(expr)
        if name is None:
            return None
        head, dot, rest = name.partition(".")
        if head in self.aliases:
            return self.aliases[head] + dot + rest
        if self.stack and head != "self" and head in self.local_values(self.stack[-1]):
            return f"{id(self.stack[-1])}:{name}"  # a local of this function: not the caller's name
        return name

    def on_call(self, call: cst.Call) -> None:
        func = call.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            receiver = self.key(func.value)
            if receiver is not None and method in ("eval", "train"):
                self.set_mode(receiver, _mode_of(call, method), call)
                return
            if method == "step" and (receiver is None or "sched" not in receiver.lower()):
                self.trained += 1
                for loop in self.loops:
                    loop.steps = True
                return
            if method == "backward":
                self.trained += 1
            if receiver == "self" and self.stack:
                cls = self.class_of.get(id(self.stack[-1]))
                target = self.methods.get(id(cls), {}).get(method) if cls is not None else None
                if target is not None:
                    self.inline(target, call, skip_self=True)
                    return
        if isinstance(func, cst.Name) and func.value in self.functions and func.value not in self.names.imports:
            self.inline(self.functions[func.value], call)
            return
        if isinstance(func, cst.Name) and (func.value in self.names.classes or func.value[:1].isupper()):
            return  # Net(...) constructs; a model's forward is a call of an instance
        if self._hands_over_model(call):
            self.trained += 1  # fit(model, loader) from elsewhere: it may train the model
        key = self.key(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if key is None or self._probe(call):
            return
        if isinstance(func, cst.Attribute) and (func.attr.value in _NOT_FORWARD or func.attr.value.endswith("_")
                                                or _sets_up(func.attr.value, call)):
            return  # a method that does not run the module (model.get_classifier(), model_ema.update(model)), or an
            # in-place tensor operation (weight.normal_())
        if self.is_model(key) and not self._not_a_model(func, key):
            self.forward(key, call)

    def _hands_over_model(self, call: cst.Call) -> bool:
        """A call of a function the walk does not follow that is given a model (not its parameters or
        outputs): ``train_one_epoch(model, loader, opt)``, ``trainer.fit(net)``. Copies and printing are not."""
        if (self.names.canonical(call.func) or "") in _HARMLESS_WITH_MODEL:
            return False
        for a in call.args:
            key = self.key(a.value) if KIND[type(a.value)] in (cst.Name, cst.Attribute) else None
            if key is not None and self.is_model(key) and not self._not_a_model(a.value, key):
                return True
        return False

    def _not_a_model(self, func: cst.BaseExpression, key: str) -> bool:
        """The callee is named like a model and is not one: its first name is an import (``timm.create_model``,
        ``from utils import load_model``) or a local of this function that only ever holds data (``out =
        model(x)`` then ``out.argmax(1)``; ``seen_modules = set()``). A receiver the file shows to be a model
        (a module assigned to it, ``.eval()`` or ``.parameters()`` called on it) stays one."""
        written = dotted(func)
        if written is not None and any(part in _TENSOR_ATTRS for part in written.split(".")[1:]):
            return True  # model.fc.weight.norm(): a tensor's method
        parts = plain(key).split(".")
        if any(".".join(parts[:n]) in self.model_keys for n in range(1, len(parts) + 1)):
            return False
        head = written.split(".", 1)[0] if written else None
        if head is None or head == "self" or head in self.aliases:
            return False  # what the caller passed in is the caller's to say
        if head in self.names.imports:
            return True
        return bool(self.stack) and head in self.data_locals(self.stack[-1])

    def data_locals(self, fn: cst.FunctionDef) -> frozenset[str]:
        """The names of ``fn`` that every binding gives data (see ``_is_data``); a parameter, a loop or
        ``with`` target, or any other binding makes a name unknown."""
        found = self._data_locals.get(id(fn))
        if found is None:
            params = (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)
            data: dict[str, bool] = {p.name.value: False for p in params}
            todo: list[Any] = [fn.body]
            while todo:
                node = todo.pop()
                k = KIND[type(node)]
                if k is cst.Assign or k is cst.AnnAssign:
                    targets = [t.target for t in node.targets] if k is cst.Assign else [node.target]
                    for target in targets:
                        if KIND[type(target)] is cst.Name:
                            data[target.value] = data.get(target.value, True) and node.value is not None \
                                and self._is_data(node.value)
                        else:
                            for name in _target_names(target):
                                data[name] = False
                elif k is cst.For or k is cst.CompFor:
                    tensors = self._yields_tensors(node.iter)
                    for name in _target_names(node.target):
                        data[name] = data.get(name, True) and tensors
                elif k is cst.WithItem and node.asname is not None:
                    for name in _target_names(node.asname.name):
                        data[name] = False
                elif k is cst.NamedExpr:
                    for name in _target_names(node.target):
                        data[name] = False
                if k is not cst.FunctionDef and k is not cst.ClassDef and k is not cst.Lambda:
                    todo.extend(children(node))
            found = self._data_locals[id(fn)] = frozenset(name for name, is_data in data.items() if is_data)
        return found

    def _yields_tensors(self, iterable: cst.BaseExpression) -> bool:
        """``model.parameters()``, ``ema.named_buffers()``, and ``zip``/``enumerate`` of them: the names a loop
        over it binds hold tensors (and their names, their indices), never a model."""
        if KIND[type(iterable)] is not cst.Call:
            return False
        func = iterable.func  # type: ignore[attr-defined]
        kf = KIND[type(func)]
        if kf is cst.Attribute:
            return func.attr.value in _TENSOR_ITERATORS
        if kf is cst.Name and func.value in ("zip", "enumerate") and func.value not in self.names.imports:
            args = [a.value for a in iterable.args if not a.star]  # type: ignore[attr-defined]
            return bool(args) and all(self._yields_tensors(a) for a in args)
        return False

    def _is_data(self, value: cst.BaseExpression) -> bool:
        """A literal, display, comprehension, arithmetic or comparison; a builtin's result (``set()``,
        ``sorted(...)``); or what a model's call returns (``model(x)``, ``model.state_dict()``): never a module
        (``model.to(device)`` returns the model)."""
        k = KIND[type(value)]
        if k in _DATA_KINDS:
            return True
        if k is not cst.Call:
            return False
        func = value.func  # type: ignore[attr-defined]
        kf = KIND[type(func)]
        if kf is cst.Name:
            name = func.value
            if name in _DATA_BUILTINS and name not in self.names.imports and name not in self.functions:
                return True
        elif kf is cst.Attribute and func.attr.value in SELF_RETURNING:
            return False
        written = dotted(func)
        return written is not None and self.is_model(written)

    def _probe(self, call: cst.Call) -> bool:
        """``net(torch.randn(2, 3, 32, 32))``: a shape check on made-up input, not an evaluation."""
        for a in call.args[:1]:
            value = a.value
            if isinstance(value, cst.Name) and self.stack:
                value = self.local_values(self.stack[-1]).get(value.value, value)
            if isinstance(value, cst.Call):
                canon = self.names.canonical(value.func) or ""
                if canon in _RANDOM:
                    return True
        return False

    def local_values(self, fn: cst.FunctionDef) -> dict[str, cst.BaseExpression]:
        found = self._locals.get(id(fn))
        if found is None:
            found = self._locals[id(fn)] = {}
            todo: list[cst.CSTNode] = [fn.body]
            while todo:
                node = todo.pop()
                k = KIND[type(node)]  # not isinstance(): a miss against the node classes (ABCs) is slow
                if k is cst.Assign and len(node.targets) == 1 and KIND[type(node.targets[0].target)] is cst.Name:  # type: ignore[attr-defined]
                    found[node.targets[0].target.value] = node.value  # type: ignore[attr-defined]
                if k is not cst.FunctionDef and k is not cst.ClassDef:
                    todo.extend(children(node))
        return found

    def inline(self, fn: cst.FunctionDef, call: cst.Call, skip_self: bool = False) -> None:
        params = [*fn.params.posonly_params, *fn.params.params]
        if skip_self:
            params = params[1:]
        aliases: dict[str, str] = {"self": self.aliases.get("self", "self")} if skip_self else {}
        by_name = {p.name.value: p for p in [*params, *fn.params.kwonly_params]}
        positional = [a for a in call.args if a.keyword is None and not a.star]
        for p, a in zip(params, positional):
            key = self.key(a.value)
            if key is not None:
                aliases[p.name.value] = key
        for a in call.args:
            if a.keyword is not None and a.keyword.value in by_name:
                key = self.key(a.value)
                if key is not None:
                    aliases[a.keyword.value] = key
        self.sites.append(call)
        self.returned, self.returned_model = None, False
        try:
            self.call_function(fn, aliases)
        finally:
            self.sites.pop()
        self.inlined = (call, self.returned)  # the mode of what it returned (``return model`` after model.eval())
        self.inlined_model = self.returned_model

    def _copied(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        """``ema = copy.deepcopy(model)`` / ``swa = AveragedModel(model)``: the copy starts in the mode the
        original is in then (both copy the module's ``training`` flags); ``X.from_pretrained(...)`` (Hugging
        Face) and ``model, preprocess = clip.load(name)`` start in eval mode; ``model = Net().eval()`` in the
        mode its chain leaves it in; ``a, b = x, y`` pair by pair."""
        kt, kv = KIND[type(target)], KIND[type(value)]
        if kt in (cst.Tuple, cst.List) and kv in (cst.Tuple, cst.List):  # netg, netd = NetG().eval(), NetD().eval()
            pairs = list(zip(target.elements, value.elements))  # type: ignore[attr-defined]
            if len(pairs) == len(value.elements) == len(target.elements) and all(  # type: ignore[attr-defined]
                    KIND[type(t)] is cst.Element and KIND[type(v)] is cst.Element for t, v in pairs):
                for t, v in pairs:
                    self._copied(t.value, v.value)
            return
        if self.inlined[0] is value:
            key = self.key(target)
            if key is not None and self.inlined_model:
                self.model_keys.add(key)  # raw = load_raw(path): a model
            if key is not None and self.inlined[1] is not None:
                self.modes[key] = self.inlined[1]  # net = load_model(path): in the mode the function left it
            return
        switched = _switched(value)
        if switched is not None:  # model = Net().eval(), net = build(cfg).to(device).train(): the mode it was left in
            key = self.key(target)
            if key is not None:
                self.set_mode(key, _mode_of(switched, switched.func.attr.value), switched)  # type: ignore[attr-defined]
            return
        unpacked: Any = target  # model, preprocess = clip.load(name)
        if kt in (cst.Tuple, cst.List) and kv is cst.Call and unpacked.elements \
                and (self.names.canonical(value.func) or "") in _EVAL_LOADERS:  # type: ignore[attr-defined]
            key = self.key(unpacked.elements[0].value)
            if key is not None:
                self.set_mode(key, EVAL, value)  # type: ignore[arg-type]
            return
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) \
                and value.func.attr.value == "from_pretrained":
            key = self.key(target)
            if key is not None:  # Hugging Face's from_pretrained() returns the model in eval mode
                self.set_mode(key, EVAL, value)
            return
        if not isinstance(value, cst.Call) or not value.args:
            return
        canon = self.names.canonical(value.func) or ""
        if canon not in ("copy.deepcopy",) and not canon.endswith("AveragedModel"):
            return
        source, key = self.key(value.args[0].value), self.key(target)
        if source is None or key is None:
            return
        setting = self.setting(source)
        if setting is not None:
            self.modes[key] = setting

    def set_mode(self, key: str, mode: str, call: cst.Call) -> None:
        for other in [k for k in self.modes if k.startswith(key + ".")]:
            del self.modes[other]  # model.eval() covers model.backbone too
        loops = tuple((id(loop.node), loop.iteration) for loop in self.loops)
        self.modes[key] = _Setting(mode, call, tuple(self.sites), loops, self.trained, self._where())

    def setting(self, key: str) -> _Setting | None:
        """The mode set on ``key`` or on the longest receiver it belongs to (``model`` for ``model.fc``);
        a mode set on what ``key`` holds (``model.module.eval()`` for ``model``) counts too."""
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            found = self.modes.get(".".join(parts[:n]))
            if found is not None:
                return found
        inner = [s for k, s in self.modes.items() if k.startswith(key + ".") and k.rsplit(".", 1)[1] == "module"]
        return inner[-1] if inner else None

    def is_model(self, key: str) -> bool:
        """``model``, ``self.net``, and what hangs off one (``model.features``, ``model.predict``)."""
        parts = plain(key).split(".")
        for n in range(1, len(parts) + 1):
            prefix = ".".join(parts[:n])
            if prefix == "self":
                continue
            if prefix in self.model_keys or model_like(parts[n - 1]):
                return True
        return False

    def forward(self, key: str, call: cst.Call) -> None:
        setting = self.setting(key)
        mode = setting.mode if setting is not None else TRAIN
        in_module = any(self._module_method(fn) for fn in self.stack)
        eval_path = self._eval_path()
        # a comprehension is a loop of its own, without steps
        training_loop = bool(self.loops) and self.loops[-1].steps and not self.in_comprehension
        mark = (id(call), mode, self.grad_off > 0, eval_path, training_loop)
        if mark not in self.seen_forwards:
            self.seen_forwards.add(mark)
            text = dotted(call.func.value if key != self.key(call.func) else call.func) or key  # type: ignore[attr-defined]
            # train() here, nothing trained since: training mode on purpose (update_bn, Monte Carlo dropout)
            chosen = setting is not None and mode == TRAIN and setting.sites == tuple(self.sites) \
                and setting.where == self._where() and setting.trained == self.trained \
                and _is_mode_call(setting.call, "train")
            if not chosen and mode == TRAIN and (self.grad_off or eval_path):  # precise BN: batch statistics wanted
                chosen = any(self._recomputes_statistics(fn) for fn in self.stack)
            self.out.forwards.append(Forward(call, key, text, mode, self.grad_off > 0, eval_path, in_module,
                                             training_loop, setting.call if setting else None, chosen))
        if mode == EVAL and setting is not None and not self.grad_off and eval_path is None and not in_module:
            self._revert(key, call, setting)

    def _where(self) -> int:
        """The function the walk is in (its id; 0 for the module's own code)."""
        return id(self.stack[-1]) if self.stack else 0

    def _recomputes_statistics(self, fn: cst.FunctionDef) -> bool:
        """``fn`` rewrites BatchNorm's running statistics: assigns a module's ``running_mean``, ``running_var``
        or ``momentum``, resets them or changes them in place (pycls's precise BN, ``swa_utils.update_bn``):
        the forwards it runs in training mode are there to collect batch statistics."""
        found = self._recomputes.get(id(fn))
        if found is None:
            found = False
            node: Any  # a CSTNode, told apart by KIND (mypy cannot narrow on it)
            for node in descendants(fn):
                k = KIND[type(node)]
                if k is cst.AssignTarget or k is cst.AugAssign:
                    target = node.target  # bn.momentum = 1.0; momentum, bn.momentum = bn.momentum, 1.0
                    parts = [e.value for e in target.elements] if KIND[type(target)] in (cst.Tuple, cst.List) else [target]
                    found = any(KIND[type(t)] is cst.Attribute and t.attr.value in _STATISTICS for t in parts)
                elif k is cst.Call and KIND[type(node.func)] is cst.Attribute:
                    method, owner = node.func.attr.value, node.func.value
                    found = method == "reset_running_stats" or (
                        method.endswith("_") and KIND[type(owner)] is cst.Attribute and owner.attr.value in _STATISTICS)
                if found:
                    break
            self._recomputes[id(fn)] = found
        return found

    def _eval_path(self) -> str | None:
        """The evaluate/predict-named function of the file the forward runs in, the innermost first; a
        function named for training nearer to it (``eval_linear`` calling ``train``) says it trains, and a
        method of a TestCase says it tests."""
        for fn in reversed(self.stack):
            if self._test_case_method(fn):
                return None  # a unittest TestCase's helper (run_backbone_test): the test's calls, no evaluation
            if is_eval_name(fn.name.value):
                return fn.name.value
            if is_train_name(fn.name.value):
                return None
        return None

    def _test_case_method(self, fn: cst.FunctionDef) -> bool:
        """A method of a class that extends a ``...TestCase`` (unittest, absl, tf.test, Django)."""
        cls = self.class_of.get(id(fn))
        return cls is not None and any((dotted(base.value) or "").endswith("TestCase") for base in cls.bases)

    def _revert(self, key: str, call: cst.Call, setting: _Setting) -> None:
        """A training forward in eval mode: left by an earlier pass of a loop that holds both?"""
        for loop in self.loops:
            set_in = dict(setting.loops).get(id(loop.node))
            if set_in is not None and set_in < loop.iteration and loop.steps:
                # where the loop's own function led to the eval(): that call, else the eval() itself
                left_by = setting.sites[loop.depth] if loop.depth < len(setting.sites) else setting.call
                self.out.reverts.append(Revert(call, key, left_by, setting.call))
                return

    def _has_step(self, loop: cst.CSTNode, depth: int = 0) -> bool:
        """An optimizer step (or a backward pass) in the loop, or in a function of the file it calls."""
        for n in descendants(loop):
            if KIND[type(n)] is cst.Call:
                func = n.func  # type: ignore[attr-defined]
                if isinstance(func, cst.Attribute) and func.attr.value in ("step", "backward"):
                    return True
                callee = None
                if isinstance(func, cst.Name):
                    callee = self.functions.get(func.value)
                elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
                    cls = self.class_of.get(id(self.stack[-1])) if self.stack else None
                    callee = self.methods.get(id(cls), {}).get(func.attr.value) if cls is not None else None
                if callee is not None and depth < 2 and callee is not loop and self._has_step(callee, depth + 1):
                    return True
        return False

    def _module_method(self, fn: cst.FunctionDef) -> bool:
        cls = self.class_of.get(id(fn))
        if cls is None:
            return False
        if self.names.torch_base(cls) is not None or self.names.keras_base(cls) is not None:
            return True
        if any("Lightning" in (dotted(b.value) or "") for b in cls.bases):
            return True
        # a base from another module (mmseg's BaseSegmentor) and forward()/forward_train(): a module of its own
        elsewhere = any((dotted(b.value) or "").split(".", 1)[0] in self.names.imports for b in cls.bases)
        return elsewhere and not _FORWARDS.isdisjoint(self.methods.get(id(cls), {}))


def _sets_up(method: str, call: cst.Call) -> bool:
    """A method that sets a module up or reads it (``reset_classifier(10)``, ``update(model)``); a getter only
    when given no data (``get_classifier()``, where ``get_intermediate_layers(x, n)`` runs the model)."""
    verb = method.split("_", 1)[0]
    if verb != "get":
        return verb in _SETUP_VERBS
    return all(KIND[type(a.value)] in _LITERAL_KINDS for a in call.args if a.keyword is None)


def _switched(value: Any) -> cst.Call | None:  # a CSTNode, told apart by KIND
    """The last ``.eval()``/``.train()`` of a chain of self-returning calls (``Net().eval().to(device)``): the
    mode the module the chain returns is left in; None when the chain switches none."""
    while KIND[type(value)] is cst.Call and KIND[type(value.func)] is cst.Attribute \
            and value.func.attr.value in SELF_RETURNING:
        if value.func.attr.value in ("eval", "train"):
            return value
        value = value.func.value
    return None


def _is_mode_call(node: Any, method: str) -> bool:  # a CSTNode, told apart by KIND
    """``model.train()`` (``method`` "train"): a call of that method, whatever its receiver."""
    return KIND[type(node)] is cst.Call and KIND[type(node.func)] is cst.Attribute and node.func.attr.value == method


def _mode_of(call: cst.Call, method: str) -> str:
    if method == "eval":
        return EVAL
    if not call.args:
        return TRAIN
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return TRAIN if value.value == "True" else EVAL
    if isinstance(value, cst.Integer):
        return TRAIN if value.value != "0" else EVAL
    return UNKNOWN


def _body(suite: cst.BaseSuite) -> list:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else [suite]


def _top_level(body) -> list[cst.CSTNode]:
    """Statements of the module body, including those under a top-level ``if``/``try``."""
    out: list[cst.CSTNode] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, cst.If):
            out.extend(_top_level(_body(stmt.body)))
        elif isinstance(stmt, cst.Try):
            out.extend(_top_level(_body(stmt.body)))
    return out


def analyze_modes(module: cst.Module, names: Names, calls: list[cst.Call]) -> Modes:
    """``calls``: every call of the module (the index's)."""
    return _Walker(module, names, calls).run()
