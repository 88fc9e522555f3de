"""A small abstract interpreter that follows Keras layers through a file, without running it.

It walks the module body, the functions it calls (inlined, with their arguments), every function and
every Keras subclass (``__init__``/``build`` attributes, then ``call()``), and records:

- ``applications``: each time a layer object is applied to tensors, with the tensors it consumed, so
  the rules can ask "what feeds this BatchNormalization";
- ``method_calls``: ``model.compile/fit/add``, ``layer.adapt`` and the like, with their receiver;
- ``tape_calls``: models called inside a ``tf.GradientTape()`` block.

Sequential lists, ``model.add(...)``, functional chains (``x = Layer(...)(x)``, through renames and
helper functions), TF1 functional layers (``tf.layers.dropout(x)``) and subclassed models all end up
as the same graph of ``Application`` nodes.  Loop bodies are walked twice so that the last layer of
one iteration is seen feeding the first of the next.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from normlint.lint.syntax import cst

from normlint.lint.keras_api import APPLICATIONS, LAYER_CLASSES, MODEL_CLASSES, SUBCLASS_BASES, TF1_LAYERS
from normlint.lint.graph import (
    Value,
    UNKNOWN,
    Tensor,
    LayerObj,
    Application,
    Images,
    Seq,
    PartOf,
    FuncRef,
    ClassRef,
    Instance,
    Partial,
    Bound,
    Symbol,
    MethodCall,
    TapeCall,
    TrainableSet,
    _Return,
    Flow,
    kwargs_of,
    _tensors,
    _upstream_layers,
    _MAX_SEQ,
)
from normlint.lint.legacy import modernize
from normlint.lint.names import Names
from normlint.lint.nodes import KIND, Dispatch
from normlint.lint import torch_api

IMAGE_DATASETS = frozenset({"cifar10", "cifar100", "mnist", "fashion_mnist"})
_PRESERVING_METHODS = frozenset({"astype", "reshape", "copy", "squeeze", "transpose"})
_PRESERVING_FUNCS = frozenset(
    {"numpy.array", "numpy.asarray", "numpy.float32", "numpy.copy", "numpy.reshape", "numpy.expand_dims",
     "tf.cast", "tf.convert_to_tensor", "tf.constant", "tf.reshape", "tf.expand_dims"}
)
_MAX_INLINE_DEPTH = 4
_MAX_INSTANCE_WALKS = 16  # classes walked again with the layers their constructor was given


class Interpreter:
    def __init__(self, module: cst.Module, names: Names) -> None:
        self.module = module
        self.names = names
        self.flow = Flow()
        self.globals: dict[str, Value] = {}
        self._branch: list[tuple[int, int]] = []
        self._call_of: list[str | None] = [None]
        self._tape_depth = 0
        self._inline_stack: list[int] = []
        self._done_funcs: set[int] = set()
        self._instance_walks = 0
        self._walked_plain: set[int] = set()
        # id(expression) -> what it names beyond the local scope: a Symbol, a function or class of the file
        # (the same node resolves alike every time it is read; the tree outlives the run)
        self._resolved: dict[int, Value] = {}
        self._arguments: dict[int, tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]] = {}

    # ----------------------------------------------------------------- driver
    def run(self) -> Flow:
        self.exec_block(self.module.body, self.globals)
        # by KIND, not isinstance(): a miss against the node classes (ABCs) costs a Python-level call
        classes = [s for s in self.module.body if KIND[type(s)] is cst.ClassDef]
        for stmt in classes:
            if self.is_keras_class(stmt):
                self.class_summary(stmt)
        for stmt in classes:  # plain classes (a Trainer): their methods, closures and factories
            if not self.is_keras_class(stmt) and id(stmt) not in self._walked_plain:
                self._walk_methods(stmt, Instance(stmt), [], {})
        for stmt in self.module.body:
            if KIND[type(stmt)] is cst.FunctionDef and id(stmt) not in self._done_funcs:
                self.call_function(FuncRef(stmt), [], {}, standalone=True)
        return self.flow

    # -------------------------------------------------------------- classes
    def is_keras_class(self, node: cst.ClassDef) -> bool:
        """A layer or model class: Keras's (a Layer/Model subclass) or PyTorch's (an nn.Module subclass)."""
        return self.names.keras_base(node) is not None or self.names.torch_base(node) is not None

    def _class_kind(self, node: cst.ClassDef) -> str:
        """What the rules call a class of the file: the concrete Keras layer it extends
        (``class WSConv2D(layers.Conv2D)`` is a Conv2D), else its own name, marked when it collides with
        a Keras layer's (``class Conv2D(layers.Layer)`` of the user's own is not Keras's Conv2D)."""
        name = node.name.value
        base = self.names.keras_base(node)
        if base is not None and base not in SUBCLASS_BASES and base not in MODEL_CLASSES:
            return base
        torch_base = self.names.torch_base(node) if base is None else None
        if torch_base is not None and torch_base not in torch_api.SUBCLASS_BASES:
            return torch_base  # class FrozenBN(nn.BatchNorm2d) is a BatchNorm2d
        if name in LAYER_CLASSES or name in MODEL_CLASSES or name in torch_api.MODULE_CLASSES:
            return f"{name} (a class of the file)"
        return name

    def class_summary(self, node: cst.ClassDef) -> LayerObj:
        name = node.name.value
        if name in self.flow.classes:
            return self.flow.classes[name]
        keras = self.names.keras_base(node)
        torch = None if keras is not None else self.names.torch_base(node)
        obj = LayerObj(kind=self._class_kind(node), node=node, user_class=name,
                       is_model=keras in MODEL_CLASSES or torch in torch_api.SUBCLASS_BASES,
                       framework="keras" if keras is not None else "torch")
        self.flow.classes[name] = obj
        self._walk_methods(node, obj, [], {})
        return obj

    def _walk_methods(self, node: cst.ClassDef, obj: LayerObj | Instance, args: list[Value],
                      kwargs: dict[str, Value]) -> None:
        """Every method of the class on ``obj``: ``__init__`` (with ``args``) and ``build`` first, then
        ``call()`` (its input a tensor), then the rest (``train_step``, ``fit``...), each once."""
        if isinstance(obj, Instance):
            self._walked_plain.add(id(node))
        name = node.name.value
        methods = self._methods(node)
        order = ["__init__", "build", "call", "forward"] + [m for m in methods if m not in _FIRST_METHODS]
        tape_depth, self._tape_depth = self._tape_depth, 0
        try:
            for mname in order:
                fn = methods.get(mname)
                if fn is None:
                    continue
                forward = mname == "call" or (mname == "forward" and isinstance(obj, LayerObj) and obj.framework == "torch")
                self._call_of.append(name if forward and isinstance(obj, LayerObj) else None)
                first_app = len(self.flow.applications)
                ref = FuncRef(fn, None if _is_static(fn) else obj)
                try:
                    out = self.call_function(ref, args if mname == "__init__" else [],
                                             kwargs if mname == "__init__" else {}, standalone=True,
                                             tensor_first=forward)
                finally:
                    self._call_of.pop()
                if forward and isinstance(obj, LayerObj):
                    if isinstance(out, Tensor):
                        obj.output = out
                    # layers built or applied inside call() belong to the model too
                    known = {id(m) for m in obj.members}
                    for app in self.flow.applications[first_app:]:
                        if app.layer is not obj and id(app.layer) not in known:
                            known.add(id(app.layer))
                            obj.members.append(app.layer)
        finally:
            self._tape_depth = tape_depth

    def instantiate(self, node: cst.ClassDef, call: cst.Call, pos: list[Value], kw: dict[str, Value]) -> Value:
        """``Net(...)`` / ``Trainer(model)``: a layer of the file is its summary with this call's keywords;
        given layers or models, the class is walked again with them (``self.model = model`` is then
        the model that ``train_step`` runs)."""
        given_layers = any(isinstance(v, (LayerObj, Instance)) for v in [*pos, *kw.values()])
        rewalk = given_layers and self._instance_walks < _MAX_INSTANCE_WALKS
        if not self.is_keras_class(node):
            inst = Instance(node)
            if rewalk:
                self._instance_walks += 1
                self._walk_methods(node, inst, pos, kw)
            else:
                init = self._methods(node).get("__init__")
                if init is not None:
                    self.call_function(FuncRef(init, inst), pos, kw)
            return inst
        summary = self.class_summary(node)
        args, kwargs = kwargs_of(call)
        obj = LayerObj(kind=summary.kind, node=node, kwargs=kwargs, args=args, user_class=summary.user_class,
                       is_model=summary.is_model, attrs=summary.attrs, members=summary.members,
                       output=summary.output, call_site=call, framework=summary.framework)
        if rewalk:
            self._instance_walks += 1
            obj.attrs, obj.members = {}, []
            self._walk_methods(node, obj, pos, kw)
        return obj

    def _methods(self, node: cst.ClassDef, _depth: int = 0) -> dict[str, cst.FunctionDef]:
        """The class's methods, with those it inherits from classes of the same file (its own win)."""
        methods: dict[str, cst.FunctionDef] = {}
        if _depth < 10:
            for base in reversed(node.bases):
                parent = self.names.classes.get(base.value.value) if isinstance(base.value, cst.Name) else None
                if parent is not None and parent is not node and base.value.value not in self.names.imports:
                    methods.update(self._methods(parent, _depth + 1))
        methods.update({s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)})
        return methods

    # ------------------------------------------------------------ functions
    def call_function(
        self,
        ref: FuncRef,
        args: list[Value],
        kwargs: dict[str, Value],
        standalone: bool = False,
        tensor_first: bool = False,
    ) -> Value:
        fn = ref.node
        if id(fn) in self._inline_stack or len(self._inline_stack) >= _MAX_INLINE_DEPTH:
            return UNKNOWN
        self._done_funcs.add(id(fn))
        env: dict[str, Value] = {}
        params = list(fn.params.posonly_params) + list(fn.params.params)
        if ref.self_obj is not None and params:
            env[params[0].name.value] = ref.self_obj
            params = params[1:]
        for i, p in enumerate(params):
            if i < len(args):
                env[p.name.value] = args[i]
            elif p.name.value in kwargs:
                env[p.name.value] = kwargs[p.name.value]
            elif standalone and (tensor_first and i == 0):
                env[p.name.value] = Tensor()
            else:
                env[p.name.value] = self._default(p)
        for p in fn.params.kwonly_params:
            env[p.name.value] = kwargs[p.name.value] if p.name.value in kwargs else self._default(p)
        self._inline_stack.append(id(fn))
        result: Value = UNKNOWN
        try:
            self.exec_block(fn.body.body if isinstance(fn.body, cst.IndentedBlock) else [fn.body], env)
        except _Return as r:
            result = r.args[0]
        finally:
            self._inline_stack.pop()
        return result

    def _default(self, param: cst.Param) -> Value:
        """A parameter left out: its default when that names something (``norm_layer=nn.BatchNorm2d``)."""
        default = param.default
        if default is not None and KIND[type(default)] in (cst.Name, cst.Attribute):  # not isinstance: an ABC's miss is slow
            return self.eval(default, {})
        return UNKNOWN

    # ----------------------------------------------------------- statements
    def exec_block(self, body, env: dict[str, Value]) -> None:
        for stmt in body:
            how = _STMT[type(stmt)]
            if how is not None:
                how(self, stmt, env)

    def _suite(self, suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
        if isinstance(suite, cst.IndentedBlock):
            return suite.body
        return [suite]

    def _exec_line(self, stmt: cst.SimpleStatementLine | cst.SimpleStatementSuite, env: dict[str, Value]) -> None:
        for small in stmt.body:
            how = _SMALL[type(small)]
            if how is not None:
                how(self, small, env)

    def _exec_try(self, stmt: cst.Try, env: dict[str, Value]) -> None:
        self.exec_block(self._suite(stmt.body), env)
        for h in stmt.handlers:
            self.exec_block(self._suite(h.body), env)
        if stmt.orelse is not None:
            self.exec_block(self._suite(stmt.orelse.body), env)
        if stmt.finalbody is not None:
            self.exec_block(self._suite(stmt.finalbody.body), env)

    def _exec_def(self, stmt: cst.FunctionDef | cst.ClassDef, env: dict[str, Value]) -> None:
        env[stmt.name.value] = FuncRef(stmt) if KIND[type(stmt)] is cst.FunctionDef else ClassRef(stmt)  # type: ignore[arg-type]

    def _exec_if(self, stmt: cst.If, env: dict[str, Value]) -> None:
        node: cst.If | cst.Else | None = stmt
        index = 0
        while node is not None:
            self._branch.append((id(stmt), index))
            try:
                self.exec_block(self._suite(node.body), env)
            finally:
                self._branch.pop()
            index += 1
            node = node.orelse if KIND[type(node)] is cst.If else None  # type: ignore[union-attr]

    def _exec_loop(self, stmt: cst.For | cst.While, env: dict[str, Value]) -> None:
        items: list[Value] | None = None
        if isinstance(stmt, cst.For):
            iterable = self.eval(stmt.iter, env)
            if isinstance(iterable, Seq):
                items = iterable.items
        if items is not None and len(items) <= 64:
            for item in items:
                self._assign(stmt.target, item, env)  # type: ignore[union-attr]
                self.exec_block(self._suite(stmt.body), env)
        else:
            for _ in range(2):
                if isinstance(stmt, cst.For):
                    self._assign(stmt.target, UNKNOWN, env)
                self.exec_block(self._suite(stmt.body), env)
        if stmt.orelse is not None:
            self.exec_block(self._suite(stmt.orelse.body), env)

    def _exec_with(self, stmt: cst.With, env: dict[str, Value]) -> None:
        tapes = 0
        for item in stmt.items:
            value = self.eval(item.item, env)
            if isinstance(item.item, cst.Call):
                canon = self.names.canonical(item.item.func)
                if canon in ("tf.GradientTape", "tf.autodiff.GradientTape"):
                    tapes += 1
            if item.asname is not None:
                self._assign(item.asname.name, value, env)
        self._tape_depth += tapes
        try:
            self.exec_block(self._suite(stmt.body), env)
        finally:
            self._tape_depth -= tapes

    def _exec_assign(self, small: cst.Assign, env: dict[str, Value]) -> None:
        value = _EVAL[type(small.value)](self, small.value, env)
        for t in small.targets:
            if KIND[type(t.target)] is cst.Attribute and t.target.attr.value == "trainable":
                self.flow.trainable_sets.append(TrainableSet(self.eval(t.target.value, env), small, small.value))
            self._assign(t.target, value, env)

    def _exec_annassign(self, small: cst.AnnAssign, env: dict[str, Value]) -> None:
        if small.value is not None:
            self._assign(small.target, self.eval(small.value, env), env)

    def _exec_augassign(self, small: cst.AugAssign, env: dict[str, Value]) -> None:
        left = self.eval(small.target, env)
        right = self.eval(small.value, env)
        self._assign(small.target, self._binop(left, right, small.operator), env)

    def _exec_expr(self, small: cst.Expr, env: dict[str, Value]) -> None:
        self.eval(small.value, env)

    def _exec_return(self, small: cst.Return, env: dict[str, Value]) -> None:
        value = self.eval(small.value, env) if small.value is not None else UNKNOWN
        if self._inline_stack:  # a function's (call_function runs every body and catches it): the call ends
            raise _Return(value)
        # outside any function: CPython refuses the file, but flake8 hands its ``ast`` tree over all the
        # same (and a notebook cell is parsed alone): there is no call to end, the module goes on

    def _assign(self, target: cst.BaseExpression, value: Value, env: dict[str, Value]) -> None:
        k = KIND[type(target)]
        if k is cst.Name:
            env[target.value] = value  # type: ignore[attr-defined]
        elif k is cst.Tuple or k is cst.List:
            elements = [e.value for e in target.elements]
            items = value.items if isinstance(value, Seq) and len(value.items) == len(elements) else None
            for i, el in enumerate(elements):
                self._assign(el, items[i] if items else UNKNOWN, env)
        elif k is cst.Attribute:
            owner = self.eval(target.value, env)
            if isinstance(owner, (LayerObj, Instance)):
                owner.attrs[target.attr.value] = value

    # ---------------------------------------------------------- expressions
    def eval(self, expr: cst.BaseExpression | None, env: dict[str, Value]) -> Value:
        """What ``expr`` evaluates to; UNKNOWN for what the flow does not follow."""
        return _EVAL[type(expr)](self, expr, env)

    def _eval_name(self, expr: cst.Name, env: dict[str, Value]) -> Value:
        found = env.get(expr.value) or self.globals.get(expr.value)  # the local, else the module's (values are never falsy)
        if found is not None:
            return found
        found = self._resolved.get(id(expr))
        if found is None:
            name = expr.value
            if name in self.names.functions and name not in self.names.imports:
                found = FuncRef(self.names.functions[name])
            elif name in self.names.classes and name not in self.names.imports:
                found = ClassRef(self.names.classes[name])
            else:
                found = self._symbol(expr)
            self._resolved[id(expr)] = found
        return found

    def _eval_attribute(self, expr: cst.Attribute, env: dict[str, Value]) -> Value:
        owner = _EVAL[type(expr.value)](self, expr.value, env)
        attr = expr.attr.value
        t = type(owner)  # the value classes have no subclasses
        if t is LayerObj:
            if attr in owner.attrs:
                return owner.attrs[attr]
            if attr == "output" and owner.output is not None and not owner.user_class:
                return owner.output  # keras.Model(inputs, Dense(10)(base.output))
            if attr == "layers" and owner.is_model:  # for layer in base.layers[-20:]: layer.trainable = True
                return Seq([PartOf(owner)])
            if owner.user_class and owner.user_class in self.names.classes:
                for s in self.names.classes[owner.user_class].body.body:
                    if isinstance(s, cst.FunctionDef) and s.name.value == attr:
                        return FuncRef(s, owner)
            return Bound(owner, attr, expr.value)
        if t is Instance:
            if attr in owner.attrs:
                return owner.attrs[attr]
            method = self._methods(owner.node).get(attr)
            if method is not None:
                return FuncRef(method, None if _is_static(method) else owner)
            return Bound(owner, attr, expr.value)
        if t is not Images and t is not Tensor and t is not Seq:
            sym = self._symbol(expr)
            if sym is not UNKNOWN:
                return sym
        return Bound(owner, attr, expr.value)

    def _eval_binop(self, expr: cst.BinaryOperation, env: dict[str, Value]) -> Value:
        return self._binop(self.eval(expr.left, env), self.eval(expr.right, env), expr.operator)

    def _eval_subscript(self, expr: cst.Subscript, env: dict[str, Value]) -> Value:
        base = self.eval(expr.value, env)
        if isinstance(base, Images):
            return base
        if isinstance(base, Tensor):
            return Tensor(parents=(base,))
        if isinstance(base, Seq) and len(expr.slice) == 1:
            idx = expr.slice[0].slice
            k = KIND[type(idx)]
            if k is cst.Slice:
                return base  # a slice of a list: its items, give or take
            if k is cst.Index and KIND[type(idx.value)] is cst.Integer:  # type: ignore[union-attr]
                i = int(idx.value.value)
                if -len(base.items) <= i < len(base.items):
                    return base.items[i]
        return UNKNOWN

    def _eval_named(self, expr: cst.NamedExpr, env: dict[str, Value]) -> Value:
        value = self.eval(expr.value, env)
        self._assign(expr.target, value, env)
        return value

    def _eval_ifexp(self, expr: cst.IfExp, env: dict[str, Value]) -> Value:
        self.eval(expr.body, env)
        return self.eval(expr.orelse, env)

    def _eval_dict(self, expr: cst.Dict, env: dict[str, Value]) -> Value:
        for el in expr.elements:  # {"train": transforms.Compose([...]), ...}: what it builds still counts
            self.eval(el.value, env)
        return UNKNOWN

    def _sequence(self, expr: cst.List | cst.Tuple, env: dict[str, Value]) -> Seq:
        seq = Seq([], [])
        for e in expr.elements:
            value = self.eval(e.value, env)
            if KIND[type(e)] is cst.StarredElement:
                if isinstance(value, Seq):  # [*blocks, Dropout(0.5)]
                    seq = seq.concat(value)
                continue
            seq.items.append(value)
            seq.sites.append(e.value)
        return seq

    def _comprehension(self, expr: cst.ListComp | cst.GeneratorExp, env: dict[str, Value]) -> Seq:
        """``[Dense(64) for _ in range(3)]``: the element twice, as a loop body is walked, each time a
        fresh value (the target bound to the first two items of a known list), in a scope of its own."""
        scope = dict(env)
        clause = expr.for_in
        iterable = self.eval(clause.iter, env)
        known = iterable.items[:2] if isinstance(iterable, Seq) else []
        seq = Seq([], [])
        for i in range(2):
            self._assign(clause.target, known[i] if i < len(known) else UNKNOWN, scope)
            inner = clause.inner_for_in
            while inner is not None:  # the targets of nested clauses are not followed
                self._assign(inner.target, UNKNOWN, scope)
                inner = inner.inner_for_in
            seq.items.append(self.eval(expr.elt, scope))
            seq.sites.append(expr.elt)
        return seq

    def _symbol(self, expr: cst.BaseExpression) -> Value:
        found = self._resolved.get(id(expr))  # the same name read again (a helper inlined at each call)
        if found is None:
            canon = self.names.canonical(expr)
            found = self._resolved[id(expr)] = Symbol(canon) if canon is not None else UNKNOWN
        return found

    def _binop(self, left: Value, right: Value, op: cst.BaseBinaryOp | cst.BaseAugOp) -> Value:
        if isinstance(left, Seq) and isinstance(right, Seq) and isinstance(op, (cst.Add, cst.AddAssign)):
            return left.concat(right)
        if type(left) is Tensor:
            return Tensor(parents=(left, right) if type(right) is Tensor else (left,))
        if type(right) is Tensor:
            return Tensor(parents=(right,))
        return UNKNOWN  # arithmetic on raw images (x / 255.) is scaling: no longer raw

    # ---------------------------------------------------------------- calls
    def _eval_call(self, call: cst.Call, env: dict[str, Value]) -> Value:
        func = _EVAL[type(call.func)](self, call.func, env)  # self.eval(), one call fewer on the hottest path
        arg_values, pos, kw = [], [], {}
        for a in call.args:
            how = _EVAL[type(a.value)]
            v = UNKNOWN if how is _unknown else how(self, a.value, env)  # literals: no call
            arg_values.append(v)
            if a.keyword is not None:
                kw[a.keyword.value] = v
            elif not a.star:
                pos.append(v)

        t = type(func)  # the value classes have no subclasses: one test each, the commonest first
        if t is Symbol:
            made = self._call_symbol(func.canon, call, pos, kw, arg_values)  # type: ignore[attr-defined]
            return self._stamped(made, call) if self._branch else made
        if t is Bound:
            return self._call_method(func, call, arg_values, pos, kw, env)  # type: ignore[arg-type]
        if t is FuncRef:
            return self.call_function(func, pos, kw)  # type: ignore[arg-type]
        if t is LayerObj:
            return self._apply(func, call, arg_values)  # type: ignore[arg-type]
        if t is ClassRef:
            made = self.instantiate(func.node, call, pos, kw)  # type: ignore[attr-defined]
            return self._stamped(made, call) if self._branch else made
        if t is Partial:
            made = self._call_partial(func, call, pos, kw, arg_values)  # type: ignore[arg-type]
            return self._stamped(made, call) if self._branch else made
        return self._opaque(arg_values)

    def _stamped(self, made: Value, call: cst.Call) -> Value:
        """``made``, marked with the ``if`` branches the walk is in when this call built it (a layer, or an
        instance of a class of the file); a layer the call only returned keeps its own."""
        if type(made) is LayerObj and (made.node is call or made.call_site is call):
            made.branch = tuple(self._branch)  # type: ignore[attr-defined]
        return made

    def _call_partial(self, part: Partial, call: cst.Call, pos, kw, values) -> Value:
        """``Conv = partial(layers.Conv2D, padding="same"); Conv(64)``: a Conv2D with both calls' arguments."""
        kind = self.names.layer_class(part.func)
        if kind is None:
            torch_kind = self.names.torch_module(part.func)
            if torch_kind is None:
                return self._opaque(values)
            args, kwargs = kwargs_of(call)
            return LayerObj(kind=torch_kind, node=call, kwargs={**part.kwargs, **kwargs}, args=part.args + args,
                            framework="torch")
        args, kwargs = kwargs_of(call)
        args, kwargs = modernize(call, kind, part.args + args, {**part.kwargs, **kwargs})
        return LayerObj(kind=kind, node=call, kwargs=kwargs, args=args, is_model=kind in MODEL_CLASSES)

    def _layer_arguments(self, call: cst.Call, kind: str) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
        """The (modernized) arguments of a layer construction, once per call site (a helper inlined at each
        call constructs its layers again); nothing changes a layer's args/kwargs afterwards."""
        found = self._arguments.get(id(call))
        if found is None:
            found = self._arguments[id(call)] = modernize(call, kind, *kwargs_of(call))
        return found

    def _opaque(self, values: list[Value]) -> Value:
        tensors = _tensors_in(values)
        return Tensor(parents=tensors) if tensors else UNKNOWN

    def _call_symbol(self, canon: str, call: cst.Call, pos, kw, values) -> Value:
        if canon == "functools.partial" and call.args and call.args[0].keyword is None and not call.args[0].star:
            args, kwargs = kwargs_of(call)
            return Partial(call.args[0].value, args[1:], kwargs)
        kind = self.names.layer_class(call.func)
        if kind == "Input" or canon in ("keras.Input", "keras.layers.Input"):
            return Tensor()
        if kind is not None:
            args, kwargs = self._layer_arguments(call, kind)
            obj = LayerObj(kind=kind, node=call, kwargs=kwargs, args=args, is_model=kind in MODEL_CLASSES)
            if kind == "Sequential":
                layers = pos[0] if pos else kw.get("layers", UNKNOWN)
                obj.tail = Tensor()
                if isinstance(layers, Seq):
                    for i, layer in enumerate(layers.items):
                        self._sequential_add(obj, layer, layers.site(i) or call)
            elif kind in ("Model", "Functional"):
                outputs = kw.get("outputs", pos[1] if len(pos) > 1 else UNKNOWN)
                outs = list(_tensors([outputs]))
                if outs:
                    obj.output = outs[-1]
                    obj.members = list(_upstream_layers(outs))
            return obj
        if canon.startswith(("torch", "collections.")):
            found = self._call_torch(canon, call, pos, kw, values)
            if found is not None:
                return found
        if canon.startswith("keras.applications.") and canon.rsplit(".", 1)[1] in APPLICATIONS:
            app = canon.rsplit(".", 1)[1]
            args, kwargs = kwargs_of(call)
            obj = LayerObj(kind=app, node=call, kwargs=kwargs, args=args, is_model=True, contents=APPLICATIONS[app])
            given = kw.get("input_tensor")
            if isinstance(given, Tensor):  # built on a tensor: base.output continues that graph
                obj.output = self._apply(obj, call, [given])
            return obj
        tf1 = self.names.tf1_layer(call.func)
        if tf1 in TF1_LAYERS:
            args, kwargs = kwargs_of(call)
            layer = LayerObj(kind=TF1_LAYERS[tf1], node=call, kwargs=kwargs, args=args[1:])
            first = values[0] if values else kw.get("inputs", UNKNOWN)
            return self._apply(layer, call, [first])
        if canon.endswith(".load_data") and canon.startswith("keras.datasets."):
            dataset = canon.split(".")[2]
            if dataset in IMAGE_DATASETS:
                return Seq([Seq([Images(call), UNKNOWN]), Seq([Images(call), UNKNOWN])])
            return UNKNOWN
        if canon in _PRESERVING_FUNCS or canon.replace("np.", "numpy.", 1) in _PRESERVING_FUNCS:
            if pos and isinstance(pos[0], Images):
                return pos[0]
        return self._opaque(values)

    # --------------------------------------------------------------- PyTorch
    def _call_torch(self, canon: str, call: cst.Call, pos, kw, values) -> Value | None:
        """torch.nn modules (Sequential of positional modules, ``*layers`` and OrderedDicts; ModuleList
        as the list it holds), torch.nn.functional batch_norm/dropout applied where called, torchvision
        transforms and Compose pipelines, torchvision models, DataParallel/DDP wrappers."""
        kind = torch_api.module_class(canon)  # by the name's meaning: ``norm_layer(planes)`` after ``norm_layer = nn.BatchNorm2d``
        if kind == "ModuleList":
            held = pos[0] if pos else kw.get("modules", UNKNOWN)
            return Seq(list(held.items), held.all_sites()) if isinstance(held, Seq) else Seq([], [])
        if kind is not None:
            args, kwargs = kwargs_of(call)
            obj = LayerObj(kind=kind, node=call, kwargs=kwargs, args=args, framework="torch",
                           is_model=kind in torch_api.SUBCLASS_BASES)
            if kind == "Sequential":
                obj.tail = Tensor()
                for item, site in self._star_items(call, values):
                    self._sequential_add(obj, item, site)
            return obj
        functional = torch_api.functional(canon)
        if functional is not None:
            args, kwargs = kwargs_of(call)
            layer = LayerObj(kind=functional, node=call, kwargs=kwargs, args=args[1:], framework="torch")
            return self._apply(layer, call, [values[0] if values else kw.get("input", UNKNOWN)])
        transform = torch_api.transform_name(canon)
        if transform is not None:
            args, kwargs = kwargs_of(call)
            obj = LayerObj(kind=transform, node=call, kwargs=kwargs, args=args, framework="torchvision")
            if transform in ("Compose", "RandomApply", "RandomOrder") and pos and isinstance(pos[0], Seq):
                obj.members = [v for v in pos[0].items if isinstance(v, LayerObj)]
                obj.attrs["sites"] = Seq(list(pos[0].items), pos[0].all_sites())
                if transform == "Compose":
                    self.flow.pipelines.append(obj)
            return obj
        name = torch_api.torchvision_model(canon)
        if name is not None:
            args, kwargs = kwargs_of(call)
            return LayerObj(kind=name, node=call, kwargs=kwargs, args=args, is_model=True, framework="torch",
                            contents=frozenset({"BatchNorm2d", "Dropout"}))
        if self.names.is_ddp(call.func) and pos and isinstance(pos[0], LayerObj):
            return pos[0]  # the wrapper runs the module it wraps
        if canon == "collections.OrderedDict" and pos and isinstance(pos[0], Seq):
            pairs = [v for v in pos[0].items if isinstance(v, Seq) and len(v.items) == 2]
            return Seq([p.items[1] for p in pairs], [p.site(1) for p in pairs])
        return None

    @staticmethod
    def _star_items(call: cst.Call, values: list[Value]):
        """(value, the expression that wrote it) of each positional argument, ``*layers`` spread, an
        OrderedDict's modules in order."""
        for a, v in zip(call.args, values):
            if a.keyword is not None or a.star == "**":
                continue
            if a.star == "*" or (isinstance(v, Seq) and not a.star):
                if isinstance(v, Seq):
                    for i, item in enumerate(v.items):
                        yield item, v.site(i) or a.value
                continue
            yield v, a.value

    def _sequential_add(self, seq: LayerObj, layer: Value, site: cst.CSTNode) -> None:
        if not isinstance(layer, LayerObj):
            seq.tail = Tensor(parents=(seq.tail,) if seq.tail else ())
            return
        seq.members.append(layer)
        seq.tail = self._apply(layer, site, [seq.tail or Tensor()])
        seq.output = seq.tail

    def _apply(self, layer: LayerObj, site: cst.CSTNode, values: list[Value]) -> Tensor:
        inputs = _tensors_in(values) or (Tensor(),)
        if self._tape_depth and (layer.is_model or layer.user_class) and isinstance(site, cst.Call):
            # training=..., a flag under the name the model's call() gives it (is_training=True), or
            # passed by position (model(x, True)): passed, not missing
            has_training = any(a.keyword is not None and "train" in a.keyword.value.lower() for a in site.args) \
                or sum(1 for a in site.args if a.keyword is None and not a.star) >= 2
            self.flow.tape_calls.append(TapeCall(layer, site, has_training))
        if layer.kind == "Sequential" and layer.members:
            out = inputs[0]
            for member in layer.members:
                out = self._apply(member, site, [out])
            return out
        out = Tensor(parents=inputs)
        app = Application(layer, inputs, out, site, tuple(self._branch), self._call_of[-1])
        out.producer = app
        self.flow.applications.append(app)
        return out

    def _call_method(self, bound: Bound, call: cst.Call, values, pos, kw, env: dict[str, Value]) -> Value:
        receiver, name = bound.receiver, bound.name
        self.flow.method_calls.append(
            MethodCall(receiver, bound.receiver_expr, name, call, values, list(call.args))
        )
        rt = type(receiver)  # the value classes have no subclasses
        if rt is LayerObj and receiver.framework == "torch":
            if receiver.kind == "Sequential" and name in ("append", "add_module", "extend") and pos:
                item = pos[-1]
                for value, site in ([(v, item.site(i) or call) for i, v in enumerate(item.items)]
                                    if name == "extend" and isinstance(item, Seq) else [(item, call.args[-1].value)]):
                    self._sequential_add(receiver, value, site)
                return receiver
            if name in torch_api.SELF_RETURNING:
                return receiver
        if name == "add" and pos:
            if not isinstance(receiver, LayerObj) and isinstance(pos[0], LayerObj):
                # model.add(...) on a receiver we did not see built: an implicit Sequential
                receiver = LayerObj(kind="Sequential", node=call, is_model=True, tail=Tensor())
                self._assign(bound.receiver_expr, receiver, env)
            if isinstance(receiver, LayerObj) and receiver.kind == "Sequential":  # maybe the one made just above
                self._sequential_add(receiver, pos[0], call.args[0].value)
                return UNKNOWN
        if rt is Seq and pos:
            self._list_method(receiver, name, call, pos)
        elif rt is Images and name in _PRESERVING_METHODS:
            return receiver
        elif rt is Tensor:
            return Tensor(parents=(receiver, *_tensors_in(values)))
        return self._opaque(values)

    @staticmethod
    def _list_method(seq: Seq, name: str, call: cst.Call, pos: list[Value]) -> None:
        """``blocks.append(Dropout(0.5))``, ``.extend([...])``, ``.insert(0, ...)`` on a list being built."""
        positional = [a.value for a in call.args if a.keyword is None and not a.star]
        sites = seq.all_sites()
        if name == "append":
            seq.items.append(pos[0])
            sites.append(positional[0])
        elif name == "extend" and isinstance(pos[0], Seq):
            more = pos[0]
            seq.items.extend(more.items)
            sites.extend(more.all_sites())
        elif name == "insert" and len(pos) == 2 and isinstance(positional[0], cst.Integer):
            at = int(positional[0].value)
            seq.items.insert(at, pos[1])
            sites.insert(at, positional[1])
        del seq.items[_MAX_SEQ:], sites[_MAX_SEQ:]  # a list extended by itself in a loop doubles each pass
        seq.sites = sites


_FIRST_METHODS = frozenset({"__init__", "build", "call", "forward"})


def _tensors_in(values: list[Value]) -> tuple[Tensor, ...]:
    """``tuple(_tensors(values))``, without a generator for the common case: no list among the values."""
    found = []
    for v in values:
        t = type(v)
        if t is Tensor:
            found.append(v)
        elif t is Seq:
            return tuple(_tensors(values))
    return tuple(found)  # type: ignore[arg-type]


def _is_static(fn: cst.FunctionDef) -> bool:
    """A staticmethod (no self) or classmethod (its first parameter is the class, not an object)."""
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value in ("staticmethod", "classmethod")
               for d in fn.decorators)


def analyze(module: cst.Module, names: Names) -> Flow:
    return Interpreter(module, names).run()


def _unknown(interpreter: Interpreter, expr: Any, env: dict[str, Value]) -> Value:
    return UNKNOWN


# eval() and the statements by the node's class, either tree's (Dispatch): one lookup where a chain of
# isinstance checks on libcst's ABCs cost a tenth of the run
_EVAL: dict[type, Callable[[Interpreter, Any, dict[str, Value]], Value]] = Dispatch({
    cst.Name: Interpreter._eval_name, cst.Attribute: Interpreter._eval_attribute, cst.Call: Interpreter._eval_call,
    cst.List: Interpreter._sequence, cst.Tuple: Interpreter._sequence, cst.ListComp: Interpreter._comprehension,
    cst.GeneratorExp: Interpreter._comprehension, cst.BinaryOperation: Interpreter._eval_binop,
    cst.Subscript: Interpreter._eval_subscript, cst.NamedExpr: Interpreter._eval_named, cst.IfExp: Interpreter._eval_ifexp,
    cst.Dict: Interpreter._eval_dict,
}, _unknown)
_STMT: dict[type, Callable[[Interpreter, Any, dict[str, Value]], None] | None] = Dispatch({
    cst.SimpleStatementLine: Interpreter._exec_line, cst.SimpleStatementSuite: Interpreter._exec_line,
    cst.If: Interpreter._exec_if, cst.For: Interpreter._exec_loop, cst.While: Interpreter._exec_loop,
    cst.With: Interpreter._exec_with, cst.Try: Interpreter._exec_try,
    cst.FunctionDef: Interpreter._exec_def, cst.ClassDef: Interpreter._exec_def,
})
_SMALL: dict[type, Callable[[Interpreter, Any, dict[str, Value]], None] | None] = Dispatch({
    cst.Assign: Interpreter._exec_assign, cst.AnnAssign: Interpreter._exec_annassign,
    cst.AugAssign: Interpreter._exec_augassign, cst.Expr: Interpreter._exec_expr, cst.Return: Interpreter._exec_return,
})
