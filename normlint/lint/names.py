"""Resolve what a name in the linted file refers to, without importing anything.

``Names`` reads the file's imports and bindings once and answers, for a ``Name``/``Attribute``
expression, its qualified name (``tensorflow.keras.layers.Dense``) and the canonical Keras/TF spelling
the rules compare against (``keras.layers.Dense``, ``keras.Model``, ``tf.layers.dropout``).

Two promises the rules rely on:
- a class or function defined (or otherwise bound) in the file is never mistaken for Keras's;
- a name bound nowhere in the file (a snippet pasted without its imports) is read as the Keras
  symbol of that name, so ``BatchNormalization()`` alone still counts.
"""

from __future__ import annotations

import functools

from normlint.lint.syntax import cst

from normlint.lint.index import FileIndex, dotted
from normlint.lint.keras_api import ALIASES, LAYER_CLASSES, MODEL_CLASSES
from normlint.lint import torch_api

__all__ = ["Names", "canonicalize", "dotted"]

_PREFIX_REWRITES = (
    ("tensorflow.compat.v1.", "tensorflow."),
    ("tensorflow.compat.v2.", "tensorflow."),
    ("tensorflow.python.keras.", "keras."),
    ("tensorflow.keras.", "keras."),
    ("tensorflow._api.v2.", "tensorflow."),
    ("tf_keras.", "keras."),
    ("tensorflow.contrib.keras.api.keras.", "keras."),
    ("tensorflow.contrib.keras.python.keras.", "keras."),
    ("tensorflow.contrib.keras.", "keras."),
    ("keras._tf_keras.keras.", "keras."),
    ("keras.api.", "keras."),
    ("keras.layers.experimental.preprocessing.", "keras.layers."),
    ("keras.layers.experimental.", "keras.layers."),
    ("keras.layers.preprocessing.", "keras.layers."),
    ("keras.models.", "keras."),
    ("keras.engine.training.", "keras."),
    ("keras.engine.sequential.", "keras."),
    ("keras.engine.base_layer.", "keras.layers."),
    ("tensorflow.", "tf."),
)
_SIMPLE_REWRITES = {"tensorflow.keras": "keras", "tensorflow": "tf", "tf_keras": "keras"}
# Heads that a pasted snippet uses without importing them.
_UNBOUND_HEADS = {"tf": "tensorflow", "keras": "keras", "layers": "keras.layers", "np": "numpy", "nn": "torch.nn",
                  "torch": "torch", "F": "torch.nn.functional", "transforms": "torchvision.transforms"}
# where PyTorch defines what it exports elsewhere: read as the exported name
_TORCH_PREFIXES = (("torch.nn.modules.", "torch.nn."), ("torchvision.transforms.transforms.", "torchvision.transforms."),
                   ("torchvision.transforms.v2._", "torchvision.transforms.v2."),
                   ("torch.nn.parallel.distributed.", "torch.nn.parallel."),
                   ("torch.nn.parallel.data_parallel.", "torch.nn.parallel."),
                   ("torch.optim.swa_utils.", "torch.optim.swa_utils."))
_DDP = frozenset({"torch.nn.parallel.DistributedDataParallel", "torch.nn.DataParallel",
                  "torch.nn.parallel.DataParallel", "torch.nn.parallel.DistributedDataParallelCPU"})


def _canonical_torch(qual: str) -> str:
    for old, new in _TORCH_PREFIXES:
        if qual.startswith(old):
            last = qual.rsplit(".", 1)[1]
            return new + last if old != new else qual
    return qual


@functools.lru_cache(maxsize=4096)
def canonicalize(qual: str) -> str:
    """Rewrite one of the many spellings of a Keras/TF symbol to the one the rules use."""
    if qual in _SIMPLE_REWRITES:
        return _SIMPLE_REWRITES[qual]
    if qual.startswith("torch"):
        return _canonical_torch(qual)
    if qual.startswith("keras.src."):
        last = qual.rsplit(".", 1)[-1]
        if last in LAYER_CLASSES:
            return "keras.layers." + last
        if last in MODEL_CLASSES:
            return "keras." + last
        return qual
    changed = True
    while changed:
        changed = False
        for old, new in _PREFIX_REWRITES:
            if qual.startswith(old):
                qual = new + qual[len(old):]
                changed = True
    if qual == "keras.layers.Layer":
        return qual
    if qual.startswith("keras.") and qual.count(".") == 1:
        last = qual[6:]
        if last in LAYER_CLASSES and last not in MODEL_CLASSES:
            return "keras.layers." + last
    if qual.startswith(("keras.layers.", "keras.engine.", "keras.legacy.")) and qual.count(".") >= 2:
        # legacy module paths: keras.layers.normalization.BatchNormalization,
        # keras.layers.convolutional.Conv2D, keras.engine.topology.Input, keras.engine.training.Model
        last = qual.rsplit(".", 1)[1]
        last = ALIASES.get(last, last)
        if last in MODEL_CLASSES:
            return "keras." + last
        if last in LAYER_CLASSES or last in ("Input", "Layer"):
            return "keras.layers." + last
    return qual


class Names:
    """Answers what an expression of the file names, from the file's own imports and bindings."""

    def __init__(self, index: FileIndex) -> None:
        self.imports = index.imports
        self.bind_counts = index.bind_counts
        self.classes = index.classes
        self.functions = index.functions
        self._aliases = {k: v for k, v in index.aliases.items() if index.bind_counts[k] == 1}
        self._cache: dict[int, str | None] = {}
        self._bases: dict[str, str | None] = {}

    def keras_base(self, node: cst.ClassDef) -> str | None:
        """The Keras class a class of the file derives from ('Model', 'Layer', 'Dense'...), or None."""
        name = node.name.value
        if name in self._bases:
            return self._bases[name]
        self._bases[name] = None  # cycle guard
        found = None
        for base in node.bases:
            found = self.layer_class(base.value)
            if found is None and isinstance(base.value, cst.Name) and base.value.value in self.classes:
                parent = self.classes[base.value.value]
                if parent is not node:
                    found = self.keras_base(parent)
            if found is not None:
                break
        self._bases[name] = found
        return found

    def qualname(self, expr: cst.BaseExpression, _depth: int = 0) -> str | None:
        """Qualified name of a Name/Attribute chain, '?name' for an unbound head, None when local."""
        name = dotted(expr)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self.imports:
            base = self.imports[head]
        elif head in self._aliases and _depth < 5:
            resolved = self.qualname(self._aliases[head], _depth + 1)
            if resolved is None or resolved.startswith("?"):
                return None
            base = resolved
        elif self.bind_counts[head]:
            return None
        else:
            base = "?" + head
        return f"{base}.{rest}" if rest else base

    def canonical(self, expr: cst.BaseExpression) -> str | None:
        """Canonical Keras/TF spelling of what expr names (``keras.layers.Dense``), or None."""
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        result = self._canonical(expr)
        self._cache[key] = result
        return result

    def _canonical(self, expr: cst.BaseExpression) -> str | None:
        qual = self.qualname(expr)
        if qual is None:
            return None
        if qual.startswith("?"):
            head, _, rest = qual[1:].partition(".")
            if not rest:
                if head in LAYER_CLASSES or head == "Input":
                    return "keras.layers." + head
                if head in MODEL_CLASSES:
                    return "keras." + head
                if head in torch_api.MODULE_CLASSES:  # BatchNorm2d() in a snippet: PyTorch's
                    return "torch.nn." + head
                return None
            if head not in _UNBOUND_HEADS:
                return None
            qual = f"{_UNBOUND_HEADS[head]}.{rest}"
        return canonicalize(qual)

    def layer_class(self, expr: cst.BaseExpression) -> str | None:
        """'Dense' when expr names a Keras layer class, 'Model'/'Sequential' for model classes."""
        canon = self.canonical(expr)
        if canon is None:
            return None
        if canon.startswith("keras.layers."):
            last = canon[len("keras.layers."):]
            if last in LAYER_CLASSES or last == "Input":
                return last
            return None
        if canon.startswith("keras.") and canon[6:] in MODEL_CLASSES:
            return canon[6:]
        return None

    def tf1_layer(self, expr: cst.BaseExpression) -> str | None:
        """'batch_normalization' for ``tf.layers.batch_normalization`` and its spellings."""
        canon = self.canonical(expr)
        if canon and canon.startswith(("tf.layers.", "tf.contrib.layers.")):
            fn = canon.rsplit(".", 1)[1]
            return "batch_normalization" if fn == "batch_norm" else fn
        if canon == "tf.nn.dropout":
            return "dropout"
        return None

    # ------------------------------------------------------------------ PyTorch
    def torch_module(self, expr: cst.BaseExpression) -> str | None:
        """'BatchNorm2d' when expr names a ``torch.nn`` module class (any import spelling), else None."""
        return torch_api.module_class(self.canonical(expr))

    def torch_functional(self, expr: cst.BaseExpression) -> str | None:
        """'batch_norm' / 'dropout' for ``torch.nn.functional.batch_norm`` / ``F.dropout``, else None."""
        return torch_api.functional(self.canonical(expr))

    def is_ddp(self, expr: cst.BaseExpression) -> bool:
        return self.canonical(expr) in _DDP

    def torch_base(self, node: cst.ClassDef, _depth: int = 0) -> str | None:
        """The ``torch.nn`` class a class of the file derives from ('Module', 'BatchNorm2d'...), or None."""
        for base in node.bases:
            found = self.torch_module(base.value)
            if found is not None:
                return found
            canon = self.canonical(base.value) or ""
            if canon.endswith(".LightningModule") and canon.startswith(("pytorch_lightning", "lightning")):
                return "Module"  # a LightningModule is an nn.Module
            if isinstance(base.value, cst.Name) and base.value.value in self.classes and _depth < 10:
                parent = self.classes[base.value.value]
                if parent is not node and base.value.value not in self.imports:
                    found = self.torch_base(parent, _depth + 1)
                    if found is not None:
                        return found
        return None
