"""Training methods, one table by name (``METHODS``). Standard library only at import time.

A method names the trainer that runs it (``standard``: one student, optionally a frozen
teacher; ``online``: several cheap students and an ensemble head trained together, no
pretrained teacher) and the loss weights it starts from; ``[loss]`` in the config overrides
any weight by name; the trainers themselves are the table in trainers/registry.py (torch).
``blockwise`` (issue 5) runs ``edgemem.distill.blockwise.run``; its trainer here
is the end-to-end KD fine-tune under DistributedDataParallel.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Method:
    trainer: str  # key of TRAINERS
    needs_teacher: bool  # a teacher must exist (trained first when no weights are given)
    needs_pairs: bool  # RED pairs (pooled students); AT and hints use the stage pairs every derived student has
    weights: dict = field(default_factory=dict)  # loss weights this method starts from
    summary: str = ""


METHODS: dict[str, Method] = {
    "ce": Method("standard", False, False, {"ce_weight": 1.0},
                 "cross-entropy only: the student trained without a teacher (the --baseline)"),
    "kd": Method("standard", True, False, {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 4.0},
                 "Hinton KD: 0.1 CE + 0.9 T^2 KL(batchmean), T = 4"),
    "red": Method("standard", True, True, {"ce_weight": 0.5, "red_weight": 25.0},
                  "ReDistill RED only: 0.5 CE + 0.5 * 50 * mean cosine distance of channel-mean maps"),
    "red_kd": Method("standard", True, True,
                     {"ce_weight": 0.05, "kd_weight": 0.45, "red_weight": 25.0, "temperature": 4.0},
                     "ReDistill RED + KD: 0.5 (KD mix) + 0.5 * 50 * mean RED cosine distance"),
    "at": Method("standard", True, False, {"ce_weight": 1.0, "at_weight": 1000.0},
                 "attention transfer (p=2, L2-normalised, beta 1e3 scaled by positions/1024) + CE"),
    "kd_at": Method("standard", True, False,
                    {"ce_weight": 0.1, "kd_weight": 0.9, "at_weight": 1000.0, "temperature": 4.0},
                    "KD mix + attention transfer"),
    "hint": Method("standard", True, False, {"ce_weight": 1.0, "hint_weight": 20.0},  # 100 diverged on CIFAR at lr 0.05
                   "FitNets hints (1x1 regressor, MSE) + CE"),
    "kd_hint": Method("standard", True, False,
                      {"ce_weight": 0.1, "kd_weight": 0.9, "hint_weight": 20.0, "temperature": 4.0},
                      "KD mix + FitNets hints on the stage outputs (the pooled students' default)"),
    "online": Method("online", False, False, {"ce_weight": 1.0, "mutual_weight": 0.1, "temperature": 4.0},
                     "online mutual learning: m cheap students + ensemble head, no pretrained teacher"),
    "token_kd": Method("tokens", True, True, {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 4.0, "hint_weight": 0.1},
                       "ViT students: KD mix + alignment of token maps resized to the teacher's grid (trainers/tokens.py)"),
    "blockwise": Method("blockwise", True, False, {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 4.0},
                        "parallel blockwise distillation (MSE per block on torchrun workers), then a KD fine-tune under DDP"),
}

# "auto" resolves at run time to the recipe's method for the student (edgemem.distill.recipe), or to
# the derived student's own method when it names one (token_kd for pooled ViTs: distill/standard.py).
AUTO = "auto"


def method_names() -> tuple[str, ...]:
    return (AUTO, *METHODS)
