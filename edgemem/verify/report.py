"""VerifyReport: the prediction, the measurement, the comparison and the one verdict.

Frozen dataclasses, standard library only; ``to_json`` is the ``--json`` document (schema
``edgemem.verify_report/1``) and what the HTML report is drawn from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from edgemem.budget import BudgetCheck
from edgemem.errors import ExitCode
from edgemem.memory.runtime.prediction import RuntimePrediction
from edgemem.units import format_bytes
from edgemem.verify.compare import PartComparison

SCHEMA = "edgemem.verify_report/1"
VERDICTS = ("fits", "over", "partial", "unknown")


@dataclass(frozen=True)
class Verdict:
    """The one answer: ``fits`` only when the device measured everything and it fits."""

    status: str  # one of VERDICTS
    reason: str  # one line

    @property
    def exit_code(self) -> int:
        return ExitCode.OK if self.status == "fits" else ExitCode.OVER_BUDGET


@dataclass(frozen=True)
class Measurement:
    repeats: int
    summary: dict  # part -> median, spread, min, max, runs, source
    latencies_ms: tuple[float, ...]
    trace: tuple[tuple[float, int | None, int | None], ...]  # one process: (s, rss, anon)
    facts: dict = field(default_factory=dict)  # runtime version, hwm reset, device
    partial: bool = False  # something the budget needs is not in what was measured (GPU memory on Jetson)
    partial_reason: str | None = None


@dataclass(frozen=True)
class VerifyReport:
    model: str
    path: str
    host: str
    backend: str
    theoretical_bytes: int  # edgemem's own arena for the stored order
    prediction: RuntimePrediction
    measurement: Measurement | None  # None when verify stopped before measuring (the verdict says why)
    comparisons: tuple[PartComparison, ...]
    predicted_check: BudgetCheck
    measured_check: BudgetCheck | None
    verdict: Verdict
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict:
        prediction = self.prediction
        return {
            "schema": SCHEMA, "model": self.model, "path": self.path, "host": self.host, "backend": self.backend,
            "theoretical_bytes": self.theoretical_bytes,
            "prediction": {"parts": [asdict(p) for p in prediction.parts], "settings": [asdict(s) for s in prediction.settings],
                           "order_source": prediction.order_source, "order": list(prediction.order),
                           "peak_bytes": prediction.peak_bytes, "run_bytes": prediction.run_bytes,
                           "details": prediction.details, "notes": list(prediction.notes)},
            "measurement": None if self.measurement is None else {
                "repeats": self.measurement.repeats, "parts": self.measurement.summary,
                "latencies_ms": list(self.measurement.latencies_ms), "trace": [list(t) for t in self.measurement.trace],
                "facts": self.measurement.facts, "partial": self.measurement.partial,
                "partial_reason": self.measurement.partial_reason},
            "comparison": [asdict(c) for c in self.comparisons],
            "budget": {"predicted": self.predicted_check.to_json(),
                       "measured": None if self.measured_check is None else self.measured_check.to_json()},
            "verdict": {"status": self.verdict.status, "reason": self.verdict.reason, "exit_code": int(self.verdict.exit_code)},
            "notes": list(self.notes),
        }


def part_medians(measurement: Measurement | None) -> dict:
    if measurement is None:
        return {}
    return {name: {k: part.get(k) for k in ("median_bytes", "spread_bytes", "source")}
            for name, part in measurement.summary.items() if isinstance(part, dict)}


def summary(report: VerifyReport) -> dict:
    """The verdict and what it rests on, for another command's report (``distill --verify-on``)."""
    return {"schema": SCHEMA, "model": report.path, "host": report.host, "backend": report.backend,
            "verdict": {"status": report.verdict.status, "reason": report.verdict.reason,
                        "exit_code": int(report.verdict.exit_code)},
            "budget": {"predicted": report.predicted_check.to_json(),
                       "measured": None if report.measured_check is None else report.measured_check.to_json()},
            "predicted": {"run_bytes": report.prediction.run_bytes, "peak_bytes": report.prediction.peak_bytes},
            "measured": part_medians(report.measurement),
            "repeats": report.measurement.repeats if report.measurement is not None else 0}


def decide(measured: BudgetCheck | None, predicted: BudgetCheck, measurement: Measurement | None) -> Verdict:
    """fits / over from the device; partial (never a pass) when part of the memory was not seen."""
    if measurement is None or measured is None:
        return Verdict("unknown", "nothing was measured")
    if measurement.partial:
        required = measured.required_bytes
        why = measurement.partial_reason or "part of the process's memory was not measured"
        if measured.fits is False:
            return Verdict("over", f"over budget already without {why}")
        return Verdict("partial", f"not a pass: {why} (what was measured, {format_bytes(required)}, is within the budget)")
    if measured.fits is None:
        return Verdict("unknown", f"the {measured.scope.value} figure was not measured")
    if measured.fits:
        agree = "as predicted" if predicted.fits else "although the prediction said over"
        return Verdict("fits", f"measured {format_bytes(measured.required_bytes)} of {format_bytes(measured.budget_bytes)} "
                               f"({measured.scope.value}), {agree}")
    return Verdict("over", f"measured {format_bytes(measured.required_bytes)}, {format_bytes(measured.shortfall_bytes)} over "
                           f"the {format_bytes(measured.budget_bytes)} budget ({measured.scope.value})")
