"""What the rules read of a file's layer flow: the values the interpreter (``flow.py``) builds.

- ``LayerObj``: one layer object (its kind, constructor call and arguments, the layers it holds);
- ``Application``: one call of a layer object on tensors, with the tensors it consumed and produced;
- ``Tensor``: a value flowing between applications (``producer`` and ``parents`` lead upstream);
- ``MethodCall`` (``model.fit/compile/add``, ``layer.adapt``), ``TapeCall`` (a model called under
  ``tf.GradientTape``), ``TrainableSet`` (``x.trainable = ...``), all gathered in ``Flow``;
- ``ancestors(tensor)``: every application upstream of a tensor.

Rules import from here, never from the interpreter.
"""

from __future__ import annotations

from typing import Iterator

from normlint.lint.syntax import cst
from normlint.records import field, record

from normlint.lint.constants import dict_items, dict_keys

_MAX_SEQ = 4096  # items a list may grow to while walked (longer lists are cut, never followed further)


class Value:
    """Anything the interpreter cannot say more about."""


UNKNOWN = Value()


@record(eq=False)
class Tensor(Value):
    producer: "Application | None" = None
    parents: tuple["Tensor", ...] = ()


@record(eq=False)
class LayerObj(Value):
    """A constructed layer (or model). ``kind`` is the Keras class name or the user's class name."""

    kind: str
    node: cst.CSTNode
    kwargs: dict[str, cst.BaseExpression] = field(default_factory=dict)
    args: list[cst.BaseExpression] = field(default_factory=list)
    user_class: str | None = None
    is_model: bool = False
    attrs: dict[str, Value] = field(default_factory=dict)
    # containers: the sub-layers they hold and the tensor that leaves them
    members: list["LayerObj"] = field(default_factory=list)
    contents: frozenset[str] = frozenset()  # kinds of layer inside a model not written in the file (keras.applications)
    output: Tensor | None = None
    tail: Tensor | None = None  # Sequential: output of the last layer added so far
    call_site: cst.Call | None = None  # an instance of a class of the file: where it was constructed
    framework: str = "keras"  # "keras", "torch" (torch.nn modules and functional calls), "torchvision"
    # the branches of ``if`` statements it was built in ((id of the if, which branch), outermost first; a
    # helper's include its caller's): two built in different branches of one if never meet
    branch: tuple[tuple[int, int], ...] = ()

    def arg(self, name: str, position: int | None = None) -> cst.BaseExpression | None:
        if name in self.kwargs:
            return self.kwargs[name]
        if position is not None and position < len(self.args):
            return self.args[position]
        return None

    def may_hide(self, name: str) -> bool:
        """``name`` is not given in the open, and the construction passes ``**params`` that the file does not
        show as a dict (``Conv2D(64, 3, **get_conv_params())``): it may be set there, the default is not known
        to apply."""
        node = self.node
        return name not in self.kwargs and isinstance(node, cst.Call) and any(
            a.star == "**" and name in (dict_keys(a.value) or (name,)) for a in node.args)

    def all_layers(self, _seen: set[int] | None = None) -> Iterator["LayerObj"]:
        seen = _seen if _seen is not None else set()
        if id(self) in seen:
            return
        seen.add(id(self))
        yield self
        for m in self.members:
            yield from m.all_layers(seen)
        for v in self.attrs.values():
            if isinstance(v, LayerObj):
                yield from v.all_layers(seen)
            elif isinstance(v, Seq):  # nn.ModuleList, a list of blocks
                for item in v.items:
                    if isinstance(item, LayerObj):
                        yield from item.all_layers(seen)

    def holds(self, kinds: frozenset[str]) -> bool:
        return bool(self.held(kinds))

    def held(self, kinds: frozenset[str]) -> list[str]:
        """Which of ``kinds`` this layer is or holds, sorted."""
        found: set[str] = set()
        for layer in self.all_layers():
            found |= ({layer.kind} | layer.contents) & kinds
        return sorted(found)


@record(eq=False)
class Application:
    layer: LayerObj
    inputs: tuple[Tensor, ...]
    output: Tensor
    site: cst.CSTNode
    branch: tuple[tuple[int, int], ...]
    in_call_of: str | None  # class name when applied inside that class's call()


@record(eq=False)
class Images(Value):
    """Image arrays from keras.datasets.*.load_data(), still in raw pixel units."""

    node: cst.CSTNode


@record(eq=False)
class Seq(Value):
    """A list or tuple. ``sites``: for each item, the expression that wrote it (None where unknown), so
    that a finding on a layer of ``Sequential(blocks)`` points at the element, not at the call."""

    items: list[Value]
    sites: list[cst.CSTNode | None] = field(default_factory=list)

    def site(self, i: int) -> cst.CSTNode | None:
        return self.sites[i] if i < len(self.sites) else None

    def concat(self, other: "Seq") -> "Seq":
        items, sites = self.items + other.items, self.all_sites() + other.all_sites()
        return Seq(items[:_MAX_SEQ], sites[:_MAX_SEQ])

    def all_sites(self) -> list[cst.CSTNode | None]:
        return self.sites + [None] * (len(self.items) - len(self.sites))


@record(eq=False)
class PartOf(Value):
    """One of ``model.layers``: which one is not followed, only whose."""

    model: "LayerObj"


@record(eq=False)
class Instance(Value):
    """An object of a plain class of the file (a Trainer, a GAN wrapper): its attributes are followed,
    so ``self.model`` set in ``__init__`` is the model its ``train_step`` calls."""

    node: cst.ClassDef
    attrs: dict[str, Value] = field(default_factory=dict)


@record(eq=False)
class Partial(Value):
    """``functools.partial(layers.Conv2D, padding="same")``: calling it constructs the layer."""

    func: cst.BaseExpression
    args: list[cst.BaseExpression]
    kwargs: dict[str, cst.BaseExpression]


@record(eq=False)
class FuncRef(Value):
    node: cst.FunctionDef
    self_obj: "LayerObj | Instance | None" = None


@record(eq=False)
class ClassRef(Value):
    node: cst.ClassDef


@record(eq=False)
class Bound(Value):
    """``receiver.method`` not yet called."""

    receiver: Value
    name: str
    receiver_expr: cst.BaseExpression


@record(eq=False)
class Symbol(Value):
    """A Keras/TF API symbol that is not a layer class: ``tf.GradientTape``, ``keras.datasets.cifar10``."""

    canon: str


@record(eq=False)
class MethodCall:
    receiver: Value
    receiver_expr: cst.BaseExpression
    name: str
    node: cst.Call
    args: list[Value]
    arg_nodes: list[cst.Arg]


@record(eq=False)
class TapeCall:
    model: LayerObj
    node: cst.Call
    has_training: bool


@record(eq=False)
class TrainableSet:
    """``x.trainable = value`` (``owner`` is what x evaluated to: a LayerObj, or anything else)."""

    owner: Value
    node: cst.Assign
    value: cst.BaseExpression


class _Return(Exception):
    pass


@record
class Flow:
    applications: list[Application] = field(default_factory=list)
    method_calls: list[MethodCall] = field(default_factory=list)
    tape_calls: list[TapeCall] = field(default_factory=list)
    trainable_sets: list[TrainableSet] = field(default_factory=list)
    classes: dict[str, LayerObj] = field(default_factory=dict)
    pipelines: list[LayerObj] = field(default_factory=list)  # torchvision Compose([...]) objects

    def release(self) -> None:
        """Break the graph's reference cycles once the rules are done with it (FileContext.release)."""
        held: list[Value] = [*self.classes.values(), *self.pipelines]
        for app in self.applications:  # a tensor names the application that produced it, and back
            app.output.producer = None
            held.append(app.layer)
        seen: set[int] = set()
        while held:  # a layer may hold itself (a recursive module among its members, self.me = self)
            obj = held.pop()
            if id(obj) in seen or not isinstance(obj, (LayerObj, Instance)):
                continue
            seen.add(id(obj))
            held.extend(obj.attrs.values())
            obj.attrs = {}
            if isinstance(obj, LayerObj):
                held.extend(obj.members)
                obj.members = []


def kwargs_of(call: cst.Call) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
    """Positional and keyword arguments of a call; ``**cfg`` of a constant dict counts as keywords."""
    args, kwargs = [], {}
    for a in call.args:
        if a.keyword is not None:
            kwargs[a.keyword.value] = a.value
        elif a.star == "**":
            for key, value in (dict_items(a.value) or {}).items():
                kwargs.setdefault(key, value)
        elif not a.star:
            args.append(a.value)
    return args, kwargs


def _tensors(values) -> Iterator[Tensor]:
    """The tensors among ``values`` and in the lists among them (a list may hold itself: ``xs.append(xs)``)."""
    seen: set[int] = set()
    stack = list(reversed(list(values)))
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            yield v
        elif isinstance(v, Seq) and id(v) not in seen:
            seen.add(id(v))
            stack.extend(reversed(v.items))


def _upstream_layers(outputs: list[Tensor]) -> Iterator[LayerObj]:
    seen_t: set[int] = set()
    seen_l: set[int] = set()
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen_t:
            continue
        seen_t.add(id(t))
        if t.producer is not None and id(t.producer.layer) not in seen_l:
            seen_l.add(id(t.producer.layer))
            yield t.producer.layer
        stack.extend(t.parents)


def ancestors(tensor: Tensor, limit: int = 5000) -> Iterator[Application]:
    """Every application upstream of ``tensor`` (its producer first), each once."""
    seen: set[int] = set()
    stack = [tensor]
    while stack and len(seen) < limit:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.producer is not None:
            yield t.producer
        stack.extend(t.parents)
