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


def peak_and_live(model, shape, orders=("stored", "greedy")):
    """(the analyzer's best peak, {tensor name: bytes} live at that peak) of ``model``'s export."""
    from edgemem.distill.budget import exported_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze
    from edgemem.memory.convention import Convention

    graph, _ = exported_graph(model, shape)
    report = analyze(graph, AnalyzeOptions(orders=orders, convention=Convention()))
    sizes, best = {row.name: row.size_bytes for row in report.tensors}, report.best
    return best.peak_bytes, {name: sizes[name] for name, span in best.offsets.items() if span[2] <= best.peak_step <= span[3]}


def time_bytes(live: dict) -> int:
    return sum(size for name, size in live.items() if "temb" in name or "time" in name)


@pytest.mark.parametrize("stem", ["strided", "patchify"])
def test_student_peak_is_at_most_a_quarter_of_the_teachers(one_thread, stem):
    """The feature maps of the x2 student are exactly 1/4 of the teacher's at every resolution; the
    timestep projections the teacher keeps live at its peak do not shrink, so the student computes
    its time embedding in every block where it is used: at its peak no time-embedding tensor is live."""
    teacher = UNet(ch=16, attn=(), num_res_blocks=1, groups=4)  # ReDistill's four levels, narrow, no attention
    peaks = {}
    for size in (8, 16):
        shape = (1, 3, size, size)
        student = derive_student(teacher, StudentSpec(pool_factor=2, red=False, stem=stem), shape).model
        (t_peak, t_live), (s_peak, s_live) = peak_and_live(teacher, shape), peak_and_live(student, shape)
        assert s_peak <= t_peak / 4
        assert time_bytes(t_live) == 2 * 4 * 16 and time_bytes(s_live) == 4  # two 16-channel projections; the timestep
        peaks[size] = (t_peak, s_peak)
    spatial = [(peaks[16][i] - peaks[8][i]) / 3 for i in (0, 1)]
    assert spatial[0] == 4 * spatial[1]


def test_time_recompute_and_shortcut_order_keep_the_function():
    teacher = randomised(ddpm_unet_tiny())
    recomputing = randomised(ddpm_unet_tiny(time_recompute=True))
    recomputing.load_state_dict(teacher.state_dict())
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([3.0, 700.0])
    assert torch.equal(teacher(x, t), recomputing(x, t))


def test_patchify_stem_and_output_start_from_the_teachers():
    """Space-to-depth stem = the teacher's stem read at the even pixels (its stride-2 form); depth-to-space output =
    the teacher's 1x1 output layer for every sub-pixel (nearest upsampling), both exactly."""
    teacher = randomised(ddpm_unet_tiny())
    student = derive_student(teacher, StudentSpec(pool_factor=2, red=False, stem="patchify"), (1, 3, 16, 16))
    model = student.model
    assert "space-to-depth stem" in student.description and model.config["time_recompute"] is True
    x, features = torch.randn(2, 3, 16, 16), torch.randn(2, 8, 8, 8)
    torch.testing.assert_close(model.head(x), teacher.head(x)[:, :, ::2, ::2], atol=1e-5, rtol=0)
    upsampled = torch.nn.functional.interpolate(teacher.tail[2](features), scale_factor=2, mode="nearest")
    torch.testing.assert_close(model.tail[3](model.tail[2](features)), upsampled, atol=1e-5, rtol=0)
    assert model(x, torch.tensor([1.0, 9.0])).shape == x.shape


def test_patchify_student_red_events_are_the_pixel_shuffles():
    student = derive_student(narrow_unet(), StudentSpec(pool_factor=2, stem="patchify"), (1, 3, 32, 32))
    points = [p.student_point for p in student.red_pairs]
    assert points[0] == "red_blocks.head_0__out" and points[-1] == "red_blocks.tail_3__in" and len(points) == 10
    assert [p.teacher_point for p in student.red_pairs] == [t for _, t in REDISTILL_X2]


@pytest.mark.slow
def test_redistill_128_channel_configuration_is_4x_lower(one_thread):
    """The configuration of the issue: ch 128, ch_mult [1,2,2,2], strides [1,2,2,2] -> [2,2,2,1] with RED blocks,
    analysed (no training) under the heuristic orders and the optimal search."""
    teacher = ddpm_unet()
    shape = (1, 3, 32, 32)
    student = derive_student(teacher, StudentSpec(pool_factor=2), shape)
    assert [(p.student_point, p.teacher_point) for p in student.red_pairs] == REDISTILL_X2
    teacher_peak = measure_memory(teacher, shape).peak_activation_bytes
    student_peak = measure_memory(student.model, shape).peak_activation_bytes
    feature_maps = 1_179_648  # the student's live feature maps at its peak, 1/4 of the teacher's
    # teacher: + 1,568 B of timestep projections and a shape; student: + the timestep (4 B) and a shape (32 B)
    assert (teacher_peak, student_peak) == (4 * feature_maps + 1_568, feature_maps + 36)
    assert student_peak <= teacher_peak / 4
    optimal = {name: peak_and_live(model, shape, ("greedy", "optimal"))[0] for name, model in
               (("teacher", teacher), ("student", student.model))}
    assert optimal["student"] <= optimal["teacher"] / 4


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
