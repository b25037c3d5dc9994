"""Stems of pooled students and stage pairs: the patchify stem reads every pixel and starts as the
teacher stem averaged over each cell; stage pairs name the same stage outputs in teacher and student."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from edgemem.distill.pairs import stage_pairs, stage_points
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.students.stems import patchify_conv
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError


@pytest.mark.parametrize("k", [2, 4])
def test_patchify_stem_is_the_teacher_stem_averaged_over_each_cell(k):
    torch.manual_seed(0)
    teacher = build_model("resnet20").eval()
    student = derive_student(copy.deepcopy(teacher), StudentSpec(pool_factor=k, stem="patchify"), (1, 3, 32, 32))
    stem = student.model.conv1
    assert stem.kernel_size == (2 + k, 2 + k) and stem.stride == (k, k)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(stem(x), F.avg_pool2d(teacher.conv1(x), k), atol=1e-5, rtol=1e-5)
    assert student.model(x).shape == (2, 10)
    assert "patchify stem" in student.description and "patchify stem" in student.spec.label()


def test_patchify_stem_reads_every_pixel_and_the_strided_one_does_not():
    teacher = build_model("resnet20").eval()
    reads = {}
    for stem in ("strided", "patchify"):
        model = derive_student(copy.deepcopy(teacher), StudentSpec(pool_factor=4, stem=stem, red=False), (1, 3, 32, 32)).model
        torch.manual_seed(1)
        x = torch.randn(1, 3, 32, 32, requires_grad=True)
        (model.conv1(x) * torch.rand(1, 16, 8, 8)).sum().backward()
        reads[stem] = int((x.grad.abs().sum(1) > 0).sum())
    assert reads["patchify"] == 32 * 32
    assert reads["strided"] == 23 * 23  # rows 4i-1..4i+1 (the first one is padding): 495 of 1,024 pixels never read


def test_patchify_composes_with_the_stem_stride_in_1d():
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(2, 4, 5, stride=2, padding=2, bias=True)
    new = patchify_conv(conv, 2, "stem")
    x = torch.randn(3, 2, 40)
    torch.testing.assert_close(new(x), F.avg_pool1d(conv(x), 2), atol=1e-5, rtol=1e-5)


def test_patchify_refuses_dilated_and_same_padded_stems():
    with pytest.raises(ConfigError, match="dilated"):
        patchify_conv(torch.nn.Conv2d(3, 4, 3, padding=2, dilation=2), 2, "stem")
    with pytest.raises(ConfigError, match="integer zero padding"):
        patchify_conv(torch.nn.Conv2d(3, 4, 3, padding="same"), 2, "stem")


def test_unknown_stem_is_refused():
    with pytest.raises(ConfigError, match="unknown stem 'blur'"):
        derive_student(build_model("resnet20"), StudentSpec(pool_factor=2, stem="blur"), (1, 3, 32, 32))


def test_stage_points_are_the_stage_outputs():
    teacher = build_model("resnet20")
    assert stage_points(teacher, (1, 3, 32, 32)) == ["layer2.0:input", "layer3.0:input", "avgpool:input"]
    student = derive_student(teacher, StudentSpec(pool_factor=4), (1, 3, 32, 32)).model
    assert stage_pairs(teacher, student, (1, 3, 32, 32)) == [(p, p) for p in ("layer2.0:input", "layer3.0:input", "avgpool:input")]
    wrn = build_model("wrn-16-2")
    cheap = derive_student(wrn, StudentSpec(conv="DW"), (1, 3, 32, 32)).model
    assert len(stage_pairs(wrn, cheap, (1, 3, 32, 32))) == 3


def test_sampled_patchify_stem_starts_as_the_strided_stem():
    torch.manual_seed(0)
    teacher = build_model("resnet20").eval()
    strided = derive_student(copy.deepcopy(teacher), StudentSpec(pool_factor=4, red=False), (1, 3, 32, 32)).model
    sampled = derive_student(copy.deepcopy(teacher), StudentSpec(pool_factor=4, red=False, stem="patchify_sampled"),
                             (1, 3, 32, 32)).model
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(sampled.conv1(x), strided.conv1(x), atol=1e-6, rtol=1e-6)
    assert sampled.conv1.kernel_size == (6, 6) and int((sampled.conv1.weight != 0).sum()) == 16 * 3 * 9
