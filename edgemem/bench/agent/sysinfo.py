"""What /proc and nvmap say about memory: per process (VmRSS, VmHWM) and system-wide."""

import os
import re
import time

from .common import read_text
from .procs import run_quiet

NVMAP_CLIENTS = "/sys/kernel/debug/nvmap/iovmm/clients"
NVMAP_ROW = re.compile(r"^\s*user\s+(\S+)\s+(\d+)\s+(\d+)([KMG]?)\s*$")
NVMAP_FACTOR = {"": 1, "K": 1024, "M": 1 << 20, "G": 1 << 30}


def kib_field(text, name):
    match = re.search(r"^%s:\s+(\d+)\s*kB" % re.escape(name), text or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def proc_status(pid):
    """VmRSS, VmHWM, RssFile and RssAnon in bytes of ``pid`` ("self" for this process); None when gone."""
    text = read_text("/proc/%s/status" % pid)
    if text is None:
        return None
    return {"rss_bytes": kib_field(text, "VmRSS"), "hwm_bytes": kib_field(text, "VmHWM"),
            "rss_file_bytes": kib_field(text, "RssFile"), "rss_anon_bytes": kib_field(text, "RssAnon")}


def meminfo():
    text = read_text("/proc/meminfo")
    return {
        "total_bytes": kib_field(text, "MemTotal"),
        "available_bytes": kib_field(text, "MemAvailable"),
        "swap_total_bytes": kib_field(text, "SwapTotal"),
        "swap_free_bytes": kib_field(text, "SwapFree"),
        "nvmap_used_bytes": kib_field(text, "NvMapMemUsed"),
    }


def nvmap_by_pid(text=None):
    """Per-process GPU (nvmap) memory in bytes; None where debugfs is not readable (non-root)."""
    text = read_text(NVMAP_CLIENTS, 1 << 20) if text is None else text
    if text is None:
        return None
    sizes = {}
    for line in text.splitlines():
        match = NVMAP_ROW.match(line)
        if match:
            sizes[int(match.group(2))] = int(match.group(3)) * NVMAP_FACTOR[match.group(4)]
    return sizes


def nvmap_readable():
    return read_text(NVMAP_CLIENTS, 16) is not None


class NvmapReader(object):
    """nvmap's per-process table: read directly where debugfs is readable (root), else through
    ``sudo -n cat`` where sudo allows it without a password (at most every ``sudo_interval_s``,
    a process start being too dear for every 20 ms sample), else None (not visible)."""

    def __init__(self, sudo_interval_s=0.2):
        self.sudo_interval_s = sudo_interval_s
        self.method = None  # "debugfs", "sudo -n" or "unavailable", decided at the first read
        self.last = (0.0, None)

    def decide(self):
        if read_text(NVMAP_CLIENTS, 16) is not None:
            return "debugfs"
        if os.path.exists("/sys/kernel/debug") and run_quiet(["sudo", "-n", "cat", NVMAP_CLIENTS], 5)[0] == 0:
            return "sudo -n"
        return "unavailable"

    def read(self):
        if self.method is None:
            self.method = self.decide()
        if self.method == "debugfs":
            return nvmap_by_pid()
        if self.method != "sudo -n":
            return None
        when, sizes = self.last
        if time.monotonic() - when >= self.sudo_interval_s:
            code, out = run_quiet(["sudo", "-n", "cat", NVMAP_CLIENTS], 5)
            sizes = nvmap_by_pid(out) if code == 0 else None
            self.last = (time.monotonic(), sizes)
        return sizes
