"""Each rule's own VALID/INVALID examples, its page, and name resolution details."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from normlint.config import Config
from normlint.docs import index_page, readme_with_table, rule_pages
from normlint.lint.data_scaling import SCALING
from normlint.lint.engine import lint_source
from normlint.lint.notebook import read_notebook
from normlint.lint.rules import ALL_RULES, OPT_IN, ERRORS, Rule
from normlint.lint.rules.base import prefilter
from tests.helpers import ROOT


def codes(source: str, **options) -> list[str]:
    cfg = Config(extend_select=tuple(OPT_IN))  # the opt-in rules' examples are checked too
    cfg.options.update(options)
    return [f.code for f in lint_source(source, "example.py", cfg)]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_valid_examples_stay_silent(rule):
    assert rule.VALID, "every rule carries VALID examples"
    for src in rule.VALID:
        assert rule.code not in codes(src), src


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_invalid_examples_are_flagged(rule):
    assert rule.INVALID, "every rule carries INVALID examples"
    for src in rule.INVALID:
        assert rule.code in codes(src), src


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_page_example_is_flagged_and_fix_is_not(rule):
    header = "from keras import layers\nimport keras\nimport tensorflow as tf\n"
    if rule.framework == "PyTorch":
        header = ("import torch\nimport torch.nn as nn\nfrom torchvision import transforms\n"
                  "from torch.optim.swa_utils import AveragedModel\n"
                  "from torch.nn.parallel import DistributedDataParallel as DDP\n")
    assert rule.code in codes(header + rule.example.strip() + "\n")
    assert rule.code not in codes(header + rule.use_instead.strip() + "\n")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_prefilter_never_hides_an_invalid_example(rule):
    for src in rule.INVALID:
        assert rule.may_match(src), src


def test_docs_pages_are_generated_from_the_rules():
    for name, text in rule_pages().items():
        page = ROOT / "docs" / "rules" / name
        assert page.read_text(encoding="utf-8") == text, f"{page} is stale: run python -m normlint.docs"
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## References"):
            assert heading in text
    assert (ROOT / "docs" / "rules" / "README.md").read_text(encoding="utf-8") == index_page()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == readme_with_table(readme), "README rules table is stale: run python -m normlint.docs"
    for rule in ALL_RULES:
        assert f"[{rule.code}](docs/rules/{rule.code}.md) | `{rule.name}` | {rule.summary}" in readme


def test_errors_table_lists_every_code():
    assert set(ERRORS) == {"NL000"} | {r.code for r in ALL_RULES}
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)


# ---- name resolution and aliases ---------------------------------------------------------------

@pytest.mark.parametrize(
    "imports, expr",
    [
        ("import tensorflow as tf", "tf.keras.layers.BatchNormalization"),
        ("import tensorflow", "tensorflow.keras.layers.BatchNormalization"),
        ("import keras", "keras.layers.BatchNormalization"),
        ("from keras import layers as L", "L.BatchNormalization"),
        ("import tensorflow.keras.layers as L", "L.BatchNormalization"),
        ("from tensorflow.keras.layers import BatchNormalization as BN", "BN"),
        ("from keras.src.layers.normalization.batch_normalization import BatchNormalization", "BatchNormalization"),
        ("from tensorflow import keras", "keras.layers.BatchNormalization"),
        ("import tf_keras", "tf_keras.layers.BatchNormalization"),
        ("import tensorflow as tf\nBN = tf.keras.layers.BatchNormalization", "BN"),
        ("", "BatchNormalization"),
        ("", "tf.keras.layers.BatchNormalization"),
    ],
)
def test_batchnorm_spellings_resolve(imports, expr):
    assert "NL201" in codes(f"{imports}\ny = {expr}(axis=0)\n")


@pytest.mark.parametrize(
    "imports",
    [
        "from mylib import BatchNormalization",
        "class BatchNormalization:\n    def __init__(self, axis=-1):\n        pass",
        "def BatchNormalization(axis):\n    return axis",
        "import torch.nn as layers",
    ],
)
def test_user_symbols_are_not_keras(imports):
    expr = "layers.BatchNormalization" if "torch" in imports else "BatchNormalization"
    assert codes(f"{imports}\ny = {expr}(axis=0)\n") == []


def test_small_batch_threshold_option():
    src = "m = Sequential([Dense(4), BatchNormalization()])\nm.fit(x, y, batch_size=12)\n"
    assert "NL602" not in codes(src)
    assert "NL602" in codes(src, small_batch_threshold=16)


def test_application_prefilter_knows_every_batchnorm_application():
    from normlint.lint.keras_api import APPLICATIONS
    from normlint.lint.rules.patterns import BN_OR_APPLICATION_USE

    for name, contents in APPLICATIONS.items():
        source = f"import keras\nm = keras.applications.{name}()\n"
        assert BN_OR_APPLICATION_USE(source) == ("BatchNormalization" in contents), name


def test_momentum_messages_translate_or_explain():
    ported, zero = lint_source("BatchNormalization(momentum=0.1)\nBatchNormalization(momentum=0)\n", "x.py")
    assert ported.message.endswith("use momentum=0.9")
    assert "last training batch" in zero.message and "momentum=1" not in zero.message


def test_related_line_is_filled_in():
    src = "import keras\nm = keras.Sequential([\n    keras.layers.Dropout(0.5),\n    keras.layers.BatchNormalization(),\n])\n"
    (finding,) = lint_source(src, "x.py")
    assert finding.line == 3 and finding.col == 5
    assert "on line 4" in finding.message and "{line}" not in finding.message


def _corpus() -> list[Path]:
    files = sorted((ROOT / "fixtures").rglob("*.py"))
    spec = importlib.util.find_spec("keras")
    if spec and spec.submodule_search_locations:
        keras_src = Path(spec.submodule_search_locations[0]) / "src"
        for sub in ("applications", "layers/normalization", "trainers", "export"):
            files += sorted((keras_src / sub).glob("*.py"))
    return files


ALL_ON = Config(extend_select=tuple(OPT_IN))


def _same_with_and_without_prefilter(source: str, path: str) -> None:
    fast = lint_source(source, path, ALL_ON)
    full = lint_source(source, path, ALL_ON, prefilter=False)
    assert fast == full, path


def test_prefilter_hides_no_finding_on_a_real_corpus():
    """Every file linted with and without the text prefilter gives the same findings."""
    checked = 0
    for path in _corpus():
        _same_with_and_without_prefilter(path.read_text(encoding="utf-8"), str(path))
        checked += 1
    for path in sorted((ROOT / "tests" / "data" / "notebooks").rglob("*.ipynb")):
        _same_with_and_without_prefilter(read_notebook(path.read_text(encoding="utf-8")).source, str(path))
        checked += 1
    assert checked > 40


SHARED_CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="../shared/corpus is beside the checkout in CI")
def test_prefilter_hides_no_finding_on_the_shared_corpus():
    """The same on real model code nobody here wrote: ../shared/corpus (models and notebooks), where
    legacy Keras, constants and notebooks live."""
    checked = 0
    for path in sorted((SHARED_CORPUS / "models").rglob("*.py")):
        _same_with_and_without_prefilter(path.read_text(encoding="utf-8", errors="replace"), str(path))
        checked += 1
    for path in sorted((SHARED_CORPUS / "notebooks").rglob("*.ipynb")):
        _same_with_and_without_prefilter(read_notebook(path.read_text(encoding="utf-8")).source, str(path))
        checked += 1
    assert checked > 500


def _naive_prefilter(rule, source: str) -> bool:
    """Rule.may_match as written down: every required word, then every trigger, nothing shared."""
    for need in rule.required:
        if not any(n in source for n in ((need,) if isinstance(need, str) else need)):
            return False
    return all(re.search(t, source, re.M) is not None if isinstance(t, str) else bool(t(source)) for t in rule.triggers)


def test_prefilter_sharing_between_rules_changes_no_answer():
    """The rules look for each required word once a file and share trigger regexes (remembered for the last
    source read): rule by rule or file by file, the answers are those of the rules' own words."""
    sources = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures").rglob("*.py"))]
    sources += [src for rule in ALL_RULES for src in (*rule.VALID, *rule.INVALID)]
    base = Rule.may_match.__func__  # type: ignore[attr-defined]
    expected = [[_naive_prefilter(rule, s) for rule in ALL_RULES] for s in sources]
    assert [[base(rule, s) for rule in ALL_RULES] for s in sources] == expected  # file by file
    by_rule = [[base(rule, s) for s in sources] for rule in ALL_RULES]  # rule by rule
    assert [list(row) for row in zip(*by_rule)] == expected
    assert any(any(row) for row in expected) and not all(all(row) for row in expected)
    # the engine's prefilter (one loop over the rules' prepared words; rules that override may_match asked)
    matching = prefilter(ALL_RULES)
    assert [matching(s) for s in sources] == [[rule for rule in ALL_RULES if rule.may_match(s)] for s in sources]
    overriding = [r for r in ALL_RULES if any("may_match" in c.__dict__ for c in r.__mro__ if c is not Rule)]
    assert overriding and [r for r in ALL_RULES if getattr(r.may_match, "__func__", None) is not base] == overriding


@pytest.mark.parametrize("text, scaled", [
    ("x = x / 255.", True), ("x *= 1.0 / 255", True), ("gen = ImageDataGenerator(rescale=1./255)", True),
    ("gen = ImageDataGenerator(rescale=None)", False), ("xrescale = 2", False), ("self._rescale = 3", False),
    ("layers.Normalization(axis=-1)(x)", True), ("layers.BatchNormalization()(x)", False),
    ("x = normalize(x)", True), ("x = unnormalize(x)", False), ("x = tf.image.per_image_standardization(x)", True),
    ("x = scale(x)", True), ("x = upscale(x)", False), ("x = minmax_scale(x)", True), ("x -= mean", True), ("x = x - x_mean", True),
])
def test_scaling_words_keep_their_word_boundaries(text, scaled):
    """data_scaling.SCALING checks its word boundaries after the word (so the regex engine can jump to
    where a match may start): ``rescale=``, ``normalize(``, ``scale(`` count, ``xrescale``, ``unnormalize(``,
    ``upscale(`` and BatchNormalization do not."""
    assert (SCALING.search(text) is not None) is scaled


def _nl202_context(path: Path):
    from normlint.lint import ast_tree
    from normlint.lint.context import FileContext

    source = path.read_text(encoding="utf-8")
    return FileContext(ast_tree.build(source), source, str(path))


def _nl202_hits(ctx) -> list[int]:
    from normlint.lint import constants
    from normlint.lint.rules.axes import BatchNormAxisVsDataFormat

    with constants.current(lambda: ctx.constants):
        return sorted(ctx.module.position(h.node)[0] for h in BatchNormAxisVsDataFormat().check(ctx))


def test_nl202_asks_no_flow_of_code_that_names_no_format():
    """Portable code reads the global format (``image_data_format() == ...``) and names none: no
    convolution's format is known, so NL202 has nothing to compare and does not pay for the flow. A file
    that names one, in a keyword or a ``**`` dict, is analysed as before."""
    quiet = _nl202_context(ROOT / "fixtures" / "rules" / "NL202_negative_global_format.py")
    assert _nl202_hits(quiet) == [] and "flow" not in quiet.__dict__
    named = _nl202_context(ROOT / "fixtures" / "rules" / "NL202_positive_reads_global_format.py")
    assert _nl202_hits(named) == [12, 17] and "flow" in named.__dict__


@pytest.mark.slow
def test_nl202_shortcut_changes_no_finding(monkeypatch):
    """With the shortcut forced open (every file treated as naming a format), NL202 finds the same on
    the fixtures, the tests' corpus and ../shared/corpus/models."""
    from normlint.lint.rules import axes

    paths = list(_corpus())
    if SHARED_CORPUS.is_dir():
        paths += sorted((SHARED_CORPUS / "models").rglob("*.py"))
    only = Config(select=("NL202",))
    checked = 0
    for path in paths:
        source = path.read_text(encoding="utf-8", errors="replace")
        if not axes.BatchNormAxisVsDataFormat.may_match(source):
            continue
        with monkeypatch.context() as m:
            m.setattr(axes, "_names_a_format", lambda ctx: True)
            opened = lint_source(source, str(path), only)
        assert lint_source(source, str(path), only) == opened, path
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("name, model", [
    ("model", True), ("model_ft", True), ("model_ema", True), ("teacher_net", True), ("netG", True), ("G", True),
    ("resnet50", True), ("student", True), ("best_model", True), ("model_without_ddp", True), ("encoder_q", True),
    ("model_output", False), ("net_out", False), ("model_path", False), ("modelPath", False), ("encoder_cfg", False),
    ("teacher_logits", False), ("seen_modules", False), ("load_model", False), ("create_model", False),
    ("trace_module", False), ("ema_p", False), ("loss", False), ("features", False),
])
def test_nl801_reads_names_as_models_or_not(name, model):
    """What NL801 reads as a model when nothing but its name says: a model's own name, not data about one, a
    function that makes one or a collection of them (fixtures/rules/NL801_*_names.py run the rule on them)."""
    from normlint.lint.torch_modes import model_like

    assert model_like(name) is model
