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


def _parents(ctx: FileContext) -> dict[int, cst.CSTNode]:
    """id(node) -> its parent, for every node of the file: one walk, whatever the number of findings."""
    found = ctx.memo.get("reorder.parents")
    if found is None:
        found = ctx.memo["reorder.parents"] = {}
        stack: list[cst.CSTNode] = [ctx.module]
        while stack:
            node = stack.pop()
            for kid in children(node):
                found[id(kid)] = node
                stack.append(kid)
    return found


def path_to(ctx: FileContext, target: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The nodes from the module down to ``target`` (both included), or None."""
    parents = _parents(ctx)
    trail = [target]
    while trail[-1] is not ctx.module:
        parent = parents.get(id(trail[-1]))
        if parent is None:
            return None
        trail.append(parent)
    return trail[::-1]


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


def _last_batchnorm(ctx: FileContext, owner: cst.CSTNode, items: Sequence[cst.CSTNode], j: int, end: int) -> int:
    """The last BatchNormalization of ``items[j:end + 1]``: the Dropout goes after it, not between two of
    them (where it would feed the second through a weighted layer, NL103). ``owner`` holds ``items``:
    the scan is made once per owner, whatever the number of findings in it."""
    memo = ctx.memo.setdefault("reorder.last_batchnorm", {})
    upto = memo.get(id(owner))  # upto[k]: the index of the last BatchNormalization at or before k, else -1
    if upto is None:
        upto, last = [], -1
        for k, item in enumerate(items):
            last = k if _is_batchnorm(ctx, item) else last
            upto.append(last)
        memo[id(owner)] = upto
    return upto[end] if upto[end] >= j else j


def _list_fix(ctx: FileContext, seq: cst.List | cst.Tuple, drop: cst.CSTNode, bn: cst.CSTNode) -> FixSpec | None:
    values = [e.value for e in seq.elements]
    i = next((k for k, v in enumerate(values) if v is drop), None)
    j = next((k for k, v in enumerate(values) if v is bn), None)
    if i is None or j is None or i >= j or any(isinstance(e, cst.StarredElement) for e in seq.elements):
        return None
    j = _last_batchnorm(ctx, seq, values, j, len(values) - 1)
    moved = values.pop(i)
    values.insert(j, moved)

    def edits() -> tuple[NodeEdit, ...]:  # the values move; the commas (with the line breaks and comments after them) stay
        fixed = [el.with_changes(value=v) for el, v in zip(seq.elements, values)]
        return (NodeEdit(seq, ctx.code(seq.with_changes(elements=fixed))),)
    return FixSpec("move the Dropout after the BatchNormalization", UNSAFE, edits)


def _args_fix(ctx: FileContext, call: cst.Call, drop: cst.CSTNode, bn: cst.CSTNode) -> FixSpec | None:
    """``nn.Sequential(conv, Dropout(0.3), BatchNorm2d(16), ReLU())``: the same move among arguments."""
    if any(a.keyword is not None or a.star for a in call.args):
        return None
    values = [a.value for a in call.args]
    i = next((k for k, v in enumerate(values) if v is drop), None)
    j = next((k for k, v in enumerate(values) if v is bn), None)
    if i is None or j is None or i >= j:
        return None
    j = _last_batchnorm(ctx, call, values, j, len(values) - 1)
    values.insert(j, values.pop(i))

    def edits() -> tuple[NodeEdit, ...]:
        fixed = [a.with_changes(value=v) for a, v in zip(call.args, values)]
        return (NodeEdit(call, ctx.code(call.with_changes(args=fixed))),)
    return FixSpec("move the Dropout after the BatchNorm", UNSAFE, edits)


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
    where, receivers, chains = _block_table(ctx, block, body)
    i, j = where.get(id(d_stmt)), where.get(id(b_stmt))
    if i is None or j is None or i >= j:
        return None
    if not all(isinstance(s, cst.SimpleStatementLine) for s in body[i:j + 1]):
        return None
    if len(set(receivers[0][i:j + 1])) == 1 and receivers[0][i] is not None:
        run = receivers[1][j]  # the statements on the same receiver go on to here
    elif len(set(chains[0][i:j + 1])) == 1 and chains[0][i] is not None:
        run = chains[1][j]
    else:
        return None
    b_stmt = body[_last_batchnorm(ctx, block, body, j, run)]

    def edits() -> tuple[NodeEdit, ...]:
        text = indentation(ctx.module, d_above) + ctx.code(d_stmt.with_changes(leading_lines=[]))
        return NodeEdit(d_stmt, "", "delete_lines"), NodeEdit(b_stmt, text, "insert_after_lines")
    return FixSpec("move the Dropout after the BatchNormalization", UNSAFE, edits)


def _block_table(ctx: FileContext, block: cst.CSTNode, body: list) -> tuple[dict[int, int], tuple, tuple]:
    """For one block, once: where each statement is, and for each statement its receiver ('model.add') and
    chain name ('x'), with the index where the run of statements sharing it ends."""
    memo = ctx.memo.setdefault("reorder.blocks", {})
    found = memo.get(id(block))
    if found is None:
        where = {id(s): k for k, s in enumerate(body)}
        simple = [s if isinstance(s, cst.SimpleStatementLine) else None for s in body]
        found = memo[id(block)] = (where, _runs([s and _receiver_call(s) for s in simple]),
                                   _runs([s and _chain_name(s) for s in simple]))
    return found


def _runs(keys: list) -> tuple[list, list[int]]:
    """(keys, ends): ends[k] is the last index of the run of equal keys holding k (k itself for None)."""
    ends = list(range(len(keys)))
    for k in range(len(keys) - 2, -1, -1):
        if keys[k] is not None and keys[k] == keys[k + 1]:
            ends[k] = ends[k + 1]
    return keys, ends


def _first_in(ctx: FileContext, owner: cst.CSTNode) -> bool:
    """The first fix asked of this list (these arguments): a fix rewrites the whole sequence, so two in one
    sequence overlap and --fix applies one a round; the next round's lint offers the next. Rendering the
    sequence once per finding would cost its size times the findings (a generated nn.Sequential)."""
    taken = ctx.memo.setdefault("reorder.sequences", set())
    if id(owner) in taken:
        return False
    taken.add(id(owner))
    return True


def move_after_fix(ctx: FileContext, drop_site: cst.CSTNode, bn_site: cst.CSTNode) -> FixSpec | None:
    drop_trail = path_to(ctx, drop_site)
    bn_trail = path_to(ctx, bn_site)
    if drop_trail is None or bn_trail is None:
        return None
    if any(isinstance(n, (cst.For, cst.While, cst.ListComp, cst.GeneratorExp)) for n in drop_trail):
        return None  # moved within a loop, the Dropout would still feed the next pass's layers
    if len(drop_trail) >= 3 and isinstance(drop_trail[-2], cst.Element) and isinstance(drop_trail[-3], (cst.List, cst.Tuple)):
        seq = drop_trail[-3]  # the Dropout is an element of a list: the BatchNormalization must be one too
        if not _first_in(ctx, seq) or not any(e.value is bn_site for e in seq.elements):
            return None
        return _list_fix(ctx, seq, drop_site, bn_site)
    if len(drop_trail) >= 3 and isinstance(drop_trail[-2], cst.Arg) and isinstance(drop_trail[-3], cst.Call):
        call = drop_trail[-3]  # nn.Sequential(..., Dropout(), BatchNorm2d(), ...)
        if _first_in(ctx, call) and any(a.value is bn_site for a in call.args):  # type: ignore[attr-defined]
            return _args_fix(ctx, call, drop_site, bn_site)  # type: ignore[arg-type]
    return _statements_fix(ctx, drop_trail, bn_trail)
