"""The fix of NL101: move the Dropout after the BatchNormalization, where the reorder is local.

Three forms, the ones people write:

- one list (``Sequential([..., Dropout(0.3), MaxPooling2D(), BatchNormalization(), ...])``), or the
  arguments of one ``nn.Sequential(...)``: the Dropout element moves right after the BatchNormalization
  element;
- consecutive ``model.add(...)`` / ``layers.append(...)`` statements on one receiver: the Dropout's
  statement moves after the BatchNormalization's;
- a functional chain on one name (``x = Dropout(0.5)(x)``, ``x = ReLU()(x)``, ``x = BN()(x)``): the
  Dropout's statement moves after the BatchNormalization's.

Anything else (branches, merges, renames between them) gets no fix.
"""

from __future__ import annotations

from typing import Sequence

from normlint.lint.syntax import cst

from normlint.lint.context import FileContext
from normlint.lint.fixes import UNSAFE, FixSpec, NodeEdit, indentation
from normlint.lint.index import children, dotted
from normlint.lint.keras_api import BATCHNORM
from normlint.lint import torch_api


def path_to(root: cst.CSTNode, target: cst.CSTNode, limit: int = 200_000) -> list[cst.CSTNode] | None:
    """The nodes from ``root`` down to ``target`` (both included), or None."""
    stack: list[tuple[cst.CSTNode, int]] = [(root, 0)]
    trail: list[cst.CSTNode] = []
    seen = 0
    while stack and seen < limit:
        node, depth = stack.pop()
        seen += 1
        del trail[depth:]
        trail.append(node)
        if node is target:
            return trail
        stack.extend((k, depth + 1) for k in reversed(children(node)))
    return None


def _is_batchnorm(ctx: FileContext, node: cst.CSTNode) -> bool:
    """The node holds a BatchNormalization construction (``BatchNormalization()``, ``model.add(BN())``...)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call) and (ctx.names.layer_class(n.func) in BATCHNORM
                                        or ctx.names.torch_module(n.func) in torch_api.BATCHNORM):
            return True
        stack.extend(children(n))
    return False


def _last_batchnorm(ctx: FileContext, items: Sequence[cst.CSTNode], j: int) -> int:
    """The last BatchNormalization from ``j`` on: the Dropout goes after it, not between two of them
    (where it would feed the second through a weighted layer, NL103)."""
    return max([k for k in range(j, len(items)) if _is_batchnorm(ctx, items[k])], default=j)


def _list_fix(ctx: FileContext, seq: cst.List | cst.Tuple, drop: cst.CSTNode, bn: cst.CSTNode) -> FixSpec | None:
    values = [e.value for e in seq.elements]
    i = next((k for k, v in enumerate(values) if v is drop), None)
    j = next((k for k, v in enumerate(values) if v is bn), None)
    if i is None or j is None or i >= j or any(isinstance(e, cst.StarredElement) for e in seq.elements):
        return None
    j = _last_batchnorm(ctx, values, j)
    moved = values.pop(i)
    values.insert(j, moved)
    # the values move; the commas (with the line breaks and comments after them) stay where they are
    fixed = [el.with_changes(value=v) for el, v in zip(seq.elements, values)]
    return FixSpec("move the Dropout after the BatchNormalization", UNSAFE,
                   (NodeEdit(seq, ctx.code(seq.with_changes(elements=fixed))),))


def _args_fix(ctx: FileContext, call: cst.Call, drop: cst.CSTNode, bn: cst.CSTNode) -> FixSpec | None:
    """``nn.Sequential(conv, Dropout(0.3), BatchNorm2d(16), ReLU())``: the same move among arguments."""
    if any(a.keyword is not None or a.star for a in call.args):
        return None
    values = [a.value for a in call.args]
    i = next((k for k, v in enumerate(values) if v is drop), None)
    j = next((k for k, v in enumerate(values) if v is bn), None)
    if i is None or j is None or i >= j:
        return None
    j = _last_batchnorm(ctx, values, j)
    values.insert(j, values.pop(i))
    fixed = [a.with_changes(value=v) for a, v in zip(call.args, values)]
    return FixSpec("move the Dropout after the BatchNorm", UNSAFE, (NodeEdit(call, ctx.code(call.with_changes(args=fixed))),))


def _statement(trail: list[cst.CSTNode]) -> tuple[cst.SimpleStatementLine, list[cst.CSTNode]] | None:
    for k in range(len(trail) - 1, -1, -1):
        if isinstance(trail[k], cst.SimpleStatementLine):
            return trail[k], trail[:k]  # type: ignore[return-value]
    return None


def _receiver_call(stmt: cst.SimpleStatementLine) -> str | None:
    """'model.add' for ``model.add(...)`` / 'blocks.append' for ``blocks.append(...)``, else None."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
        return None
    call = stmt.body[0].value
    if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value in ("add", "append"):
        return dotted(call.func)
    return None


def _chain_name(stmt: cst.SimpleStatementLine) -> str | None:
    """'x' for ``x = <layer>(...)(x, ...)``: a link of a functional chain on one name, else None."""
    if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Assign) or len(stmt.body[0].targets) != 1:
        return None
    target, value = stmt.body[0].targets[0].target, stmt.body[0].value
    if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
        return None
    if any(isinstance(a.value, cst.Name) and a.value.value == target.value for a in value.args if a.keyword is None):
        return target.value
    return None


def _statements_fix(ctx: FileContext, drop_trail: list[cst.CSTNode], bn_trail: list[cst.CSTNode]) -> FixSpec | None:
    first, second = _statement(drop_trail), _statement(bn_trail)
    if first is None or second is None:
        return None
    (d_stmt, d_above), (b_stmt, b_above) = first, second
    if any(isinstance(n, (cst.For, cst.While)) for n in d_above):
        return None  # moved within a loop body, the Dropout would still feed the next pass's layers
    block = d_above[-1] if d_above else None
    if block is None or not b_above or b_above[-1] is not block or not hasattr(block, "body"):
        return None
    body = list(block.body)  # type: ignore[attr-defined]
    try:
        i, j = body.index(d_stmt), body.index(b_stmt)
    except ValueError:
        return None
    if i >= j:
        return None
    between = body[i:j + 1]
    if not all(isinstance(s, cst.SimpleStatementLine) for s in between):
        return None
    receivers = {_receiver_call(s) for s in between}  # type: ignore[arg-type]
    chains = {_chain_name(s) for s in between}  # type: ignore[arg-type]
    if len(receivers) == 1 and None not in receivers:
        same = lambda s: isinstance(s, cst.SimpleStatementLine) and _receiver_call(s) in receivers  # noqa: E731
    elif len(chains) == 1 and None not in chains:
        same = lambda s: isinstance(s, cst.SimpleStatementLine) and _chain_name(s) in chains  # noqa: E731
    else:
        return None
    run = j
    while run + 1 < len(body) and same(body[run + 1]):
        run += 1
    b_stmt = body[_last_batchnorm(ctx, body[: run + 1], j)]
    indent = indentation(ctx.module, d_above)
    text = indent + ctx.code(d_stmt.with_changes(leading_lines=[]))
    return FixSpec("move the Dropout after the BatchNormalization", UNSAFE,
                   (NodeEdit(d_stmt, "", "delete_lines"), NodeEdit(b_stmt, text, "insert_after_lines")))


def move_after_fix(ctx: FileContext, drop_site: cst.CSTNode, bn_site: cst.CSTNode) -> FixSpec | None:
    drop_trail = path_to(ctx.module, drop_site)
    bn_trail = path_to(ctx.module, bn_site)
    if drop_trail is None or bn_trail is None:
        return None
    if any(isinstance(n, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp)) for n in drop_trail):
        return None  # moved within a loop, the Dropout would still feed the next pass's layers
    if len(drop_trail) >= 3 and isinstance(drop_trail[-2], cst.Element) and isinstance(drop_trail[-3], (cst.List, cst.Tuple)):
        seq = drop_trail[-3]  # the Dropout is an element of a list: the BatchNormalization must be one too
        return _list_fix(ctx, seq, drop_site, bn_site) if any(e.value is bn_site for e in seq.elements) else None
    if len(drop_trail) >= 3 and isinstance(drop_trail[-2], cst.Arg) and isinstance(drop_trail[-3], cst.Call):
        call = drop_trail[-3]  # nn.Sequential(..., Dropout(), BatchNorm2d(), ...)
        if any(a.value is bn_site for a in call.args):  # type: ignore[attr-defined]
            return _args_fix(ctx, call, drop_site, bn_site)  # type: ignore[arg-type]
    return _statements_fix(ctx, drop_trail, bn_trail)
