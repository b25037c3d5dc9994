"""Width multipliers: channels scale, the classifier keeps its outputs, shapes stay consistent."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.probe import probe
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

from tests.distill.conftest import HardcodedViewNet

pytestmark = pytest.mark.usefixtures("one_thread")


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_resnet20_half_width():
    teacher = build_model("resnet20", num_classes=7)
    student = derive_student(teacher, StudentSpec(width=0.5), (1, 3, 32, 32)).model
    assert student.conv1.out_channels == 8 and student.layer3[2].conv2.out_channels == 32
    assert student.layer2[0].shortcut.out_channels == 16  # option-A shortcut pads to the new width
    assert (student.fc.in_features, student.fc.out_features) == (32, 7)
    assert student.bn1.running_mean.shape == (8,)
    assert probe(student, (1, 3, 32, 32)).output_shapes == ((1, 7),)
    assert params(student) < params(teacher) / 3.5


def test_width_keeps_leading_teacher_channels():
    teacher = build_model("resnet-mini")
    student = derive_student(teacher, StudentSpec(width=0.5), (1, 1, 8, 8)).model
    assert torch.equal(student.layers[1].conv1.weight, teacher.layers[1].conv1.weight[:32, :16])


@pytest.mark.parametrize("name, shape, width", [
    ("mobilenetv2-cifar", (1, 3, 32, 32), 0.5), ("wrn-16-2", (1, 3, 32, 32), 0.5), ("resnet1d", (1, 1, 40), 0.5),
    ("resnet18", (1, 3, 64, 64), 0.25), ("vgg11", (1, 3, 32, 32), 1.5),
])
def test_width_on_the_zoo(name, shape, width):
    teacher = build_model(name)
    student = derive_student(teacher, StudentSpec(width=width), shape).model
    assert probe(student, shape).output_shapes == probe(teacher, shape).output_shapes
    assert (params(student) < params(teacher)) == (width < 1)
    student.train()
    student(torch.randn(2, *shape[1:])).sum().backward()  # trainable as it is


def test_depthwise_groups_follow_the_width():
    student = derive_student(build_model("mobilenetv2-cifar"), StudentSpec(width=0.5), (1, 3, 32, 32)).model
    dw = student.features[2].conv[1][0]
    assert dw.groups == dw.in_channels == dw.out_channels == 48


def test_width_refuses_with_a_reason():
    with pytest.raises(ConfigError, match="width 0.5 does not apply to ViT"):  # ViT students: students/vit.py
        derive_student(build_model("vit-tiny"), StudentSpec(width=0.5), (1, 3, 32, 32))
    with pytest.raises(ConfigError, match="width 0.5 breaks HardcodedViewNet.*hard-code a channel count"):
        derive_student(HardcodedViewNet(), StudentSpec(width=0.5), (1, 3, 8, 8))


def test_combined_spec_on_a_1d_model():
    teacher = build_model("resnet1d")
    student = derive_student(teacher, StudentSpec(pool_factor=4, conv="G(4)", width=0.5), (1, 1, 40))
    assert student.model.conv1.stride == (4,) and student.model.conv1.out_channels == 48
    assert [p.channels for p in student.red_pairs] == [48]
    assert isinstance(student.model.red_blocks.relu__out.gate[0], nn.Conv1d)
    assert student.model(torch.randn(3, 40)).shape == (3, 10)
    assert student.spec.label() == "pool x4, G(4), width 0.5, RED"
