"""What ``auto`` stands for: the method of pooled and other students, the student's initial
weights and the stem; and that a run applies them."""

from __future__ import annotations

import torch

from edgemem.distill import recipe
from edgemem.distill.config import config_from_mapping
from edgemem.distill.data import load_dataset
from edgemem.distill.run import Context, SilentProgress, build_student, resolve_method, student_init, train_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.trainers import METHODS
from edgemem.distill.zoo import build_model


def test_auto_resolves_per_student():
    assert recipe.auto_method(4) == recipe.auto_method(2) == recipe.POOLED_METHOD
    assert recipe.auto_method(1) == recipe.PLAIN_METHOD
    assert recipe.POOLED_METHOD in METHODS and recipe.PLAIN_METHOD in METHODS
    assert resolve_method("auto", [], pool_factor=4) == recipe.POOLED_METHOD
    assert resolve_method("auto", [("a", "b")]) == recipe.POOLED_METHOD  # legacy callers: RED pairs mean pooled
    assert recipe.resolve_init("auto", distils=True) == "teacher" and recipe.resolve_init("auto", distils=False) == "scratch"
    assert recipe.resolve_init("scratch", distils=True) == "scratch"
    assert recipe.resolve_stem("auto") == recipe.POOLED_STEM and recipe.resolve_stem("strided") == "strided"


def test_defaults_start_distilled_students_from_the_teacher_and_baselines_from_scratch(tmp_path):
    config = config_from_mapping({"teacher": "resnet-mini", "dataset": "digits", "out": str(tmp_path)})
    assert config.student.init == "auto" and config.student.stem == "auto"
    assert student_init(config, "auto") == "teacher" and student_init(config, "kd") == "teacher"
    assert student_init(config, "ce") == "scratch" and student_init(config, "online") == "scratch"
    ctx = Context(config, load_dataset("digits"), SilentProgress(), [])
    torch.manual_seed(123)  # not the run's seed, so fresh weights differ from the teacher's
    teacher = build_model("resnet-mini", in_channels=1)
    spec = StudentSpec(pool_factor=2, stem=recipe.resolve_stem(config.student.stem))
    distilled = build_student(ctx, teacher, spec, "auto").model
    baseline = build_student(ctx, teacher, spec, "ce").model
    same = [k for k, v in teacher.state_dict().items() if k in distilled.state_dict() and k != "conv1.weight"]
    assert same and all(torch.equal(teacher.state_dict()[k], distilled.state_dict()[k]) for k in same)
    assert not torch.equal(teacher.state_dict()["layers.0.conv1.weight"], baseline.state_dict()["layers.0.conv1.weight"])
    assert distilled.conv1.kernel_size == (3, 3) and distilled.conv1.stride == (2, 2)  # the strided stem


def test_pooled_students_get_red_blocks_only_from_methods_that_train_them(tmp_path):
    config = config_from_mapping({"teacher": "resnet-mini", "dataset": "digits", "out": str(tmp_path), "epochs": 1})
    ctx = Context(config, load_dataset("digits", None, config.data), SilentProgress(), [])
    teacher = build_model("resnet-mini", in_channels=1)
    assert recipe.trains_red("red_kd") and not recipe.trains_red("kd") and recipe.trains_red("auto") == \
        METHODS[recipe.POOLED_METHOD].needs_pairs
    plain, _, method = train_student(ctx, teacher, StudentSpec(pool_factor=2), "student", "auto", tmp_path / "auto")
    red, _, _ = train_student(ctx, teacher, StudentSpec(pool_factor=2), "student", "red_kd", tmp_path / "red")
    assert method == recipe.POOLED_METHOD and plain.spec["red"] is False and red.spec["red"] is True
    assert red.parameters > plain.parameters == sum(p.numel() for p in teacher.parameters())
    assert any("no RED blocks" in note for note in ctx.notes)
