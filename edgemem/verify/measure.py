"""How much memory one fresh process uses, part by part. Standard library only, Python 3.6+:
this module runs inside the measuring process on the device, next to the runtime.

The process records the kernel's accounting of itself (``/proc/self/status``) at phase
boundaries: runtime imported, session created, inputs ready, first run done, all runs done.
Before the first run it resets its high-water mark (``/proc/self/clear_refs`` = 5, Linux 4.0+),
so ``VmHWM`` afterwards is the exact peak of the runs, however short the peak was.

From those records ``breakdown`` makes the parts, each with the source it came from:

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

import os
import re
import threading
import time

STATUS_FIELDS = {
    "VmRSS": "rss_bytes", "VmHWM": "hwm_bytes", "RssAnon": "anon_bytes", "RssFile": "file_bytes",
    "RssShmem": "shmem_bytes", "VmSwap": "swap_bytes",
}
SOURCES = {
    "hwm": "kernel high-water mark (VmHWM, reset before the first run)",
    "phase": "kernel accounting at a phase boundary (/proc/self/status)",
    "static": "static: from the model file",
    "runtime": "reported by the runtime",
}


def read_status(pid="self"):
    """VmRSS, VmHWM, RssAnon, RssFile, ... in bytes, and the thread count; {} when unreadable."""
    try:
        with open("/proc/%s/status" % pid) as handle:
            text = handle.read()
    except (IOError, OSError):
        return {}
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in STATUS_FIELDS:
            match = re.match(r"\s*(\d+)\s*kB", value)
            if match:
                found[STATUS_FIELDS[name]] = int(match.group(1)) * 1024
        elif name == "Threads":
            found["threads"] = int(value.strip() or 0)
    return found


def reset_peak():
    """Reset this process's VmHWM to its current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except (IOError, OSError):
        return False


class Recorder(object):
    """Phase records of one process: name, seconds since start, and the status fields."""

    def __init__(self):
        self.started = time.monotonic()
        self.phases = []

    def mark(self, name, **info):
        record = read_status()
        record["phase"] = name
        record["t_s"] = round(time.monotonic() - self.started, 4)
        if info:
            record["info"] = info
        self.phases.append(record)
        return record

    def get(self, name):
        for record in self.phases:
            if record["phase"] == name:
                return record
        return None


def _part(value, source, note=None):
    part = {"bytes": None if value is None else max(0, int(value)), "source": source}
    if note:
        part["note"] = note
    if value is not None and value < 0:
        part["note"] = (note + "; " if note else "") + "measured %d bytes, shown as 0" % value
    return part


def _minus(a, b):
    return None if a is None or b is None else a - b


def activations_part(ready, measured, hwm_reset):
    """Peak growth over the runs, high-water mark when it could be reset, else anon growth."""
    if ready is None or measured is None:
        return _part(None, "unknown: the runs did not finish")
    code = max(0, _minus(measured.get("file_bytes"), ready.get("file_bytes")) or 0)
    if hwm_reset and measured.get("hwm_bytes") is not None:
        peak = _minus(measured.get("hwm_bytes"), ready.get("rss_bytes"))
        return _part(peak - code, SOURCES["hwm"],
                     "VmHWM minus VmRSS at the reset, minus %d bytes of library code first touched by the runs" % code)
    return _part(_minus(measured.get("anon_bytes"), ready.get("anon_bytes")), SOURCES["phase"],
                 "RssAnon growth over the runs: /proc/self/clear_refs is not writable here, a transient peak may be missed")


def breakdown(phases, weights_bytes, input_bytes, hwm_reset):
    """Parts of one fresh process from its phase records (dict name -> part)."""
    by_name = dict((p["phase"], p) for p in phases)
    imported, loaded = by_name.get("runtime_imported"), by_name.get("loaded")
    ready, measured = by_name.get("peak_reset") or by_name.get("inputs_ready"), by_name.get("measured")
    session = _minus((loaded or {}).get("rss_bytes"), (imported or {}).get("rss_bytes"))
    return {
        "runtime_baseline": _part((imported or {}).get("rss_bytes"), SOURCES["phase"], "VmRSS after importing the runtime"),
        "weights": _part(weights_bytes, SOURCES["static"], "initializer bytes"),
        "session_overhead": _part(_minus(session, weights_bytes), SOURCES["phase"],
                                  "VmRSS growth while creating the session, minus the weights"),
        "activations": activations_part(ready, measured, hwm_reset),
        "io_buffers": _part(_minus((by_name.get("inputs_ready") or {}).get("rss_bytes"), (loaded or {}).get("rss_bytes")),
                            SOURCES["phase"], f"VmRSS growth while the caller made its inputs ({input_bytes} B of arrays); "
                            "outputs are in the activations"),
        "process_peak": _part(max([p.get("hwm_bytes") or 0 for p in phases] or [0]) or None, SOURCES["hwm"],
                              "largest VmHWM of the process (before and after the reset)"),
    }


def summarize(values):
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


def child_environment(base=None):
    """The environment the measuring process runs in: glibc's mmap threshold fixed at 128 KiB.

    glibc raises its threshold whenever a large mmapped block is freed (loading a model does
    that), after which the runtime's arena regions come from heap pages that may already be
    resident: the same run then shows a different RSS depending on what ran before. Fixing the
    threshold makes every large allocation fresh pages, so RSS growth is the memory touched."""
    env = dict(os.environ if base is None else base)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    return env


class Sampler(threading.Thread):
    """Samples another process's VmRSS/RssAnon every ``interval_s`` until it ends (the memory trace
    of a run; the exact peak still comes from the process's own VmHWM)."""

    def __init__(self, pid, interval_s=0.01):
        threading.Thread.__init__(self)
        self.daemon = True
        self.pid, self.interval_s = pid, interval_s
        self.samples = []  # (seconds since start, rss_bytes, anon_bytes)
        self.stopped = threading.Event()
        self.started_at = time.monotonic()

    def run(self):
        while not self.stopped.is_set():
            status = read_status(self.pid)
            if status.get("rss_bytes") is None:  # gone (or a zombie with no memory left)
                break
            self.samples.append((round(time.monotonic() - self.started_at, 4), status.get("rss_bytes"),
                                 status.get("anon_bytes")))
            self.stopped.wait(self.interval_s)

    def stop(self):
        self.stopped.set()
        self.join(2)
        return self.samples
