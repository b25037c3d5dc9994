"""The trainers by name: a table of the imported trainer classes. Imports torch, so the torch-free
METHODS table (trainers/__init__.py) names each method's trainer by its key here and
the code that trains imports this module (and torch) only when it trains."""

from __future__ import annotations

from edgemem.distill.blockwise.finetune import DDPKDTrainer
from edgemem.distill.trainers.online import OnlineTrainer
from edgemem.distill.trainers.standard import StandardTrainer
from edgemem.distill.trainers.tokens import TokenTrainer

TRAINERS: dict[str, type] = {
    "standard": StandardTrainer,
    "online": OnlineTrainer,
    "tokens": TokenTrainer,
    "blockwise": DDPKDTrainer,  # the KD fine-tune under DDP; the blockwise run itself: blockwise/run.py
}


def get_trainer(name: str) -> type:
    """The trainer class registered under ``name``."""
    try:
        return TRAINERS[name]
    except KeyError:
        raise KeyError(f"unknown trainer {name!r}; known: {', '.join(TRAINERS)}") from None
