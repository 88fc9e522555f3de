"""Positions computed one top-level statement at a time are libcst's PositionProvider's, node for node."""

from __future__ import annotations

import libcst as cst
import pytest

from normlint.lint.positions import Positions, _resolve_positions
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


def test_the_locator_places_nodes_where_the_provider_does():
    """Findings are placed by text search, inside their top-level statement when the text repeats: the
    same line and column as libcst's provider, for every call, name and attribute of the fixtures."""
    from normlint.lint.positions import Locator as _Locator

    checked = 0
    for path in fixture_files():
        source = path.read_text(encoding="utf-8")
        module = cst.parse_module(source)
        full, locate = _resolve_positions(module), _Locator(source, module)
        for node in _all_nodes(module):
            if isinstance(node, (cst.Call, cst.Name, cst.Attribute)):
                start = full[node].start
                assert locate(node) == (start.line, start.column), (path.name, module.code_for_node(node))
                checked += 1
    assert checked > 5_000
