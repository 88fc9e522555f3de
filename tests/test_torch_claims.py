"""What the PyTorch rule pages claim, checked on real PyTorch: the same program is linted and run.

Each case is a small training or evaluation program; normlint must flag the harmful variant and stay
silent on the fixed one, and running both with torch must show the harm the rule's page describes.
"""

from __future__ import annotations

import textwrap

import pytest

from normlint.lint.engine import lint_source

pytestmark = pytest.mark.slow  # imports torch

torch = pytest.importorskip("torch", reason="torch's CPU wheel is not installed (.ci/run installs it where it can)")


def _codes(source: str) -> list[str]:
    return [f.code for f in lint_source(source, "program.py")]


def _run(source: str) -> dict:
    scope: dict = {}
    torch.manual_seed(0)
    exec(compile(source, "program.py", "exec"), scope)  # noqa: S102 - the test's own program
    return scope


MOMENTUM = """
import torch
import torch.nn as nn

bn = nn.BatchNorm1d(4, momentum={momentum})
batch = torch.randn(256, 4) + 5.0
bn(batch)
"""


def test_nl803_pytorch_momentum_weighs_the_new_batch():
    keras_style, torch_style = MOMENTUM.format(momentum=0.9), MOMENTUM.format(momentum=0.1)
    assert _codes(keras_style) == ["NL803"] and _codes(torch_style) == []
    for source, m in ((keras_style, 0.9), (torch_style, 0.1)):
        scope = _run(source)
        batch_mean = scope["batch"].mean(0)
        # running = (1 - momentum) * running + momentum * batch, from running = 0
        assert torch.allclose(scope["bn"].running_mean, m * batch_mean, atol=1e-5)
    # with a Keras value ported literally, one batch already moved the statistics 90 % of the way
    assert _run(keras_style)["bn"].running_mean.mean() > 4.0


def test_nl803_momentum_one_half_is_the_same_in_both_conventions():
    source = MOMENTUM.format(momentum=0.5)
    assert _codes(source) == []  # nothing to port: 1 - 0.5 is 0.5
    scope = _run(source)
    batch_mean, running = scope["batch"].mean(0), scope["bn"].running_mean
    torch_rule = (1 - 0.5) * 0 + 0.5 * batch_mean  # running = (1 - m) * running + m * batch
    keras_rule = 0.5 * 0 + (1 - 0.5) * batch_mean  # moving = m * moving + (1 - m) * batch
    assert torch.allclose(running, torch_rule, atol=1e-5) and torch.allclose(running, keras_rule, atol=1e-5)


EVALUATE = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4), nn.Dropout(0.5))
model.train()
for _ in range(50):  # some training: running statistics of data around 0
    model(torch.randn(32, 4))
stats_before = model[1].running_mean.clone()


def evaluate(model, x):
    {eval_call}
    with torch.no_grad():
        return model(x)


test_batch = torch.randn(8, 4) + 3.0
first = evaluate(model, test_batch)
second = evaluate(model, test_batch)
"""


def test_nl801_no_grad_does_not_switch_batchnorm_or_dropout_off():
    harmful, fixed = EVALUATE.format(eval_call="pass"), EVALUATE.format(eval_call="model.eval()")
    assert _codes(harmful) == ["NL801"] and _codes(fixed) == []
    bad, good = _run(harmful), _run(fixed)
    # without eval(): evaluation moved the running statistics, and Dropout made two runs disagree
    assert not torch.allclose(bad["model"][1].running_mean, bad["stats_before"])
    assert not torch.allclose(bad["first"], bad["second"])
    # with eval(): the statistics stay, and the same input gives the same output
    assert torch.allclose(good["model"][1].running_mean, good["stats_before"])
    assert torch.allclose(good["first"], good["second"])


RECOMPUTE = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4, momentum=None), nn.Dropout(0.5))
model[1].running_mean.fill_(-3.0)
data = [torch.randn(64, 4) + 2.0 for _ in range(4)]


@torch.no_grad()
def recompute_bn(model, batches):
    model[1].reset_running_stats()
    model.train()
    for x in batches:
        model(x)


def mc_dropout(model, x):
    model.train()
    with torch.no_grad():
        return model(x), model(x)


recompute_bn(model, data)
recomputed = model[1].running_mean.clone()
expected = torch.cat([model[0](x) for x in data]).mean(0).detach()
first, second = mc_dropout(model, data[0])
"""


def test_nl801_training_mode_chosen_on_purpose_recomputes_statistics():
    # model.train() right before a no_grad() forward, nothing trained in between: batch statistics and
    # dropout on purpose (torch.optim.swa_utils.update_bn, Monte Carlo dropout): no finding
    assert _codes(RECOMPUTE) == []
    ran = _run(RECOMPUTE)
    # what it is for: the running mean is recomputed from the data (momentum=None: their plain average),
    # and two passes of the same input sample two different dropout masks
    assert torch.allclose(ran["recomputed"], ran["expected"], atol=1e-5)
    assert not torch.allclose(ran["first"], ran["second"])


PRECISE_BN = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4))
batches = [torch.randn(64, 4) + 2.0 for _ in range(4)]


@torch.no_grad()
def compute_precise_bn_stats(model, loader):
    bn = model[1]
    mean = torch.zeros_like(bn.running_mean)
    momentum, bn.momentum = bn.momentum, 1.0
    for x in loader:
        model(x)
        mean += bn.running_mean / len(loader)
    bn.running_mean, bn.momentum = mean, momentum


compute_precise_bn_stats(model, batches)
expected = torch.stack([model[0](x).mean(0) for x in batches]).mean(0)
switched = nn.Sequential(nn.BatchNorm1d(4)).eval()
netg, netd = nn.Sequential(nn.Dropout(0.5)).eval(), nn.Sequential(nn.BatchNorm1d(4)).eval()


@torch.no_grad()
def predict(x):
    return switched(x), netg(x), netd(x)


outputs = predict(batches[0])
"""


def test_nl801_precise_bn_and_a_model_switched_where_it_is_built():
    # pycls's precise BN: momentum 1 and training mode on purpose, each batch's statistics averaged;
    # `Net().eval()` returns the module itself, in eval mode: no finding for either
    assert _codes(PRECISE_BN) == []
    ran = _run(PRECISE_BN)
    assert torch.allclose(ran["model"][1].running_mean, ran["expected"], atol=1e-5)
    assert not any(m.training for m in (ran["switched"], ran["netg"], ran["netd"]))
    x = ran["batches"][0]
    assert torch.equal(ran["outputs"][1], x)  # Dropout off: the input unchanged


TRAIN_LOOP = """
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data = [torch.randn(32, 4) + 2.0 for _ in range(5)]
means = []


def validate(model, batches):
    model.eval()
    with torch.no_grad():
        return [model(x) for x in batches]


{train_at_top}
for epoch in range(3):
    {train_in_loop}
    for x in data:
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    means.append(model[1].running_mean.clone())
    validate(model, data)
"""


def test_nl802_eval_left_in_place_stops_batchnorm_from_learning():
    harmful = TRAIN_LOOP.format(train_at_top="model.train()", train_in_loop="pass")
    fixed = TRAIN_LOOP.format(train_at_top="", train_in_loop="model.train()")
    assert _codes(harmful) == ["NL802"] and _codes(fixed) == []
    bad, good = _run(harmful)["means"], _run(fixed)["means"]
    # after the first validation, training no longer updates the running statistics at all
    assert torch.equal(bad[1], bad[2]) and torch.equal(bad[0], bad[1])
    assert not torch.equal(good[1], good[2])


SWA = """
import torch
import torch.nn as nn
from torch.optim.swa_utils import AveragedModel, update_bn

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4, affine=False))
loader = [torch.randn(64, 4) + 10.0 for _ in range(20)]
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, weight_decay=1.0)  # the weights keep moving
swa_model = AveragedModel(model)
for x in loader:
    optimizer.zero_grad()
    model(x).pow(2).mean().backward()
    optimizer.step()
    swa_model.update_parameters(model)
{update}
swa_model.eval()
with torch.no_grad():
    out = swa_model(torch.cat(loader))
"""


def test_nl805_averaged_model_normalizes_with_statistics_of_other_weights():
    harmful, fixed = SWA.format(update=""), SWA.format(update="update_bn(loader, swa_model)")
    assert _codes(harmful) == ["NL805"] and _codes(fixed) == []
    bad, good = _run(harmful), _run(fixed)
    # AveragedModel averages the parameters; its BatchNorm buffers are copied from the latest model...
    assert torch.equal(bad["swa_model"].module[1].running_mean, bad["model"][1].running_mean)
    # ...whose weights are not the averaged ones: on the very training data the averaged model's
    # "normalized" features are off-center and shrunk, where update_bn's statistics fit them
    assert bad["out"].mean(0).abs().max() > 0.5 and bad["out"].std(0).min() < 0.9
    assert good["out"].mean(0).abs().max() < 1e-3 and (good["out"].std(0) - 1).abs().max() < 0.01


DDP_PROGRAM = """
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.BatchNorm1d(4))
{body}
"""


def test_nl806_ddp_checks_syncbatchnorm_only_when_it_is_built(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available():
        pytest.skip("torch.distributed is not built into this torch")
    wrap_then_convert = "model = DDP(model)\nmodel = nn.SyncBatchNorm.convert_sync_batchnorm(model)"
    convert_then_wrap = "model = nn.SyncBatchNorm.convert_sync_batchnorm(model)\nmodel = DDP(model)"
    assert _codes(DDP_PROGRAM.format(body=wrap_then_convert)) == ["NL806"]
    assert _codes(DDP_PROGRAM.format(body=convert_then_wrap)) == []
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        # DDP inspects the module it wraps: SyncBatchNorm on a CPU module is refused right there...
        with pytest.raises(ValueError, match="SyncBatchNorm layers only work with GPU modules"):
            _run(textwrap.dedent(DDP_PROGRAM.format(body=convert_then_wrap)))
        # ...while a conversion after the wrap slips past that check, to fail (or not) later
        scope = _run(textwrap.dedent(DDP_PROGRAM.format(body=wrap_then_convert)))
        assert isinstance(scope["model"].module[1], torch.nn.SyncBatchNorm)
    finally:
        dist.destroy_process_group()


EPS = """
import torch
import torch.nn as nn

bn = {layer}
batch = torch.randn(256, 4) * 0.1  # per-channel variance ~0.01, as activations often have
out = bn(batch)
"""


def test_nl807_the_second_positional_argument_is_eps():
    ported, meant = EPS.format(layer="nn.BatchNorm1d(4, 0.8)"), EPS.format(layer="nn.BatchNorm1d(4, momentum=0.2)")
    assert _codes(ported) == ["NL807"] and _codes(meant) == []
    bn = _run(ported)["bn"]
    assert bn.eps == 0.8 and bn.momentum == 0.1  # Keras's momentum 0.8 went to eps; momentum stayed 0.1
    # normalized by sqrt(var + 0.8) instead of its own standard deviation: the output keeps ~1/9 of the scale
    # it should have (unit variance), where the layer the code meant gives unit variance
    assert _run(ported)["out"].std(0).max() < 0.2
    assert torch.allclose(_run(meant)["out"].std(0), torch.ones(4), atol=0.05)
    # the fix: python -m normlint lint --fix --unsafe-fixes rewrites it to the call that was meant
    from normlint.lint.autofix import fix_text
    from normlint.config import Config

    assert "nn.BatchNorm1d(4, momentum=0.2)" in fix_text(ported, "program.py", Config(), unsafe=True).text


DROPOUT_IN_FORWARD = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        {made_in_init}

    def forward(self, x):
        return {applied}(self.fc(x))


model = Net()
model.eval()
x = torch.randn(4, 8)
with torch.no_grad():
    first, second = model(x), model(x)
"""


def test_nl401_a_dropout_built_in_forward_is_never_switched_off_by_eval():
    built = DROPOUT_IN_FORWARD.format(made_in_init="pass", applied="nn.Dropout(0.5)")
    fixed = DROPOUT_IN_FORWARD.format(made_in_init="self.drop = nn.Dropout(0.5)", applied="self.drop")
    found = lint_source(built, "program.py")
    assert [f.code for f in found] == ["NL401"] and "eval() never switches it off" in found[0].message
    assert _codes(fixed) == []
    bad, good = _run(built), _run(fixed)
    assert not torch.allclose(bad["first"], bad["second"])  # after model.eval(), it still drops at random
    assert torch.allclose(good["first"], good["second"])


PLAIN_SEQUENTIAL = """
import torch
from torch import nn

model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
                      nn.LogSoftmax(dim=1))
images = torch.randn(16, 784)
with torch.no_grad():
    in_training_mode = model(images)
model.eval()
with torch.no_grad():
    in_eval_mode = model(images)
"""


def test_nl801_a_sequential_without_batchnorm_or_dropout_computes_the_same_in_either_mode():
    # NL801 stays silent on such a model (its modules are written in place): eval() would change nothing
    assert _codes(PLAIN_SEQUENTIAL) == []
    ran = _run(PLAIN_SEQUENTIAL)
    assert torch.equal(ran["in_training_mode"], ran["in_eval_mode"])
