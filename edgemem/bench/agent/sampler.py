"""Sampling a measuring child's /proc status, nvmap and MemAvailable into a JSON-lines file.

Each sample is written as it is taken (a killed agent leaves them all behind) and folded into a
SampleSummary; salvage folds the same lines again when the sampler's process is gone.
"""

import json
import threading
import time

from .common import read_json_lines
from .procs import kill_group
from .sysinfo import NvmapReader, meminfo, proc_status


class SampleSummary(object):
    """Peaks and lows over the samples of one stage."""

    def __init__(self):
        self.samples = 0
        self.peak_rss_bytes = None
        self.last_hwm_bytes = None
        self.peak_nvmap_bytes = None
        self.peak_nvmap_system_bytes = None  # NvMapMemUsed (/proc/meminfo): every process's GPU memory
        self.nvmap_method = None
        self.peak_footprint_bytes = None
        self.min_available_bytes = None

    def add(self, record):
        rss = record.get("rss") or 0
        gpu = record.get("nvmap")
        self.samples += 1
        self.peak_rss_bytes = max(self.peak_rss_bytes or 0, rss)
        self.last_hwm_bytes = record.get("hwm") or self.last_hwm_bytes
        if gpu is not None:
            self.peak_nvmap_bytes = max(self.peak_nvmap_bytes or 0, gpu)
        if record.get("nvmap_sys") is not None:
            self.peak_nvmap_system_bytes = max(self.peak_nvmap_system_bytes or 0, record["nvmap_sys"])
        self.nvmap_method = record.get("nvmap_via") or self.nvmap_method
        self.peak_footprint_bytes = max(self.peak_footprint_bytes or 0, rss + (gpu or 0))
        available = record.get("avail")
        if available is not None:
            self.min_available_bytes = min(self.min_available_bytes or available, available)
        return rss + (gpu or 0)

    def document(self):
        return {"sampled_peak_rss_bytes": self.peak_rss_bytes, "sampled_peak_nvmap_bytes": self.peak_nvmap_bytes,
                "sampled_peak_nvmap_system_bytes": self.peak_nvmap_system_bytes, "nvmap_method": self.nvmap_method,
                "sampled_peak_footprint_bytes": self.peak_footprint_bytes,
                "last_sampled_hwm_bytes": self.last_hwm_bytes, "min_available_bytes": self.min_available_bytes,
                "samples": self.samples}


def summarize_file(path, stage):
    summary = SampleSummary()
    for record in read_json_lines(path):
        if record.get("stage") == stage:
            summary.add(record)
    return summary


class Sampler(threading.Thread):
    """Samples one child every interval; kills its group above the memory limit (RSS + nvmap).

    A write that fails (full disk) stops the writing, not the sampling, and is reported once
    through ``on_write_error``.
    """

    def __init__(self, pid, stage, interval_s, path, limit_bytes=None, on_write_error=None):
        threading.Thread.__init__(self)
        self.daemon = True
        self.pid = pid
        self.stage = stage
        self.interval_s = interval_s
        self.path = path
        self.limit_bytes = limit_bytes
        self.on_write_error = on_write_error
        self.stop_event = threading.Event()
        self.summary = SampleSummary()
        self.killed_for_memory = None
        self.nvmap = NvmapReader()
        self.started = time.monotonic()

    def run(self):
        out = self.open()
        while not self.stop_event.is_set():
            out = self.sample_once(out)
            self.stop_event.wait(self.interval_s)
        if out is not None:
            out.close()

    def open(self):
        try:
            return open(self.path, "a")
        except (IOError, OSError) as exc:
            self.report(exc)
            return None

    def report(self, exc):
        if self.on_write_error is not None:
            self.on_write_error(exc)

    def sample_once(self, out):
        status = proc_status(self.pid)
        if status is None:
            return out
        nvmap = self.nvmap.read()
        memory = meminfo()
        record = {"t_s": round(time.monotonic() - self.started, 4), "stage": self.stage, "rss": status["rss_bytes"] or 0,
                  "hwm": status["hwm_bytes"], "avail": memory["available_bytes"],
                  "nvmap": nvmap.get(self.pid, 0) if nvmap is not None else None, "nvmap_sys": memory["nvmap_used_bytes"]}
        if nvmap is not None:
            record["nvmap_via"] = self.nvmap.method
        footprint = self.summary.add(record)
        if self.limit_bytes and footprint > self.limit_bytes and self.killed_for_memory is None:
            self.killed_for_memory = footprint
            kill_group(self.pid)
        if out is None:
            return None
        try:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            out.flush()
        except (IOError, OSError) as exc:
            self.report(exc)
            try:
                out.close()
            except (IOError, OSError):
                pass
            return None
        return out

    def stop(self):
        self.stop_event.set()
        self.join(5)
