"""Students of another architecture than the teacher's (``[student] arch``): a tiny ViT of a CNN teacher.

Without ``arch`` students are derived from the teacher's architecture: fresh weights of it, or the
trained teacher itself (``[student] init``; ``auto``: the teacher's when the student distils). With ``arch`` (a zoo name or
``package.module:factory``) they are derived from fresh weights of that model, by the same specs
and the same budget search; a ViT student is then paired with the teacher's stage outputs
(``students.vit.cross_pairs``) and trained with token_kd, any other with plain KD.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from edgemem.errors import ConfigError


def student_source(config, teacher, num_classes: int, in_channels: int):
    """The model students are derived from (left untouched by the derivation): fresh weights of
    ``[student] arch``, else a copy of ``teacher`` when given (the caller passes the trained teacher
    when the student starts from its weights), else None: fresh weights of the teacher's
    architecture, built by the caller."""
    from edgemem.distill.teacher import load_teacher

    arch = config.student.arch
    if arch is not None:
        if config.student.init == "teacher":
            raise ConfigError(f"[student] init = \"teacher\" needs the teacher's architecture, not arch {arch!r}",
                              hint="drop init or arch")
        return load_teacher(arch, num_classes, in_channels, None)
    return copy.deepcopy(teacher) if teacher is not None else None


def with_cross_pairs(student, config, teacher, input_shape):
    """A student of ``[student] arch``: its pairs with the teacher (ViT students), else none."""
    if config.student.arch is None:
        return student
    from edgemem.distill.students.probe import probe
    from edgemem.distill.students.vit import TOKEN_METHOD, cross_pairs, is_token_model

    if is_token_model(probe(student.model, input_shape)):
        pairs = cross_pairs(student.model, teacher, input_shape)
        return replace(student, red_pairs=pairs, method=TOKEN_METHOD,
                       description=f"{student.description} (student of {config.teacher}, {len(pairs)} token pairs)")
    return replace(student, red_pairs=[], method="kd", description=f"{student.description} (student of {config.teacher})")
