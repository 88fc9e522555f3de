"""A file's analysis is freed by reference counting the moment its findings are made.

Left in reference cycles (the fast tree's builder held its dispatch tables as bound methods; a tensor and
the application that produced it name each other; a rule's memo holds objects that hold the file's
context), every file's tree and layer graph waited for CPython's cyclic collector, which walks each of
their objects first: ~300,000 objects and 0.05-0.08 s of CPU per run over the model corpus, 7-10 % of
a lint run, and more inside flake8, whose collections also walk flake8's own heap
(docs/benchmarks.md, ninth round). These tests fail when a change ties the analysis into a cycle again.
"""

from __future__ import annotations

import ast
import gc
import textwrap
import weakref
from pathlib import Path

import pytest

from normlint.config import Config
from normlint.lint import ast_tree, engine
from normlint.lint.index import children

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for p in (ROOT / "fixtures").rglob("*.py") if not p.name.endswith(".fixed.py"))


def _left_to_the_collector(run) -> list[str]:
    """Type names of normlint's objects that ``run()`` leaves in reference cycles (collected, not freed)."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        run()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    return sorted({type(o).__qualname__ for o in garbage if type(o).__module__.startswith("normlint")})


def _analysed(source: str) -> bool:
    return bool(engine.active_rules(source, Config()))


@pytest.mark.parametrize("path", [p for p in SOURCES if _analysed(p.read_text(encoding="utf-8"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_analysis_of_a_fixture_leaves_no_cycle(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    found: list = []
    left = _left_to_the_collector(lambda: found.extend(
        engine.lint_source(source, str(path), Config(), check_syntax=True, fixes=False)))
    assert left == []
    # as flake8 runs it: the tree handed in
    left = _left_to_the_collector(lambda: engine.lint_source(source, str(path), Config(), fixes=False,
                                                             tree=ast.parse(source)))
    assert left == []


CYCLIC_SHAPES = {
    # a module among its own members (a recursive block), applied in forward()
    "recursive_module": """
        import torch.nn as nn

        class Tree(nn.Module):
            def __init__(self, depth):
                super().__init__()
                self.conv = nn.Conv2d(3, 8, 3)
                self.bn = nn.BatchNorm2d(8)
                self.child = Tree(depth - 1) if depth else None

            def forward(self, x):
                x = self.bn(self.conv(x))
                return self.child(x) if self.child is not None else x
    """,
    # a layer that holds itself, and a functional chain (tensor <-> application)
    "self_holding_layer": """
        from tensorflow import keras
        from tensorflow.keras import layers

        class Block(layers.Layer):
            def __init__(self):
                super().__init__()
                self.me = self
                self.bn = layers.BatchNormalization()
                self.drop = layers.Dropout(0.5)

            def call(self, x):
                return self.bn(self.drop(x))

        inputs = keras.Input((32, 32, 3))
        x = layers.Conv2D(8, 3)(inputs)
        x = layers.Dropout(0.2)(x)
        x = layers.BatchNormalization()(x)
        model = keras.Model(inputs, Block()(x))
    """,
    # the data-scaling memo (NL705/NL708) holds the file's context
    "scaled_data_memo": """
        from tensorflow import keras
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        x_train = x_train / 255.0
        model = keras.Sequential([keras.layers.Dense(10)])
        model.fit(x_train, y_train)
        model.evaluate(x_test, y_test)
        model.predict(x_test)
    """,
}


@pytest.mark.parametrize("name", sorted(CYCLIC_SHAPES))
def test_code_whose_graph_is_cyclic_leaves_no_cycle(name: str) -> None:
    source = textwrap.dedent(CYCLIC_SHAPES[name])
    assert _analysed(source)
    found: list = []
    left = _left_to_the_collector(lambda: found.extend(
        engine.lint_source(source, f"{name}.py", Config(), check_syntax=True, fixes=False)))
    assert left == []
    if name == "self_holding_layer":  # the graph was really built and read after it was released
        assert [f.code for f in found] == ["NL101", "NL101"]


def test_the_check_finds_leaked_cycles() -> None:
    """The helper sees what it is for: a normlint object left in a cycle."""
    from normlint.lint.graph import Application, LayerObj, Tensor

    def leak() -> None:
        out = Tensor()
        out.producer = Application(LayerObj(kind="Dense", node=None), (), out, None, (), None)  # type: ignore[arg-type]

    assert _left_to_the_collector(leak) == ["Application", "LayerObj", "Tensor"]


MODEL = textwrap.dedent("""
    from tensorflow.keras import layers, models

    def block(x):
        return layers.BatchNormalization()(layers.Dropout(0.5)(x))

    model = models.Sequential([layers.Dropout(0.5), layers.BatchNormalization()])
""")


def test_the_cli_path_frees_asts_tree_before_the_rules_run(monkeypatch) -> None:
    """``ast``'s tree of a file normlint parsed itself is taken apart as the fast tree is built: by the
    time the rules run, its module and every one of its statements are freed (reference counting, the
    collector off), so the analysis allocates into the memory they held (docs/benchmarks.md, tenth round)."""
    refs: list[weakref.ref] = []
    alive_at_rules: list[int] = []
    parse, check = engine._parse, engine._check

    def recorded_parse(source, path):
        tree, error = parse(source, path)
        refs.extend(weakref.ref(node) for node in [tree, *tree.body, *ast.walk(tree.body[-1])]
                    if not isinstance(node, ast.expr_context))  # Load() and Store() are ast's singletons
        return tree, error

    def recorded_check(ctx, rules, path):
        alive_at_rules.append(sum(r() is not None for r in refs))
        return check(ctx, rules, path)

    monkeypatch.setattr(engine, "_parse", recorded_parse)
    monkeypatch.setattr(engine, "_check", recorded_check)
    found = engine.lint_source(MODEL, "m.py", Config(), check_syntax=True, fixes=False)
    assert [f.code for f in found] == ["NL101", "NL101"]
    assert len(refs) > 10 and alive_at_rules == [0]


def test_a_tree_handed_in_is_left_whole() -> None:
    """flake8's tree (its other plugins read it) and any tree given to ``ast_tree.build``: never taken apart,
    and the fast tree built by taking one apart is the same."""
    tree = ast.parse(MODEL)
    before = ast.dump(tree, include_attributes=True)
    assert [f.code for f in engine.lint_source(MODEL, "m.py", Config(), fixes=False, tree=tree)] == ["NL101", "NL101"]
    assert ast.dump(tree, include_attributes=True) == before
    whole = ast_tree.build(MODEL, tree)
    assert ast.dump(tree, include_attributes=True) == before
    taken = ast_tree.build(MODEL, tree, consume=True)
    assert tree.body == []
    assert _shape(whole) == _shape(taken) and len(_shape(whole)) > 20


def _shape(node) -> list[tuple[str, tuple[int, int]]]:
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append((type(n).__name__, n._r[:2]))
        todo.extend(children(n))
    return out
