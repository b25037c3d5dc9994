"""Prediction next to measurement: the comparison record both the CLI and output use.

Plain ints in, a frozen record out; standard library only (bench never imports memory: the
CLI runs the analyzer and passes its numbers here). The budget is checked against one
measured quantity, named in the record:

    process      the fresh load-and-run process's whole peak (runtime + weights + activations)
    model        weights + activations (what the model adds to an already-running runtime)
    activations  the activation part only (what the analyzer predicts)
    auto         process when measured, else model
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

BUDGET_METRICS = ("auto", "process", "model", "activations")


@dataclass(frozen=True)
class Verdict:
    predicted_activation_bytes: int | None  # analyzer's planned arena (best order)
    predicted_peak_bytes: int | None  # analyzer's live-set peak (best order)
    predicted_weights_bytes: int | None
    prediction_precision: str | None
    prediction_note: str | None  # why there is no prediction, when there is none
    measured_activation_bytes: int | None
    ratio: float | None  # measured activations / predicted arena
    budget_bytes: int | None
    budget_metric: str | None  # the metric actually used
    budget_measured_bytes: int | None
    verdict: str | None  # "pass" | "fail" | "unknown"; None without a budget
    headroom_bytes: int | None  # budget - measured (negative when over)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def over_budget(self) -> bool:
        return self.verdict == "fail"


def budget_value(metric: str, process_bytes: int | None, weights_bytes: int | None,
                 activation_bytes: int | None) -> tuple[str, int | None]:
    """(metric used, bytes) for a requested metric; None bytes when it was not measured."""
    model = weights_bytes + activation_bytes if weights_bytes is not None and activation_bytes is not None else None
    if metric == "auto":
        return ("process", process_bytes) if process_bytes is not None else ("model", model)
    return metric, {"process": process_bytes, "model": model, "activations": activation_bytes}[metric]


def compare(*, predicted_activation_bytes: int | None, predicted_peak_bytes: int | None = None,
            predicted_weights_bytes: int | None = None, prediction_precision: str | None = None,
            prediction_note: str | None = None, process_bytes: int | None, weights_bytes: int | None,
            activation_bytes: int | None, budget_bytes: int | None, budget_metric: str = "auto") -> Verdict:
    if budget_metric not in BUDGET_METRICS:
        raise ValueError(f"unknown budget metric {budget_metric!r}")
    ratio = None
    if predicted_activation_bytes and activation_bytes is not None:
        ratio = activation_bytes / predicted_activation_bytes
    used, measured, verdict, headroom = None, None, None, None
    if budget_bytes is not None:
        used, measured = budget_value(budget_metric, process_bytes, weights_bytes, activation_bytes)
        if measured is None:
            verdict = "unknown"
        else:
            verdict = "pass" if measured <= budget_bytes else "fail"
            headroom = budget_bytes - measured
    return Verdict(
        predicted_activation_bytes=predicted_activation_bytes,
        predicted_peak_bytes=predicted_peak_bytes,
        predicted_weights_bytes=predicted_weights_bytes,
        prediction_precision=prediction_precision,
        prediction_note=prediction_note,
        measured_activation_bytes=activation_bytes,
        ratio=ratio,
        budget_bytes=budget_bytes,
        budget_metric=used,
        budget_measured_bytes=measured,
        verdict=verdict,
        headroom_bytes=headroom,
    )
