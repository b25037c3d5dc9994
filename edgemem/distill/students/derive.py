"""derive_student(teacher, spec, input_shape) -> Student: the teacher transformed by one spec.

A deep copy of the teacher goes through, in this order: the width multiplier, the cheap
convolution swap, aggressive pooling with RED blocks. Each transform reads the network from a
traced forward pass (``probe``), so zoo models and user models are handled alike; when a transform
cannot apply, a one-line ConfigError says why. The result is checked: same output shape, same
final resolution (total stride), and for pure pooling students every teacher weight has its shape.
"""

from __future__ import annotations

import copy

from edgemem.distill.students.convs import apply_cheap_conv
from edgemem.distill.students.denoiser import derive_denoiser_student, is_denoiser
from edgemem.distill.students.pooling import pool_student
from edgemem.distill.students.probe import probe
from edgemem.distill.students.spec import Student, StudentSpec
from edgemem.distill.students.strides import map_strides
from edgemem.distill.students.vit import derive_vit_student, is_token_model
from edgemem.distill.students.width import apply_width
from edgemem.errors import ConfigError


def check_spec(spec: StudentSpec) -> None:
    if not isinstance(spec.pool_factor, int) or isinstance(spec.pool_factor, bool) or spec.pool_factor < 1:
        raise ConfigError(f"pool factor must be a positive integer, got {spec.pool_factor!r}")
    if not isinstance(spec.width, (int, float)) or not spec.width > 0:
        raise ConfigError(f"width multiplier must be positive, got {spec.width!r}")
    if not isinstance(spec.conv, str):
        raise ConfigError(f"conv must be a name, got {spec.conv!r}")


def model_label(model) -> str:
    return getattr(model, "edgemem_name", None) or type(model).__name__


def derive_student(teacher, spec: StudentSpec, input_shape) -> Student:
    """Derive the student ``spec`` describes from ``teacher`` (left untouched) for ``input_shape``."""
    check_spec(spec)
    input_shape = tuple(int(d) for d in input_shape)
    name = model_label(teacher)
    if is_denoiser(teacher):  # U-Net noise predictors (students/denoiser.py)
        return derive_denoiser_student(teacher, spec, input_shape, name)
    teacher_trace = probe(teacher, input_shape)
    if is_token_model(teacher_trace):  # ViTs: the patch stride is the pooling knob (students/vit.py)
        return derive_vit_student(teacher, spec, input_shape, name, teacher_trace)
    model = copy.deepcopy(teacher)
    for parameter in model.parameters():  # a teacher used for distillation is frozen; its student trains
        parameter.requires_grad_(True)
    notes: list[str] = []
    if spec.width != 1.0:
        apply_width(model, float(spec.width), input_shape, teacher_trace, name)
        notes.append(f"width x{spec.width:g}")
    if spec.conv != "standard":
        replaced = apply_cheap_conv(model, spec.conv, probe(model, input_shape), name)
        notes.append(f"{len(replaced)} convs -> {spec.conv}")
    pairs = []
    if spec.pool_factor != 1:
        teacher_map = map_strides(teacher, teacher_trace)
        pairs, red_notes = pool_student(model, spec.pool_factor, input_shape, teacher_map, teacher_trace, spec.red, name,
                                        spec.stem)
        notes.append(f"pool x{spec.pool_factor}" + (f", {spec.stem} stem" if spec.stem != "strided" else "")
                     + (f", {len(pairs)} RED blocks" if spec.red else ""))
        notes += red_notes
    model.train(teacher.training)
    if spec.pool_factor != 1 and spec.conv == "standard" and spec.width == 1.0:
        stem = map_strides(teacher, teacher_trace).stem
        check_weights_kept(teacher, model, exempt={f"{stem}.weight"} if spec.stem != "strided" else set())
    return Student(model=model, spec=spec, red_pairs=pairs, description=f"{name}: " + ("; ".join(notes) or "teacher architecture"))


def check_weights_kept(teacher, student, exempt=frozenset()) -> None:
    """Aggressive pooling must keep every teacher weight and its shape (an internal invariant);
    ``exempt``: keys whose shape may change (a patchify stem's weight)."""
    student_state = student.state_dict()
    for key, value in teacher.state_dict().items():
        if key in exempt and key in student_state:
            continue
        if key not in student_state or tuple(student_state[key].shape) != tuple(value.shape):
            raise AssertionError(f"internal error: pooling changed teacher weight {key}")
