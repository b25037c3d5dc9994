"""History of stored runs as rows, with the change against the previous run of the same setup.

A "setup" is (host, model content, backend, precision): the median latency and process peak
of each run are compared with the previous run of that setup, so regressions stand out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgemem.budget import BudgetCheck


@dataclass(frozen=True)
class HistoryRow:
    file: str
    started_utc: str | None
    host: str
    board: str | None
    model: str
    model_sha256: str
    backend: str
    precision: str
    status: str
    median_ms: float | None
    p99_ms: float | None
    process_peak_bytes: int | None
    activation_bytes: int | None
    predicted_activation_bytes: int | None
    ratio: float | None
    budget_bytes: int | None
    verdict: str | None  # fits | over | unknown (edgemem.budget.BudgetCheck.verdict)
    median_change_pct: float | None  # against the previous run of the same setup
    peak_change_pct: float | None


def change_pct(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return (now / before - 1.0) * 100.0


LEGACY_VERDICTS = {"pass": "fits", "fail": "over", "unknown": "unknown"}  # results stored before the budget check


def budget_of(verdict: dict) -> tuple[int | None, str | None]:
    """(budget bytes, verdict) of a stored verdict document, old or new."""
    budget = verdict.get("budget")
    if isinstance(budget, dict):
        return budget.get("budget_bytes"), BudgetCheck.from_json(budget).verdict
    return verdict.get("budget_bytes"), LEGACY_VERDICTS.get(verdict.get("verdict"))


def history_rows(reports: list[tuple[Path, dict]], model_sha256: str | None = None, host: str | None = None) -> list[HistoryRow]:
    rows = []
    previous: dict[tuple, HistoryRow] = {}
    for path, document in reports:
        result, verdict = document["result"], document.get("verdict") or {}
        if model_sha256 and result["model"].get("sha256") != model_sha256:
            continue
        if host and result["host"] != host:
            continue
        memory, latency = result.get("memory") or {}, result.get("latency") or {}
        key = (result["host"], result["model"].get("sha256"), result["backend"], result["precision"])
        median = latency.get("median_ms")
        peak = (memory.get("process_peak") or {}).get("value_bytes")
        before = previous.get(key)
        row = HistoryRow(
            file=path.name, started_utc=result.get("started_utc"), host=result["host"],
            board=(result.get("device") or {}).get("board"), model=result["model"]["name"],
            model_sha256=result["model"].get("sha256", ""), backend=result["backend"], precision=result["precision"],
            status=result["status"], median_ms=median, p99_ms=latency.get("p99_ms"), process_peak_bytes=peak,
            activation_bytes=(memory.get("activations") or {}).get("value_bytes"),
            predicted_activation_bytes=verdict.get("predicted_activation_bytes"), ratio=verdict.get("ratio"),
            budget_bytes=budget_of(verdict)[0], verdict=budget_of(verdict)[1],
            median_change_pct=change_pct(median, before.median_ms) if before else None,
            peak_change_pct=change_pct(peak, before.process_peak_bytes) if before else None,
        )
        if result["status"] == "ok":
            previous[key] = row
        rows.append(row)
    return rows
