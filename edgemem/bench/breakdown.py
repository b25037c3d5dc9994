"""Split a fresh process's memory into runtime baseline, weights and activations.

The idea: the measuring child reports its own VmRSS/VmHWM at phase boundaries (runtime
imported, model loaded, peak reset, measured). Baseline = RSS once the runtime is imported;
weights = RSS growth across loading; activations = the peak while running minus RSS after
loading. The worker resets VmHWM after loading (``/proc/self/clear_refs``), so that peak is
the inference peak; where the reset is unavailable the parent's sampled RSS peak is used and
labelled as such. The process peak is the exact ``ru_maxrss`` of the child from ``wait4``
(plus the sampled nvmap peak where debugfs is readable: CUDA memory on Jetson is not in RSS).
"""

from __future__ import annotations

from edgemem.bench.result import UNKNOWN, Measured


def phase_map(stage: dict) -> dict[str, dict]:
    return {p.get("phase"): p for p in stage.get("phases") or []}


def diff(a: int | None, b: int | None) -> int | None:
    return a - b if a is not None and b is not None else None


def worker_parts(stage: dict, runtime: str) -> dict[str, Measured]:
    """runtime_baseline / weights / activations / load_peak from a python worker's phases."""
    phases = phase_map(stage)
    imported = (phases.get("runtime_imported") or {}).get("rss_bytes")
    loaded = phases.get("loaded") or {}
    measured = phases.get("measured") or {}
    worker = stage.get("worker") or {}
    reset = worker.get("hwm_reset")
    baseline = Measured(imported, f"VmRSS after importing {runtime}, before loading the model (/proc/self/status of the child)"
                        if imported is not None else UNKNOWN)
    weights = Measured(diff(loaded.get("rss_bytes"), imported), "VmRSS growth across model load / session creation"
                       if loaded and imported is not None else UNKNOWN)
    code_pages = diff(measured.get("rss_file_bytes"), loaded.get("rss_file_bytes"))
    if measured and reset and code_pages is not None:
        activations = Measured(diff(measured.get("hwm_bytes"), loaded.get("rss_bytes")) - max(code_pages, 0),
                               "VmHWM over warm-up and timed runs (reset after load via /proc/self/clear_refs) minus "
                               "VmRSS after load, minus file-backed RSS growth (library code first touched by a run); "
                               "includes inputs, outputs and the runtime's arena")
    elif measured and reset:
        activations = Measured(diff(measured.get("hwm_bytes"), loaded.get("rss_bytes")),
                               "VmHWM over warm-up and timed runs (reset after load via /proc/self/clear_refs) minus "
                               "VmRSS after load; includes inputs, outputs and the runtime's arena")
    elif loaded.get("rss_bytes") is not None and stage.get("sampled_peak_rss_bytes") is not None:
        partial = "" if measured else " (run did not finish: peak so far)"
        activations = Measured(diff(stage["sampled_peak_rss_bytes"], loaded["rss_bytes"]),
                               f"sampled VmRSS peak minus VmRSS after load{partial}")
    else:
        activations = Measured(None, UNKNOWN)
    load_peak = Measured(loaded.get("hwm_bytes"), "VmHWM right after loading (transient peak of the load)") if loaded else None
    return {"runtime_baseline": baseline, "weights": weights, "activations": activations, "load_peak": load_peak}


def process_peak(stage: dict) -> Measured:
    """Exact peak RSS of the child, plus sampled nvmap (GPU) memory where readable.

    The worker resets VmHWM after loading, and the kernel's ru_maxrss follows that reset, so the
    peak is the largest of ru_maxrss, every VmHWM the worker reported and the sampled VmRSS.
    """
    hwms = [p["hwm_bytes"] for p in stage.get("phases") or [] if p.get("hwm_bytes") is not None]
    candidates = [v for v in [stage.get("peak_rss_bytes"), stage.get("sampled_peak_rss_bytes"), *hwms] if v is not None]
    if not candidates:
        return Measured(None, UNKNOWN)
    rss = max(candidates)
    if hwms:
        method = "largest VmHWM of the fresh child (before and after the post-load reset; exact peak RSS)"
    elif stage.get("peak_rss_bytes") is not None:
        method = "getrusage(wait4).ru_maxrss of the fresh child (exact peak RSS)"
    else:
        method = "sampled VmRSS peak"
    nvmap = stage.get("sampled_peak_nvmap_bytes")
    if nvmap is not None:
        return Measured(rss + nvmap, method + " + sampled nvmap peak (iovmm clients, root)")
    return Measured(rss, method)


def system_delta(raw: dict, stage: dict) -> Measured:
    baseline = ((raw.get("system") or {}).get("baseline") or {}).get("available_bytes_median")
    low = stage.get("min_available_bytes")
    if baseline is None or low is None:
        return Measured(None, UNKNOWN)
    if low > baseline:  # memory was freed elsewhere while we ran: no measure of this run
        return Measured(None, f"not measured: MemAvailable never fell below its idle median while running (it rose by "
                              f"{low - baseline} bytes: other processes freed memory); a negative delta is not memory")
    return Measured(baseline - low, "idle MemAvailable (median) minus lowest MemAvailable while running; "
                                    "system-wide, includes other processes and page cache")
