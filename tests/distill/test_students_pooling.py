"""Aggressive pooling (ReDistill): what it must preserve, where RED blocks go, when it refuses."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.probe import probe
from edgemem.distill.students.red import RedBlock
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.students.strides import map_strides
from edgemem.distill.taps import FeatureTaps
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

from tests.distill.conftest import FunctionalShortcutNet, UpsamplingNet, UserCNN

pytestmark = pytest.mark.usefixtures("one_thread")

CASES = [
    ("resnet20", (1, 3, 32, 32), (2, 4)),
    ("wrn-16-2", (1, 3, 32, 32), (2, 4)),
    ("resnet18", (1, 3, 64, 64), (2, 4, 8)),
    ("resnet50", (1, 3, 64, 64), (2,)),
    ("mobilenetv2", (1, 3, 64, 64), (2, 4)),
    ("vgg11", (1, 3, 32, 32), (2, 4)),
    ("resnet1d", (1, 1, 40), (2, 4)),
    ("resnet-mini", (1, 1, 8, 8), (2, 4)),
    ("user-cnn", (1, 3, 32, 32), (2, 4)),
]


def make(name):
    torch.manual_seed(0)
    return UserCNN() if name == "user-cnn" else build_model(name)


def conv_channels(model) -> dict:
    return {n: (m.in_channels, m.out_channels) for n, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Conv2d)) and not n.startswith("red_blocks")}


@pytest.mark.parametrize("name, shape, factors", CASES, ids=[c[0] for c in CASES])
def test_pooling_preserves_stride_weights_and_channels(name, shape, factors):
    teacher = make(name)
    before = copy.deepcopy(teacher.state_dict())
    teacher_map = map_strides(teacher, probe(teacher, shape))
    teacher_out = probe(teacher, shape).output_shapes
    for k in factors:
        student = derive_student(teacher, StudentSpec(pool_factor=k), shape)
        model = student.model
        trace = probe(model, shape)
        student_map = map_strides(model, trace)
        assert trace.output_shapes == teacher_out
        assert student_map.final_size == teacher_map.final_size  # final resolution unchanged
        assert student_map.total_stride == teacher_map.total_stride  # total stride unchanged
        assert student_map.stem == teacher_map.stem and student_map.stem_stride == teacher_map.stem_total_stride * k
        state = model.state_dict()
        for key, value in before.items():  # every teacher weight kept, same shape, same values
            assert torch.equal(state[key], value), key
        assert conv_channels(model) == conv_channels(teacher)
    for key, value in teacher.state_dict().items():  # the teacher is untouched
        assert torch.equal(value, before[key])
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in teacher.modules())
    assert not hasattr(teacher, "red_blocks")


def test_resnet18_matches_redistill_strides_and_red_config():
    """ReDistill ImageNet ResNet-18: strides [2,2,1,2,2,2] -> [8,1,1,2,2,1], RED pairs of reed_dist_config.yaml.

    One deliberate difference: the stem's RED block sits after the stem's BatchNorm and ReLU
    (``relu``), not on the raw convolution output (``conv1``) that the config names; see
    pooling.stem_feature_point and benchmarks/distill_mnist1d.py for why.
    """
    student = derive_student(build_model("resnet18"), StudentSpec(pool_factor=2), (1, 3, 224, 224))
    m = student.model
    strides = [m.conv1.stride[0], m.maxpool.stride, m.layer1[0].conv1.stride[0], m.layer2[0].conv1.stride[0],
               m.layer3[0].conv1.stride[0], m.layer4[0].conv1.stride[0]]
    assert strides == [8, 1, 1, 2, 2, 1]
    assert m.layer4[0].downsample[0].stride == (1, 1) and m.layer2[0].downsample[0].stride == (2, 2)
    pairs = [(p.student_point, p.teacher_point, p.channels) for p in student.red_pairs]
    assert pairs == [
        ("red_blocks.relu__out", "layer2.0", 64),
        ("red_blocks.layer2_0__in", "layer3.0:input", 64),
        ("red_blocks.layer2_0__out", "layer3.0", 128),
        ("red_blocks.layer3_0__in", "layer4.0:input", 128),
        ("red_blocks.layer3_0__out", "layer4.0", 256),
    ]


@pytest.mark.parametrize("name, shape, k", [
    ("resnet20", (1, 3, 32, 32), 2), ("resnet20", (1, 3, 32, 32), 4), ("mobilenetv2-cifar", (1, 3, 32, 32), 2),
    ("vgg11", (1, 3, 32, 32), 4), ("resnet1d", (1, 1, 40), 4), ("user-cnn", (1, 3, 32, 32), 2), ("resnet50", (1, 3, 64, 64), 4),
])
def test_red_pairs_have_equal_spatial_size(name, shape, k):
    teacher = make(name).eval()
    student = derive_student(teacher, StudentSpec(pool_factor=k), shape)
    assert student.red_pairs
    x = torch.randn(2, *shape[1:])
    with FeatureTaps(student.model.eval(), [p.student_point for p in student.red_pairs]) as s, \
            FeatureTaps(teacher, [p.teacher_point for p in student.red_pairs]) as t, torch.no_grad():
        student.model(x)
        teacher(x)
    for pair in student.red_pairs:
        s_feat, t_feat = s.outputs[pair.student_point], t.outputs[pair.teacher_point]
        assert s_feat.shape[2:] == t_feat.shape[2:], pair
        assert s_feat.shape[1] == pair.channels
        assert isinstance(student.model.get_submodule(pair.student_point), RedBlock)


def test_red_block_computes_the_redistill_formula():
    torch.manual_seed(0)
    red = RedBlock(6).eval()
    x = torch.randn(2, 6, 5, 5)
    gate = torch.sigmoid(red.gate[1](red.gate[0](x)))
    enc = torch.clamp(red.enc[1](red.enc[0](x)), 0, 6)
    assert torch.allclose(red(x), x * gate + enc)
    assert red.gate[0].kernel_size == (1, 1) and red.enc[0].kernel_size == (3, 3)
    assert sum(p.numel() for p in RedBlock(32).parameters()) == 10_432  # 1x1 + 3x3 convs with bias, two BNs


def test_red_blocks_change_the_forward_and_survive_copy_and_pickle():
    teacher = build_model("resnet20").eval()
    with_red = derive_student(teacher, StudentSpec(pool_factor=2), (1, 3, 32, 32)).model.eval()
    without = derive_student(teacher, StudentSpec(pool_factor=2, red=False), (1, 3, 32, 32)).model.eval()
    assert not hasattr(without, "red_blocks")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = with_red(x)
        assert not torch.allclose(out, without(x))
        assert torch.allclose(copy.deepcopy(with_red)(x), out)
        buffer = io.BytesIO()
        torch.save(with_red, buffer)
        buffer.seek(0)
        assert torch.allclose(torch.load(buffer, weights_only=False)(x), out)
    n_red = sum(p.numel() for p in with_red.red_blocks.parameters())
    assert sum(p.numel() for p in with_red.parameters()) == sum(p.numel() for p in without.parameters()) + n_red


def test_red_pairs_are_empty_without_red():
    student = derive_student(build_model("resnet20"), StudentSpec(pool_factor=2, red=False), (1, 3, 32, 32))
    assert student.red_pairs == [] and "RED" not in student.spec.label()


@pytest.mark.parametrize("model, shape, k, message", [
    (lambda: build_model("resnet20"), (1, 3, 32, 32), 8, "pool factor 8 does not apply to CifarResNet: it downsamples 4x after its stem"),
    (lambda: build_model("vit-tiny"), (1, 3, 32, 32), 16, "a 64x64 patch is larger than the 32x32 input"),  # students/vit.py
    (FunctionalShortcutNet, (1, 3, 16, 16), 2, "pool factor 2 breaks FunctionalShortcutNet"),
    (UpsamplingNet, (1, 3, 16, 16), 2, "upsamples"),
    (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 3)), (1, 12), 2, "has no Conv1d/Conv2d layer"),
])
def test_pooling_refuses_with_a_reason(model, shape, k, message):
    with pytest.raises(ConfigError) as info:
        derive_student(model(), StudentSpec(pool_factor=k), shape)
    line = info.value.one_line()
    assert message in line and "\n" not in line


@pytest.mark.parametrize("spec", [StudentSpec(pool_factor=0), StudentSpec(pool_factor=1.5), StudentSpec(width=0.0), StudentSpec(width=-1)])
def test_invalid_specs(spec):
    with pytest.raises(ConfigError):
        derive_student(build_model("resnet-mini"), spec, (1, 1, 8, 8))


def test_model_that_does_not_run_on_the_input():
    with pytest.raises(ConfigError, match=r"does not run on input \(1, 3, 32, 32\)"):
        derive_student(build_model("resnet-mini"), StudentSpec(pool_factor=2), (1, 3, 32, 32))


def test_vgg_pools_become_identities_and_stem_takes_their_stride():
    student = derive_student(build_model("vgg11"), StudentSpec(pool_factor=2), (1, 3, 32, 32)).model
    assert student.features[0].stride == (4, 4)  # stem conv: its 1 x folded max-pool 2 x k 2
    assert student.features[3].kernel_size == 1 and student.features[3].stride == 1  # folded pool
    assert student.features[28].kernel_size == 1  # the last 2x2 pool gave up its stride
    assert student.features[7].stride == 2


def test_signals_without_channel_axis():
    """MNIST-1D batches come as (N, 40): derivation and the RED pairing work on that input shape."""
    teacher = build_model("resnet1d")
    student = derive_student(teacher, StudentSpec(pool_factor=4), (1, 40))
    assert [(p.student_point, p.teacher_point) for p in student.red_pairs] == [("red_blocks.relu__out", "layers.2")]
    assert student.model(torch.randn(5, 40)).shape == (5, 10)
