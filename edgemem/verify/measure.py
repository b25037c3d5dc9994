"""How much memory one fresh measuring process used, part by part, from its phase records.

The bench agent's worker for the runtime (edgemem/bench/agent/worker_<runtime>.py) records the
kernel's accounting of itself (``/proc/self/status``: VmRSS, VmHWM, RssAnon, RssFile) at phase
boundaries: runtime imported, session created, inputs ready, peak reset, measured. Before the
first run it resets its high-water mark (``/proc/self/clear_refs`` = 5, Linux 4.0+), so ``VmHWM``
afterwards is the exact peak of the runs, however short the peak was. From those records
``breakdown`` makes the parts, each with the source it came from:

* runtime baseline: VmRSS once the runtime is imported (kernel, phase boundary);
* weights: the initializer bytes of the model (static, from the file), never a difference of
  two samples;
* session overhead: RSS growth while the session is created, minus the weights (library code
  paged in, kernel objects, repacked weights); never below zero;
* activations: VmHWM over the runs minus RSS when the peak was reset, minus file-backed pages
  the runs touched for the first time (library code, not data); kernel high-water mark;
* I/O buffers: RSS growth while the caller makes its input arrays (their bytes and what making them
  costs, e.g. numpy's random state); outputs live in the runtime's memory, in the activations.
"""

from __future__ import annotations

SOURCES = {
    "hwm": "kernel high-water mark (VmHWM, reset before the first run)",
    "phase": "kernel accounting at a phase boundary (/proc/self/status)",
    "static": "static: from the model file",
    "runtime": "reported by the runtime",
}
# the environment verify gives the measuring process: glibc's mmap threshold fixed at 128 KiB.
# glibc raises its threshold whenever a large mmapped block is freed (loading a model does that),
# after which the runtime's arena regions come from heap pages that may already be resident: the
# same run then shows a different RSS depending on what ran before. Fixed, every large allocation
# is fresh pages, so RSS growth is the memory touched.
WORKER_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def part(value: int | None, source: str, note: str | None = None) -> dict:
    """One measured part; below zero it is shown as 0 and the note says what was measured."""
    found = {"bytes": None if value is None else max(0, int(value)), "source": source}
    if note:
        found["note"] = note
    if value is not None and value < 0:
        found["note"] = (note + "; " if note else "") + f"measured {value} bytes, shown as 0"
    return found


def minus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else a - b


def activations_part(ready: dict | None, measured: dict | None, hwm_reset: bool) -> dict:
    """Peak growth over the runs, high-water mark when it could be reset, else anon growth."""
    if ready is None or measured is None:
        return part(None, "unknown: the runs did not finish")
    code = max(0, minus(measured.get("rss_file_bytes"), ready.get("rss_file_bytes")) or 0)
    if hwm_reset and measured.get("hwm_bytes") is not None:
        peak = minus(measured.get("hwm_bytes"), ready.get("rss_bytes"))
        return part(None if peak is None else peak - code, SOURCES["hwm"],
                    f"VmHWM minus VmRSS at the reset, minus {code} bytes of library code first touched by the runs")
    return part(minus(measured.get("rss_anon_bytes"), ready.get("rss_anon_bytes")), SOURCES["phase"],
                "RssAnon growth over the runs: /proc/self/clear_refs is not writable here, a transient peak may be missed")


def breakdown(phases: list[dict], weights_bytes: int | None, input_bytes: int | None, hwm_reset: bool) -> dict:
    """Parts of one fresh process from its phase records (dict name -> part)."""
    by_name = {p.get("phase"): p for p in phases}
    imported, loaded = by_name.get("runtime_imported") or {}, by_name.get("loaded") or {}
    ready, measured = by_name.get("peak_reset") or by_name.get("inputs_ready"), by_name.get("measured")
    session = minus(loaded.get("rss_bytes"), imported.get("rss_bytes"))
    return {
        "runtime_baseline": part(imported.get("rss_bytes"), SOURCES["phase"], "VmRSS after importing the runtime"),
        "weights": part(weights_bytes, SOURCES["static"], "initializer bytes"),
        "session_overhead": part(minus(session, weights_bytes), SOURCES["phase"],
                                 "VmRSS growth while creating the session, minus the weights"),
        "activations": activations_part(ready, measured, hwm_reset),
        "io_buffers": part(minus((by_name.get("inputs_ready") or {}).get("rss_bytes"), loaded.get("rss_bytes")),
                           SOURCES["phase"], f"VmRSS growth while the caller made its inputs ({input_bytes} B of arrays); "
                           "outputs are in the activations"),
        "process_peak": part(max([p.get("hwm_bytes") or 0 for p in phases] or [0]) or None, SOURCES["hwm"],
                             "largest VmHWM of the process (before and after the reset)"),
    }


def summarize(values: list[int | None]) -> dict:
    """Median and spread of one figure over repeated fresh processes (None values are dropped)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return {"median_bytes": None, "min_bytes": None, "max_bytes": None, "spread_bytes": None,
                "spread_fraction": None, "runs": len(values)}
    middle = len(known) // 2
    median = known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) // 2
    spread = known[-1] - known[0]
    return {"median_bytes": median, "min_bytes": known[0], "max_bytes": known[-1], "spread_bytes": spread,
            "spread_fraction": (float(spread) / median) if median else 0.0, "runs": len(values)}
