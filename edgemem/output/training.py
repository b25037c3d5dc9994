"""Training progress on stderr (one bar per phase, one line in 80 columns) and the accuracy format every distill
table uses."""

from __future__ import annotations

import contextlib

from edgemem.distill.result import EpochMetrics
from edgemem.output import Output

__all__ = ["DistillProgress", "percent"]


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


class DistillProgress:
    """Progress sink for distill(): one bar per training phase on stderr with loss and accuracy."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self._stack = contextlib.ExitStack()
        self._bar = None
        self._name = ""
        self._epochs = 0
        self._last = ""

    def phase(self, name: str, epochs: int, steps_per_epoch: int, start_epoch: int = 0) -> None:
        self.phase_end()
        self._name, self._epochs = name, epochs
        self._bar = self._stack.enter_context(self.out.progress(f"{name}", total=epochs * steps_per_epoch))
        self._bar.update(completed=start_epoch * steps_per_epoch, info=f"epoch {start_epoch + 1}/{epochs}")
        if start_epoch:
            self.out.info(f"{name}: continuing after epoch {start_epoch}")

    def step(self, epoch: int, loss: float) -> None:
        if self._bar is not None:
            self._bar.update(advance=1, info=f"epoch {epoch}/{self._epochs} loss {loss:.4f}" + (f", {self._last}" if self._last else ""))

    def epoch_end(self, metrics: EpochMetrics) -> None:
        self._last = f"last acc {metrics.eval_accuracy * 100:.2f}%"
        if self._bar is not None:
            self._bar.update(info=f"epoch {metrics.epoch}/{self._epochs} loss {metrics.train_loss:.4f}, {self._last}")
        if not self.out.interactive and metrics.epoch == self._epochs:
            self.out.info(f"{self._name}: {metrics.epoch} epochs, loss {metrics.train_loss:.4f}, "
                          f"accuracy {metrics.eval_accuracy * 100:.2f}%")

    def phase_end(self) -> None:
        self._stack.close()
        self._stack = contextlib.ExitStack()
        self._bar = None
        self._last = ""

    def note(self, text: str) -> None:
        self.out.info(text)
