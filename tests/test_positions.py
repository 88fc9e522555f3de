"""Positions computed one top-level statement at a time are libcst's PositionProvider's, node for node."""

from __future__ import annotations

import libcst as cst
import pytest

from normlint.lint.engine import Positions, _resolve_positions
from normlint.lint.index import children
from tests.helpers import fixture_files

CASES = {
    "repeated top-level lines": "x = f(1)\nx = f(1)\nclass A:\n    def g(self):\n        return f(1)\n",
    "crlf": "import torch.nn as nn\r\n\r\nclass N(nn.Module):\r\n    def forward(self, x):\r\n        return x\r\n",
    "comments and decorators": "# header\n\n@dec\n# between\ndef f(\n    a,  # a\n):\n    return (a +\n            1)\n",
    "no final newline": "a = 1\nb = [\n    2,\n]",
}


def _all_nodes(module: cst.Module) -> list[cst.CSTNode]:
    out, stack = [], list(module.body)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children(node))
    return out


def _agree(source: str) -> int:
    module = cst.parse_module(source)
    fast, full = Positions(source, module), _resolve_positions(module)
    nodes = _all_nodes(module)
    for node in nodes:
        assert fast.get(node) == full.get(node), (type(node).__name__, module.code_for_node(node))
    return len(nodes)


@pytest.mark.parametrize("name", sorted(CASES))
def test_odd_layouts(name):
    assert _agree(CASES[name]) > 3


def test_every_node_of_the_fixtures():
    assert sum(_agree(p.read_text(encoding="utf-8")) for p in fixture_files()) > 10_000
