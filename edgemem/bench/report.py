"""The result/verdict layer between the bench library and the output: one DeviceReport per device
(its result, the prediction next to the measurement, the budget verdict, where it was saved), a
FleetReport for the run. The CLI renders these and takes its exit code from them.

``--budget`` hops (bench): cli/bench parses it into a ``Budget`` -> ``report_devices`` ->
``verdict.compare`` -> ``edgemem.budget.check_budget`` on the measured parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgemem.bench.result import BenchResult
from edgemem.bench.store import REPORT_SCHEMA, save_report
from edgemem.bench.verdict import Prediction, Verdict, compare, measured_parts
from edgemem.budget import Budget

FLEET_SCHEMA = "edgemem.bench_fleet/1"


@dataclass(frozen=True)
class DevicePlan:
    """What one device is judged against when devices differ (an inventory device's own profile)."""

    budget: Budget | None
    profile: str | None
    prediction: Prediction | None = None


@dataclass(frozen=True)
class DeviceReport:
    name: str
    result: BenchResult | None  # None when the run produced nothing (unreachable host, refused key ...)
    verdict: Verdict | None
    error: str | None  # one line, when there is no result
    profile: str | None = None
    saved_to: str | None = None

    @property
    def failed(self) -> bool:
        return self.result is None or not self.result.ok

    @property
    def over_budget(self) -> bool:
        return self.verdict is not None and self.verdict.over_budget

    def document(self) -> dict | None:
        """The stored ``edgemem.bench_report/1`` document (None without a result)."""
        if self.result is None:
            return None
        return {"schema": REPORT_SCHEMA, "profile": self.profile, "result": self.result.to_json(),
                "verdict": self.verdict.to_json() if self.verdict else None}


@dataclass(frozen=True)
class FleetReport:
    devices: tuple[DeviceReport, ...]
    fleet: bool  # several devices (or an inventory): one table

    @property
    def failed(self) -> tuple[DeviceReport, ...]:
        return tuple(d for d in self.devices if d.failed)

    @property
    def over_budget(self) -> bool:
        return any(d.over_budget for d in self.devices)

    def to_json(self) -> dict:
        if not self.fleet:
            device = self.devices[0]
            return {**(device.document() or {}), "saved_to": device.saved_to}
        return {"schema": FLEET_SCHEMA, "devices": [{"name": d.name, "error": d.error, "saved_to": d.saved_to,
                                                     "report": d.document()} for d in self.devices]}


def report_devices(outcomes: list, prediction: Prediction | None, budget: Budget | None,
                   profile: str | None, results_dir: Path | None, fleet: bool,
                   plans: dict[str, DevicePlan] | None = None) -> FleetReport:
    """Join each device's measurement (``bench.fleet.FleetOutcome``: entry, result, error) with the
    prediction and the budget (``plans``: per device name, when devices differ); store each result
    that exists. Imports nothing that runs a device, so the output layer can render these records."""
    devices = []
    for outcome in outcomes:
        if plans is not None:
            plan = plans[outcome.entry.name]
            prediction, budget, profile = plan.prediction, plan.budget, plan.profile
        verdict = None if outcome.result is None else compare(prediction, measured_parts(outcome.result), budget)
        device = DeviceReport(outcome.entry.name, outcome.result, verdict, outcome.error, profile)
        if results_dir is not None and device.result is not None:
            device = DeviceReport(device.name, device.result, verdict, device.error, profile,
                                  str(save_report(results_dir, device.document())))
        devices.append(device)
    return FleetReport(tuple(devices), fleet)
