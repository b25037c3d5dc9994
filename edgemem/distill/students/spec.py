"""The contract between student derivation and training. Standard library only (no torch here).

A ``StudentSpec`` names one point of the search space; ``derive`` (in students/derive.py) turns
a teacher ``nn.Module`` and a spec into a ``Student``: the student module plus the pairs of
feature points the RED loss aligns. RED blocks are ordinary submodules of the student, so they
export to ONNX as ordinary ops; ``RedPair.student_point`` names the RED block's module path
(its forward output is the student feature), ``teacher_point`` the teacher module whose output
has the same spatial size, or, with the suffix ``:input`` (e.g. ``layer3.0:input``), the teacher
module whose input has it (``edgemem.distill.taps.FeatureTaps`` reads both forms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StudentSpec:
    pool_factor: int = 1  # ReDistill aggressive pooling factor k (1 = teacher resolution)
    conv: str = "standard"  # "standard" | Moonshine "G(g)" "BG(b,g)" "DW" "B(b)" | online "dw" "group(g)" "shift"
    width: float = 1.0  # channel width multiplier
    red: bool = True  # insert RED blocks at the moved points (only meaningful with pool_factor > 1)
    stem: str = "strided"  # pooled students: "strided" (the stem conv takes the stride) | "patchify" (reads every pixel)

    def label(self) -> str:
        parts = []
        if self.pool_factor != 1:
            parts.append(f"pool x{self.pool_factor}")
        if self.conv != "standard":
            parts.append(self.conv)
        if self.width != 1.0:
            parts.append(f"width {self.width:g}")
        if self.pool_factor != 1 and self.stem != "strided":
            parts.append(f"{self.stem} stem")
        if self.pool_factor != 1 and self.red:
            parts.append("RED")
        return ", ".join(parts) or "teacher architecture"


@dataclass(frozen=True)
class RedPair:
    student_point: str  # module path in the student whose output is the (RED-encoded) student feature
    teacher_point: str  # module path in the teacher whose output (or, with ":input", input) has the same spatial size
    channels: int  # channels of the student feature


@dataclass
class Student:
    model: Any  # torch.nn.Module
    spec: StudentSpec
    red_pairs: list[RedPair] = field(default_factory=list)
    description: str = ""
    method: str | None = None  # what --method auto trains it with (None: red_kd with pairs, else kd)
