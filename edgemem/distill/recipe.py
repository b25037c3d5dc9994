"""The defaults ``auto`` stands for: the method (``--method auto``), the student's initial weights
(``[student] init = "auto"``) and the stem of pooled students (``[student] stem = "auto"``).

Standard library only. What each resolves to was chosen by measurement (docs/distill.md, "How the
default was chosen"): every knob tried one at a time on the CIFAR-10 subset, kept when it helped.
"""

from __future__ import annotations

AUTO = "auto"
POOLED_METHOD = "kd_hint"  # students whose resolution was pooled
PLAIN_METHOD = "kd"  # every other student (cheap convolutions, width)
POOLED_STEM = "strided"  # the stem takes the stride (ReDistill's rule); patchify measured worse


def auto_method(pool_factor: int) -> str:
    """The method ``auto`` trains a student of this pooling factor with."""
    return POOLED_METHOD if pool_factor > 1 else PLAIN_METHOD


def trains_red(method: str) -> bool:
    """Whether ``method`` (or what ``auto`` picks for a pooled student) has a RED term: only then do
    pooled students get RED blocks (an untrained RED block only perturbs the student)."""
    from edgemem.distill.trainers import METHODS

    return METHODS[POOLED_METHOD if method == AUTO else method].needs_pairs


def resolve_init(option: str, distils: bool) -> str:
    """``auto``: the teacher's weights when the student learns from a trained teacher (every weight of a
    pooled student is the teacher's; a cheap or narrower student keeps the layers it shares), fresh
    weights when it trains alone (``ce``, ``online``: a baseline must not start from the teacher)."""
    if option != AUTO:
        return option
    return "teacher" if distils else "scratch"


def resolve_stem(option: str) -> str:
    """``auto``: the strided stem (it matters only for pooled students)."""
    return POOLED_STEM if option == AUTO else option
