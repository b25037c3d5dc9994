"""Prediction next to measurement, and the budget: the record both the report and the output use.

Standard library only (bench never imports memory: the analyzer's numbers arrive as a
``Prediction`` of plain ints). The budget verdict is ``edgemem.budget.check_budget`` on the
measured ``MemoryParts``: the scope says what counts (``activations``, ``weights``, ``model`` =
weights + activations, ``process`` = the fresh load-and-run process's whole peak); without a scope
the widest one measured (process, else model).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from edgemem.bench.result import BenchResult
from edgemem.budget import Budget, BudgetCheck, MemoryParts


@dataclass(frozen=True)
class Prediction:
    """The analyzer's numbers for the model and precision measured (or why there are none)."""

    activation_bytes: int | None = None  # planned arena of the best order
    peak_bytes: int | None = None  # live-set peak of the best order
    weights_bytes: int | None = None
    precision: str | None = None  # the precision counted ("as stored" when the file's)
    order: str | None = None
    note: str | None = None  # why there is no prediction


@dataclass(frozen=True)
class Verdict:
    predicted_activation_bytes: int | None
    predicted_peak_bytes: int | None
    predicted_weights_bytes: int | None
    prediction_precision: str | None
    prediction_note: str | None
    measured_activation_bytes: int | None
    ratio: float | None  # measured activations / predicted arena
    budget: BudgetCheck | None  # None without a budget

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.budget.over

    def to_json(self) -> dict:
        document = asdict(self)
        document["budget"] = self.budget.to_json() if self.budget else None
        return document


def measured_parts(result: BenchResult) -> MemoryParts:
    """What the device measured, part by part. The process scope is the measured whole-process peak
    only: a partial one (GPU memory invisible) leaves it unknown rather than summed from parts."""
    memory = result.memory
    process = memory.process_peak
    return MemoryParts(activations_bytes=memory.activations.value_bytes, weights_bytes=memory.weights.value_bytes,
                       process_bytes=None if process.partial else process.value_bytes)


def compare(prediction: Prediction | None, measured: MemoryParts, budget: Budget | None) -> Verdict:
    prediction = prediction or Prediction(note="not requested (--no-predict)")
    ratio = None
    if prediction.activation_bytes and measured.activations_bytes is not None:
        ratio = measured.activations_bytes / prediction.activation_bytes
    return Verdict(
        predicted_activation_bytes=prediction.activation_bytes, predicted_peak_bytes=prediction.peak_bytes,
        predicted_weights_bytes=prediction.weights_bytes, prediction_precision=prediction.precision,
        prediction_note=prediction.note, measured_activation_bytes=measured.activations_bytes, ratio=ratio,
        budget=None if budget is None else budget.check(measured),
    )
