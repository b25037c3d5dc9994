"""ViT students: the patch stride as the pooling knob, token pools, feature pairs, peaks, export, search."""

from __future__ import annotations

import pytest
import torch

from edgemem.budget import Budget
from edgemem.distill.budget import measure_memory
from edgemem.distill.export import check_parity, export_onnx
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.probe import probe
from edgemem.distill.students.search import NoStudentFits, search_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.students.vit import (TOKEN_METHOD, cnn_stage_outputs, cross_pairs, plan_token_strides,
                                          predicted_peak_bytes, token_layout)
from edgemem.distill.teacher import build_teacher
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

SHAPE = (1, 3, 32, 32)


def layout_of(model, shape=SHAPE):
    return token_layout(model, probe(model, shape), type(model).__name__)


def test_layout_of_the_zoo_vits():
    plain = layout_of(build_model("vit-micro"))
    assert (plain.patch_path, plain.kernel, plain.stride, plain.grid, plain.prefix) == ("patch_embed", 4, 4, 8, 1)
    assert plain.blocks == ("blocks.0", "blocks.1") and plain.pools == () and plain.positional == ("pos_embed",)
    assert plain.stage_ends == ("blocks.0", "blocks.1")  # one stage: its middle and its last block
    staged = layout_of(build_model("vit-mini-pool"))
    assert staged.pools == (("blocks.2", 2),) and staged.stage_ends == ("blocks.1", "blocks.4")
    assert staged.tokens_per_stage() == [257, 65]


@pytest.mark.parametrize("k", [2, 4])
def test_plain_vit_student_takes_k_times_the_patch_stride(one_thread, k):
    teacher = build_model("vit-micro")
    before = {n: p.clone() for n, p in teacher.state_dict().items()}
    student = derive_student(teacher, StudentSpec(pool_factor=k), SHAPE)
    conv = student.model.patch_embed
    assert conv.kernel_size == (4 * k, 4 * k) and conv.stride == (4 * k, 4 * k)
    grid = 8 // k
    assert student.model.pos_embed.shape == (1, grid * grid + 1, 16)
    assert student.model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert student.method == TOKEN_METHOD and [(p.student_point, p.teacher_point) for p in student.red_pairs] == \
        [("blocks.0", "blocks.0"), ("blocks.1", "blocks.1")]
    assert f"patch stride 4 -> {4 * k}" in student.description and "final token grid" in student.description
    assert all(torch.equal(before[n], p) for n, p in teacher.state_dict().items())  # the teacher is untouched
    kept = {n for n, p in student.model.state_dict().items() if n in before and p.shape == before[n].shape}
    assert kept == set(before) - {"patch_embed.weight", "pos_embed"}


def test_spread_kernel_embeds_the_pooled_image():
    teacher = build_model("vit-micro").eval()
    student = derive_student(teacher, StudentSpec(pool_factor=2), SHAPE).model.eval()
    x = torch.randn(1, 3, 32, 32)
    pooled = torch.nn.functional.avg_pool2d(x, 2)
    expected = teacher.patch_embed(pooled)
    assert torch.allclose(student.patch_embed(x), expected, atol=1e-5)


def test_token_pools_give_up_the_factor_first():
    teacher = build_model("vit-mini-pool")
    student = derive_student(teacher, StudentSpec(pool_factor=2), SHAPE)
    assert student.model.blocks[2].stride == 1 and student.model.patch_embed.stride == (4, 4)
    assert layout_of(student.model).tokens_per_stage() == [65, 65]  # the final grid is the teacher's
    assert "token pools blocks.2 stride 2 -> 1" in student.description and "final token grid" not in student.description
    deeper = derive_student(teacher, StudentSpec(pool_factor=4), SHAPE)
    assert layout_of(deeper.model).tokens_per_stage() == [17, 17] and "final token grid 2x smaller" in deeper.description
    assert plan_token_strides(layout_of(teacher), 4) == ({"blocks.2": 1}, 2)


@pytest.mark.parametrize("name", ["vit-micro", "vit-mini-pool"])
def test_peaks_fall_with_the_patch_stride_as_predicted(name):
    teacher = build_model(name)
    peaks = []
    for k in (1, 2, 4):
        model = derive_student(teacher, StudentSpec(pool_factor=k), SHAPE).model
        measured = measure_memory(model, SHAPE).peak_activation_bytes
        heads = model.blocks[0].attn.heads
        assert measured == predicted_peak_bytes(layout_of(model), SHAPE, heads)
        peaks.append(measured)
    assert peaks[0] > peaks[1] > peaks[2]


def test_user_vit_from_a_factory(one_thread):
    teacher = build_teacher("tests.distill.vit_models:factory", 10, 1)
    layout = layout_of(teacher, (1, 1, 8, 8))
    assert (layout.patch_path, layout.positional, layout.blocks) == ("embed.proj", ("pos",), ("layers.0", "layers.1"))
    student = derive_student(teacher, StudentSpec(pool_factor=2), (1, 1, 8, 8))
    assert student.model.pos.shape == (1, 5, 16) and student.model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


@pytest.mark.parametrize("model, spec, message", [
    (lambda: build_teacher("tests.distill.vit_models:hardcoded", 10, 1), StudentSpec(pool_factor=2), "pool factor 2 breaks"),
    (lambda: build_model("vit-micro"), StudentSpec(pool_factor=16), "a 64x64 patch is larger than the 32x32 input"),
    (lambda: build_model("vit-micro"), StudentSpec(conv="DW"), "conv 'DW' does not apply"),
    (lambda: build_model("vit-micro"), StudentSpec(width=0.5), "width 0.5 does not apply"),
])
def test_refusals_are_one_line(model, spec, message):
    shape = (1, 1, 8, 8) if "hardcoded" in message or "breaks" in message else SHAPE
    with pytest.raises(ConfigError) as info:
        derive_student(model(), spec, shape)
    assert message in info.value.one_line() and "\n" not in info.value.one_line()


def test_cnn_teacher_pairs_with_stage_outputs():
    teacher = build_model("resnet8")
    assert cnn_stage_outputs(probe(teacher, SHAPE)) == ["layer1", "layer2", "layer3"]
    pairs = cross_pairs(build_model("vit-mini"), teacher, SHAPE)
    assert [(p.student_point, p.teacher_point) for p in pairs] == [("blocks.0", "layer1"), ("blocks.2", "layer2"),
                                                                   ("blocks.3", "layer3")]


@pytest.mark.parametrize("name, shape", [("vit-micro", SHAPE), ("tests.distill.vit_models:factory", (1, 1, 8, 8))])
def test_students_export_with_parity(tmp_path, name, shape):
    torch.manual_seed(0)
    teacher = build_teacher(name, 10, shape[1])
    for k in (1, 2):
        model = derive_student(teacher, StudentSpec(pool_factor=k), shape).model
        path = export_onnx(model, shape, tmp_path / f"k{k}.onnx")
        assert check_parity(model, path, shape) <= 1e-4


def test_budget_search_picks_the_least_pooled_vit_that_fits():
    teacher = build_model("vit-micro")
    peaks = {k: measure_memory(derive_student(teacher, StudentSpec(k), SHAPE).model, SHAPE).arena_bytes for k in (1, 2, 4)}
    found = search_student(teacher, SHAPE, Budget(peaks[2] + 64), pool_factors=(1, 2, 4), convs=("standard", "DW"), widths=(1.0, 0.5))
    assert found.spec == StudentSpec(pool_factor=2) and found.memory.arena_bytes == peaks[2]
    verdicts = [c.verdict for c in found.candidates]
    assert verdicts[0].startswith("over budget") and verdicts[1] == "fits"
    with pytest.raises(NoStudentFits) as info:
        search_student(teacher, SHAPE, Budget(peaks[4] // 2), pool_factors=(1, 2, 4), convs=("standard",), widths=(1.0, 0.5))
    assert "by pool x4" in info.value.one_line()
    assert any(c.verdict.startswith("not applicable: width 0.5 does not apply") for c in info.value.candidates)
