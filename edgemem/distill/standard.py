"""The standard run: a student derived from the teacher (pooling with RED blocks, cheap convs,
width), trained by KD (or the method chosen), exported, checked and analyzed; with ``--baseline``
the same student without a teacher, with ``--sweep`` a family for the memory-accuracy curve.

Which student is decided before this run starts (``run.py``: forced by ``[student]`` or picked by
the budget search), so nothing is trained for a budget nothing can meet.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from pathlib import Path

from edgemem.distill.common import (Context, digest, finish_result, prepare_teacher, run_training, summarize,
                                    teacher_fingerprint, teacher_needed)
from edgemem.distill.config import resolve_weights
from edgemem.distill.recipe import auto_method, resolve_init, resolve_stem
from edgemem.distill.result import DistillResult, ModelSummary
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.trainers import AUTO, METHODS
from edgemem.errors import ConfigError


def run_standard(ctx: Context, spec: StudentSpec | None, started: float) -> DistillResult:
    """Teacher, the student ``spec`` (None: sweep only), baseline and sweep; the result, written to report.json."""
    config = ctx.config
    teacher, teacher_training = prepare_teacher(ctx)
    trained = config.teacher_weights is not None or teacher_needed(config)
    teacher_summary = summarize(ctx, "teacher", teacher, config.teacher, teacher_training, evaluate=trained)
    student_summary, parity, method = None, None, config.method
    if spec is not None:
        student_summary, parity, method = train_student(ctx, teacher, spec, "student", config.method, config.out_dir)
    baseline = None
    if config.baseline and spec is not None:
        baseline, _, _ = train_student(ctx, teacher, replace(spec, red=False), "baseline", "ce", config.out_dir / "baseline")
    sweep = tuple(run_sweep(ctx, teacher, spec, student_summary))
    return finish_result(ctx, started, method=method, teacher=teacher_summary, student=student_summary, baseline=baseline,
                         sweep=sweep, parity_max_abs_diff=parity)


def build_student(ctx: Context, teacher, spec, method: str = AUTO):
    """Derive the student from the teacher's weights or fresh ones ([student] init; auto: the
    teacher's when ``method`` distils from it); [student] arch: fresh weights of that architecture
    (students/arch.py)."""
    from edgemem.distill.students.arch import student_source, with_cross_pairs  # torch
    from edgemem.distill.students.derive import derive_student
    from edgemem.distill.teacher import load_teacher
    from edgemem.distill.trainers.base import seed_everything

    config = ctx.config
    seed_everything(config.seed)
    trained = teacher if student_init(config, method) == "teacher" else None
    source = student_source(config, trained, ctx.dataset.num_classes, ctx.dataset.in_channels)
    if source is None:
        source = load_teacher(config.teacher, ctx.dataset.num_classes, ctx.dataset.in_channels, None)
    return with_cross_pairs(derive_student(source, spec, ctx.input_shape), config, teacher, ctx.input_shape)


def train_student(ctx: Context, teacher, spec, role: str, method: str, folder: Path, description: str | None = None):
    """Derive, train, export, check and analyze one student: (ModelSummary, parity diff, method used)."""
    from edgemem.distill.pairs import stage_pairs  # torch

    requested = method
    if method == AUTO:
        method = auto_method(spec.pool_factor)
    drop_red = spec.red and spec.pool_factor > 1 and not METHODS[method].needs_pairs
    if drop_red:
        spec = replace(spec, red=False)
    student = build_student(ctx, teacher, spec, method)
    if drop_red and student.method is None:  # a family with its own method (pooled ViTs) never has RED blocks
        ctx.note(f"{role}: no RED blocks: method {method} has no RED term to train them")
    init = "scratch" if ctx.config.student.arch else student_init(ctx.config, method)
    pairs = [(p.student_point, p.teacher_point) for p in student.red_pairs]
    if requested == AUTO and student.method and pairs:
        method = student.method  # the family's own method: token_kd for pooled ViT students
    else:
        method = resolve_method(method, pairs, role, spec.pool_factor)
    weights = resolve_weights(ctx.config, method)
    uses_stages = METHODS[method].trainer == "standard" and (weights.get("at_weight") or weights.get("hint_weight"))
    stages = stage_pairs(teacher, student.model, ctx.input_shape) if uses_stages else []
    job_teacher = teacher if METHODS[method].needs_teacher else None
    fingerprint = digest({"teacher": teacher_fingerprint(ctx.config), "teacher_weights": ctx.config.teacher_weights,
                          "spec": dataclasses.asdict(spec), "method": method, "weights": resolve_weights(ctx.config, method),
                          "train": dataclasses.asdict(ctx.config.train), "init": init,
                          "online_students": ctx.config.student.online_students})
    outcome = run_training(ctx, role, student.model, job_teacher, pairs, method, ctx.config.train, folder / "checkpoint", fingerprint,
                           stages)
    summary, parity = export_student(ctx, outcome, spec, role, folder, description or student.description or spec.label())
    return summary, parity, method


def student_init(config, method: str) -> str:
    """"teacher" or "scratch": [student] init, with auto resolved for ``method`` (recipe.resolve_init)."""
    return resolve_init(config.student.init, method == AUTO or METHODS[method].needs_teacher)


def resolve_method(method: str, pairs: list, role: str = "student", pool_factor: int | None = None) -> str:
    """``auto`` -> the recipe's method for the student (recipe.auto_method; without a pool factor:
    pooled when it has RED pairs); a method that needs RED pairs on a student without any is an error."""
    if method == AUTO:
        return auto_method(pool_factor if pool_factor is not None else (2 if pairs else 1))
    if METHODS[method].needs_pairs and not pairs:
        raise ConfigError(f"{role}: method {method!r} needs RED pairs, and this student has none "
                          "(RED pairs come from pooling factors k > 1)", hint="use method kd, kd_at or auto")
    return method


def export_student(ctx: Context, outcome, spec, role: str, folder: Path, description: str):
    from edgemem.distill.checkpoint import atomic_save  # torch
    from edgemem.distill.export import check_parity, export_onnx

    model = outcome.model.eval()
    onnx_path = export_onnx(model, ctx.input_shape, folder / "student.onnx")
    parity = check_parity(model, onnx_path, ctx.input_shape, atol=1e-4)
    weights_path = atomic_save({"state_dict": model.state_dict(), "spec": dataclasses.asdict(spec), "role": role,
                                "method": outcome.summary.method, "teacher": ctx.config.teacher,
                                "input_shape": list(ctx.input_shape), "accuracy": outcome.summary.accuracy,
                                **({"online": outcome.extra} if outcome.extra else {})}, folder / "student.pt")
    summary = summarize(ctx, role, model, description, outcome.summary, spec=dataclasses.asdict(spec),
                        onnx_path=str(onnx_path), checkpoint_path=str(weights_path))
    return summary, parity


def run_sweep(ctx: Context, teacher, spec, trained: ModelSummary | None = None):
    """One student per sweep value (pool factor k or width), trained with the run's method; the
    member equal to the main student reuses it."""
    base = spec or StudentSpec(red=ctx.config.student.red, stem=resolve_stem(ctx.config.student.stem))
    for value in ctx.config.sweep:
        member = replace(base, **{ctx.config.sweep_key: value})
        label = f"k={value}" if ctx.config.sweep_key == "pool_factor" else f"width={value:g}"
        method = ctx.config.method
        if method != AUTO and METHODS[method].needs_pairs and member.pool_factor == 1:
            ctx.note(f"sweep {label}: no RED pairs at k = 1, trained with kd instead of {method}")
            method = "kd"
        description = f"{label}: {member.label()}"
        if trained is not None and member == spec and method == ctx.config.method:
            yield replace(trained, role="sweep", description=description)
            continue
        summary, _, _ = train_student(ctx, teacher, member, f"sweep {label}", method,
                                      ctx.config.out_dir / "sweep" / label.replace("=", ""), description=description)
        yield replace(summary, role="sweep")


__all__ = ["run_standard", "build_student", "train_student", "student_init", "resolve_method", "export_student", "run_sweep"]
