"""Denoiser students: ReDistill's pooling strides and RED placement on the DDPM U-Net, peaks,
two-input ONNX export with parity, the budget search, and the 128-channel analyzer check."""

from __future__ import annotations

import pytest
import torch

from edgemem.budget import Budget
from edgemem.distill.budget import measure_memory
from edgemem.distill.export import check_parity, export_onnx
from edgemem.distill.students.denoiser import plan_strides, probe_denoiser, rebuild, resampling_events
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.search import NoStudentFits, search_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo.ddpm import UNet, ddpm_unet, ddpm_unet_tiny
from edgemem.errors import ConfigError

# ReDistill's pipeline_ddpm/config/reedx2_dist_config.yaml: student point -> teacher point
REDISTILL_X2 = [
    ("red_blocks.head__out", "downblocks.2"),
    ("red_blocks.downblocks_2__in", "downblocks.5:input"), ("red_blocks.downblocks_2__out", "downblocks.5"),
    ("red_blocks.downblocks_5__in", "downblocks.8:input"), ("red_blocks.downblocks_5__out", "downblocks.8"),
    ("red_blocks.upblocks_7__in", "upblocks.3:input"), ("red_blocks.upblocks_7__out", "upblocks.3"),
    ("red_blocks.upblocks_11__in", "upblocks.7:input"), ("red_blocks.upblocks_11__out", "upblocks.7"),
    ("red_blocks.tail__in", "upblocks.11:input"),
]


def narrow_unet(**kwargs):
    """ReDistill's CIFAR topology (ch_mult [1,2,2,2], 2 blocks, attention at level 1) at 8 channels."""
    return ddpm_unet(ch=8, groups=4, dropout=0.0, **kwargs)


def randomised(model):
    """Non-trivial weights everywhere (the U-Net's output conv starts at zero)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


@pytest.mark.parametrize("strides, k, expected", [
    ([1, 2, 2, 2], 2, [2, 2, 2, 1]), ([1, 2, 2, 2], 4, [4, 2, 1, 1]), ([1, 2, 2, 2], 8, [8, 1, 1, 1]), ([1, 2], 2, [2, 1]),
    ([1, 4, 2], 4, [4, 2, 1]),
])
def test_strides_follow_redistills_rule(strides, k, expected):
    assert plan_strides(strides, k, "unet") == expected


def test_a_factor_beyond_the_downsampling_is_refused():
    with pytest.raises(ConfigError, match="pool factor 16 does not apply to unet: it downsamples 8x after its head"):
        plan_strides([1, 2, 2, 2], 16, "unet")


def test_student_reproduces_redistills_red_config(one_thread):
    teacher = narrow_unet()
    student = derive_student(teacher, StudentSpec(pool_factor=2), (1, 3, 32, 32))
    assert student.model.pool_strides == (2, 2, 2, 1)
    assert [(p.student_point, p.teacher_point) for p in student.red_pairs] == REDISTILL_X2
    assert [p.channels for p in student.red_pairs] == [8, 8, 8, 16, 16, 16, 16, 16, 16, 8]
    x, t = torch.randn(2, 3, 32, 32), torch.tensor([3.0, 700.0])
    assert student.model(x, t).shape == (2, 3, 32, 32)
    plain = derive_student(teacher, StudentSpec(pool_factor=2, red=False), (1, 3, 32, 32))
    assert plain.red_pairs == [] and not hasattr(plain.model, "red_blocks")


def test_student_keeps_every_weight_whose_shape_survives():
    teacher = randomised(ddpm_unet_tiny())
    student = derive_student(teacher, StudentSpec(pool_factor=2, red=False), (1, 3, 8, 8)).model
    changed = {n for n, p in student.state_dict().items() if p.shape != teacher.state_dict()[n].shape}
    assert changed == {"tail.2.weight", "upblocks.2.main.weight"}  # transposed convs: kernels 1 -> 2 and 2 -> 1
    same = [n for n in teacher.state_dict() if n not in changed]
    assert all(torch.equal(student.state_dict()[n], teacher.state_dict()[n]) for n in same)


def test_resampling_events_are_taken_at_their_blocks():
    events = [path for path, _, _ in resampling_events(probe_denoiser(narrow_unet(), (1, 3, 32, 32)))]
    assert events == ["head", "downblocks.2", "downblocks.5", "downblocks.8", "upblocks.3", "upblocks.7", "upblocks.11", "tail"]


def test_rebuild_needs_the_denoiser_protocol():
    class Bare(torch.nn.Module):
        edgemem_task = "denoise"
        pool_strides = [1, 2]

    with pytest.raises(ConfigError, match="needs pool_strides and config"):
        rebuild(Bare(), [2, 1])
    for spec, message in ((StudentSpec(conv="DW"), "conv 'DW' does not apply"), (StudentSpec(width=0.5), "width 0.5 does not apply")):
        with pytest.raises(ConfigError, match=message):
            derive_student(ddpm_unet_tiny(), spec, (1, 3, 8, 8))


def test_peak_falls_4x_on_every_feature_map():
    """At two resolutions the analyzer's peaks split into a part that scales with the pixels and a
    resolution-independent one (timestep projections): the spatial part of the x2 student is exactly 1/4.
    (Without attention, whose score matrix grows with the square of the pixels: at 8 channels it would
    be the peak; at ReDistill's 128 the feature maps are, see the slow test below.)"""
    teacher = UNet(ch=8, attn=(), num_res_blocks=1, groups=4)  # ReDistill's four levels, narrow
    peaks = {}
    for size in (8, 16):
        shape = (1, 3, size, size)
        student = derive_student(teacher, StudentSpec(pool_factor=2), shape).model
        peaks[size] = (measure_memory(teacher, shape).peak_activation_bytes, measure_memory(student, shape).peak_activation_bytes)
    spatial = [(peaks[16][i] - peaks[8][i]) / 3 for i in (0, 1)]
    constant = [peaks[16][i] - 4 * spatial[i] for i in (0, 1)]
    assert spatial[0] == 4 * spatial[1] and constant[0] == constant[1] < 0.01 * peaks[16][1]
    assert peaks[16][1] - constant[1] == (peaks[16][0] - constant[0]) / 4


@pytest.mark.slow
def test_redistill_128_channel_configuration_is_4x_lower():
    """The configuration of the issue: ch 128, ch_mult [1,2,2,2], strides [1,2,2,2] -> [2,2,2,1] with RED blocks."""
    teacher = ddpm_unet()
    student = derive_student(teacher, StudentSpec(pool_factor=2), (1, 3, 32, 32))
    assert [(p.student_point, p.teacher_point) for p in student.red_pairs] == REDISTILL_X2
    teacher_peak = measure_memory(teacher, (1, 3, 32, 32)).peak_activation_bytes
    student_peak = measure_memory(student.model, (1, 3, 32, 32)).peak_activation_bytes
    assert (teacher_peak, student_peak) == (4_720_160, 1_181_216)
    feature_maps = 1_179_648  # the student's largest live set minus 1,568 B of timestep projections (three 512 B vectors + a shape)
    assert teacher_peak - 4 * feature_maps == student_peak - feature_maps == 1_568


@pytest.mark.parametrize("k, red", [(1, False), (2, True), (2, False)])
def test_two_input_export_has_parity(tmp_path, k, red):
    teacher = randomised(ddpm_unet_tiny(in_channels=1))
    model = randomised(derive_student(teacher, StudentSpec(pool_factor=k, red=red), (2, 1, 8, 8)).model)
    path = export_onnx(model, (2, 1, 8, 8), tmp_path / "denoiser.onnx")
    import onnx

    names = [i.name for i in onnx.load(str(path)).graph.input]
    assert names == ["input", "timestep"]
    assert check_parity(model, path, (2, 1, 8, 8)) <= 1e-4


def test_budget_search_on_a_denoiser():
    teacher = ddpm_unet_tiny()
    shape, cache = (1, 3, 8, 8), {}
    space = {"convs": ("standard",), "widths": (1.0,), "cache": cache}
    found = search_student(teacher, shape, Budget(10**9), pool_factors=(1, 2), **space)
    assert found.spec == StudentSpec(pool_factor=1)
    arenas = {1: found.teacher_memory.arena_bytes,
              2: search_student(teacher, shape, Budget(10**9), pool_factors=(2,), **space).memory.arena_bytes}
    assert arenas[2] < arenas[1] and len(cache) == 2
    found = search_student(teacher, shape, Budget(arenas[2]), pool_factors=(1, 2), **space)
    assert found.spec == StudentSpec(pool_factor=2) and len(found.student.red_pairs) == 2
    with pytest.raises(NoStudentFits) as info:
        search_student(teacher, shape, Budget(arenas[2] // 2), pool_factors=(1, 2, 4), convs=("standard", "DW"),
                       widths=(1.0, 0.5), cache=cache)
    assert "no student of UNet fits" in info.value.one_line() and "by pool x2, RED" in info.value.one_line()
    verdicts = [c.verdict for c in info.value.candidates]
    assert verdicts[2].startswith("not applicable: pool factor 4 does not apply")
    assert verdicts[-1].startswith("not applicable: width 0.5 does not apply")


def test_unet_rejects_inconsistent_configurations():
    with pytest.raises(ValueError, match="one entry per level"):
        UNet(ch=8, ch_mult=(1, 2), pool_strides=(1, 2, 2), groups=4)
    with pytest.raises(ValueError, match="GroupNorm groups 3"):
        UNet(ch=8, ch_mult=(1, 2), groups=3)
