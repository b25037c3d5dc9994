"""Cheap convolutions: Moonshine's parameter counts exactly, what is swapped, the online variants."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgemem.distill.students.cheap import BottleneckConv, GroupedPointwise, OnlineCheap, Shift
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.probe import probe
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")
CIFAR = (1, 3, 32, 32)


def counts(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    with_stats = sum(v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))
    return trainable, with_stats


# Reference b2 (BayesWatch/deficient-efficient tables, Moonshine's convention: state dict without
# num_batches_tracked) and (e)3 (trainable). Rows marked bottle use Moonshine's BottleBlock teacher.
MOONSHINE = [
    ("wrn-40-2", "DW", 293_514, 304_074),
    ("wrn-40-2", "DConv", 293_514, 304_074),
    ("wrn-40-2", "DConvG8", None, 466_362),
    ("wrn-40-2", "G(2)", 1_358_970, 1_369_530),
    ("wrn-40-2", "DConvA2", 1_358_970, 1_369_530),
    ("wrn-40-2", "G(4)", None, 825_210),
    ("wrn-40-2", "G(16)", None, 416_970),
    ("wrn-40-2-bottle", "B(2)", None, 437_242),
    ("wrn-40-2-bottle", "ConvB4", None, 155_002),
    ("wrn-40-2-bottle", "ConvB8", None, 68_314),
    ("wrn-40-2-bottle", "DConvB2", None, 152_986),
    ("wrn-40-2-bottle", "G2B2", None, 159_034),
    ("wrn-40-2-bottle", "G8B2", 189_914, 195_322),
    ("wrn-40-2-bottle", "A2B2", None, 292_090),
    ("wrn-40-2-bottle", "A16B2", 159_674, 165_082),
    ("wrn-40-2-bottle", "BG(2,16)", 159_674, 165_082),
    ("wrn-40-2-bottle", "G16B2", None, 243_706),  # the table's 234,704 is a typo (reference b2)
]


@pytest.mark.parametrize("teacher, conv, trainable, with_stats", MOONSHINE, ids=[f"{t}-{c}" for t, c, *_ in MOONSHINE])
def test_moonshine_parameter_counts(teacher, conv, trainable, with_stats):
    student = derive_student(build_model(teacher), StudentSpec(conv=conv), CIFAR)
    got_trainable, got_stats = counts(student.model)
    assert got_stats == with_stats
    if trainable is not None:
        assert got_trainable == trainable


def test_only_block_kxk_convs_are_swapped():
    teacher = build_model("wrn-16-2")
    student = derive_student(teacher, StudentSpec(conv="G(4)"), CIFAR).model
    t_modules, s_modules = dict(teacher.named_modules()), dict(student.named_modules())
    for path, module in t_modules.items():
        if not isinstance(module, nn.Conv2d):
            continue
        if path == "conv1" or module.kernel_size == (1, 1):  # the stem and 1x1 shortcuts stay standard
            assert isinstance(s_modules[path], nn.Conv2d) and torch.equal(s_modules[path].weight, module.weight)
        else:
            assert isinstance(s_modules[path], GroupedPointwise) and s_modules[path].grouped.groups == 4
            assert s_modules[path].grouped.stride == module.stride
    t_trace, s_trace = probe(teacher, CIFAR), probe(student, CIFAR)
    for path, call in t_trace.calls.items():  # same depth, same width: every teacher module's output shape is kept
        assert s_trace.calls[path].out_shape == call.out_shape, path


@pytest.mark.parametrize("conv, kind", [("dw", "dw"), ("group(2)", "group"), ("shift", "shift")])
def test_online_cheap_convs_stride_on_the_pointwise(conv, kind):
    teacher = build_model("resnet56")
    student = derive_student(teacher, StudentSpec(conv=conv), CIFAR).model
    block = student.layer2[0].conv1
    assert isinstance(block, OnlineCheap)
    assert block.pointwise.stride == (2, 2) and block.pointwise.kernel_size == (1, 1)
    if kind == "shift":
        assert isinstance(block.cheap, Shift) and not list(block.cheap.parameters())
    else:
        assert block.cheap.stride == (1, 1) and block.cheap.groups == (16 if kind == "dw" else 2)
    assert probe(student, CIFAR).output_shapes == ((1, 10),)
    assert counts(student)[0] < counts(teacher)[0]


@pytest.mark.parametrize("dims", [1, 2])
def test_shift_moves_each_channel_group_one_step(dims):
    channels = 3 ** dims
    shift = Shift(channels, 3, dims)
    size = (5,) * dims
    x = torch.arange(channels * 5 ** dims, dtype=torch.float32).reshape(1, channels, *size)
    y = shift(x)
    assert y.shape == x.shape
    for c, (start, stop, offset) in enumerate(shift.groups):
        assert stop - start == 1
        shifted = torch.nn.functional.pad(x[:, c:c + 1], (1, 1) * dims)
        expected = shifted[(slice(None), slice(None), *[slice(o, o + 5) for o in offset])]
        assert torch.equal(y[:, c:c + 1], expected)
    centre = channels // 2
    assert torch.equal(y[:, centre], x[:, centre])  # the centre offset is the identity


def test_bottleneck_shapes():
    conv = nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False)
    block = BottleneckConv(conv, 4, lambda mid: 4, "x")
    assert (block.down.out_channels, block.conv.groups, block.conv.stride, block.up.out_channels) == (16, 4, (2, 2), 64)
    assert block(torch.randn(1, 32, 8, 8)).shape == conv(torch.randn(1, 32, 8, 8)).shape


def test_cheap_convs_on_1d_models():
    student = derive_student(build_model("resnet1d"), StudentSpec(conv="G(4)"), (1, 1, 40)).model
    assert isinstance(student.layers[0].conv1.grouped, nn.Conv1d)
    assert probe(student, (1, 1, 40)).output_shapes == ((1, 10),)


@pytest.mark.parametrize("name, conv, message", [
    ("resnet20", "G(3)", "needs 3 groups to divide 16 channels"),
    ("resnet20", "fancy", "unknown conv 'fancy'"),
    ("resnet20", "G(0)", "must be at least 1"),
    ("mobilenetv2-cifar", "DW", "no dense k x k convolution after its stem"),
])
def test_cheap_conv_refuses_with_a_reason(name, conv, message):
    with pytest.raises(ConfigError) as info:
        derive_student(build_model(name), StudentSpec(conv=conv), CIFAR)
    assert message in info.value.one_line() and "\n" not in info.value.one_line()


def test_shift_spreads_few_channels_over_directions():
    shift = Shift(4, 3, 2)
    assert [stop - start for start, stop, _ in shift.groups] == [1, 1, 1, 1]
    assert len({offset for *_, offset in shift.groups}) == 4
    assert sum(stop - start for start, stop, _ in Shift(20, 3, 2).groups) == 20
