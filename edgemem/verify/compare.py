"""Predicted next to measured, part by part, with a one-line reason for every gap over 10%."""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.memory.runtime.prediction import RuntimePrediction

GAP_LIMIT = 0.10
# measured parts -> the predicted parts they correspond to (the run adds activations and scratch together)
PAIRS = (
    ("runtime_baseline", ("runtime_baseline",)),
    ("weights", ("weights",)),
    ("session_overhead", ("session_overhead",)),
    ("activations", ("activations", "scratch")),
    ("io_buffers", ("io_buffers",)),
)


@dataclass(frozen=True)
class PartComparison:
    part: str
    predicted_bytes: int | None
    predicted_how: str
    measured_median_bytes: int | None
    measured_spread_bytes: int | None
    measured_source: str
    gap: float | None  # (predicted - measured) / measured
    reason: str | None  # one line, for every gap over GAP_LIMIT (and for unknowns)


def relative_gap(predicted: int | None, measured: int | None) -> float | None:
    """(predicted - measured) / measured; None when either is unknown."""
    if predicted is None or measured is None:
        return None
    if measured == 0:
        return 0.0 if predicted == 0 else float("inf")
    return (predicted - measured) / measured


REASONS = {
    "runtime_baseline": "the runtime's import differs from the calibrated or profile figure (other versions or "
                        "libraries on the device than when it was measured)",
    "weights": "the weights are counted from the file on both sides; a gap means the runtime converted them",
    "session_overhead": "session cost per node is a calibrated average over a chain of activations; this model's "
                        "kernels keep {direction} state per node",
    "io_buffers": "the caller's preparation of inputs (numpy's random state) differs from the calibration's",
}


def activation_reason(prediction: RuntimePrediction, gap: float, spread: int | None) -> str:
    if gap < 0:
        extra = ("allocations under glibc's mmap threshold land on heap pages that may already be resident or not, "
                 "and the runtime's first-run memory beyond the calibrated figure")
        threads = next((s.value for s in prediction.settings if s.name == "intra_op_num_threads"), "1")
        if threads != "1":
            extra += f"; with {threads} threads, whether the others touch their stack and malloc arena depends on scheduling"
        return f"measured above the replay: {extra}"
    return ("measured below the replay: small blocks (under 128 KiB) counted as fresh pages were placed on heap "
            "pages already resident")


def reason_for(part: str, prediction: RuntimePrediction, predicted: int | None, measured: int | None,
               gap: float | None, spread: int | None, source: str = "") -> str | None:
    if predicted is None:
        return f"no prediction: {prediction.part(part if part != 'activations' else 'scratch').how}"
    if measured is None:
        return f"not measured: {source.removeprefix('unknown: ')}" if source.startswith("unknown: ") else \
            "not measured (the run did not finish or the device did not report it)"
    if gap is None or abs(gap) <= GAP_LIMIT:
        return None
    if spread is not None and spread > abs(predicted - measured):
        return f"within the spread of the measurements ({spread} B between fresh processes)"
    if part == "activations":
        return activation_reason(prediction, gap, spread)
    return REASONS[part].format(direction="more" if gap < 0 else "less")


def compare(prediction: RuntimePrediction, measured: dict) -> tuple[PartComparison, ...]:
    """``measured`` is ``FreshRuns.summary`` (part -> median, spread, source)."""
    rows = []
    for part, predicted_parts in PAIRS:
        values = [prediction.part(p).bytes for p in predicted_parts]
        predicted = None if None in values else sum(values)
        how = "; ".join(prediction.part(p).how for p in predicted_parts)
        summary = measured.get(part) or {}
        median, spread = summary.get("median_bytes"), summary.get("spread_bytes")
        gap = relative_gap(predicted, median)
        source = summary.get("source", "unknown")
        rows.append(PartComparison(part, predicted, how, median, spread, source, gap,
                                   reason_for(part, prediction, predicted, median, gap, spread, source)))
    return tuple(rows)
