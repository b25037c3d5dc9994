"""Latency statistics with one percentile rule everywhere: trtexec's.

The idea: sort ascending; for percentile p drop ``int((1 - p/100) * N)`` values from the top and
take the largest remaining one (index ``max(N - 1 - exclude, 0)``); the median is the mean of the
two middle values for even N. Matching trtexec lets a TensorRT run and an ONNX Runtime run be
read side by side. CV is the population standard deviation over the mean, in percent.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

PERCENTILES = (90.0, 95.0, 99.0)


def percentile(sorted_values: list[float], p: float) -> float:
    """trtexec's percentile of an ascending list (inf when empty, as trtexec prints)."""
    n = len(sorted_values)
    if n == 0:
        return math.inf
    exclude = int((1.0 - p / 100.0) * n)
    return sorted_values[max(n - 1 - exclude, 0)]


def median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    if n == 0:
        return math.inf
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


@dataclass(frozen=True)
class LatencyStats:
    """Latency of the timed runs in ms; ``source`` says how each run was timed."""

    source: str
    runs: int | None
    min_ms: float
    mean_ms: float
    median_ms: float
    p90_ms: float | None  # None where the source did not report it (trtexec <= 8.4 prints only p99)
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float
    cv_pct: float | None
    warmup_runs: int | None = None
    throughput_qps: float | None = None
    partial: bool = False  # the run was stopped: these are the runs measured before it stopped


def latency_stats(values_ms: list[float], source: str, warmup_runs: int | None = None,
                  partial: bool = False) -> LatencyStats | None:
    """Summary of per-run latencies; None when there are none."""
    if not values_ms:
        return None
    ordered = sorted(float(v) for v in values_ms)
    mean = statistics.fmean(ordered)
    spread = statistics.pstdev(ordered) if len(ordered) > 1 else 0.0
    return LatencyStats(
        source=source,
        runs=len(ordered),
        min_ms=ordered[0],
        mean_ms=mean,
        median_ms=median(ordered),
        p90_ms=percentile(ordered, 90.0),
        p95_ms=percentile(ordered, 95.0),
        p99_ms=percentile(ordered, 99.0),
        max_ms=ordered[-1],
        cv_pct=(spread / mean * 100.0) if mean > 0 else 0.0,
        warmup_runs=warmup_runs,
        throughput_qps=(1000.0 / mean) if mean > 0 else None,
        partial=partial,
    )
