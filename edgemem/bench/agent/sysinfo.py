"""What /proc and nvmap say about memory: per process (VmRSS, VmHWM) and system-wide."""

import re

from .common import read_text

NVMAP_CLIENTS = "/sys/kernel/debug/nvmap/iovmm/clients"
NVMAP_ROW = re.compile(r"^\s*user\s+(\S+)\s+(\d+)\s+(\d+)([KMG]?)\s*$")
NVMAP_FACTOR = {"": 1, "K": 1024, "M": 1 << 20, "G": 1 << 30}


def kib_field(text, name):
    match = re.search(r"^%s:\s+(\d+)\s*kB" % re.escape(name), text or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def proc_status(pid):
    """VmRSS, VmHWM and RssFile in bytes of ``pid`` ("self" for this process); None when gone."""
    text = read_text("/proc/%s/status" % pid)
    if text is None:
        return None
    return {"rss_bytes": kib_field(text, "VmRSS"), "hwm_bytes": kib_field(text, "VmHWM"),
            "rss_file_bytes": kib_field(text, "RssFile")}


def meminfo():
    text = read_text("/proc/meminfo")
    return {
        "total_bytes": kib_field(text, "MemTotal"),
        "available_bytes": kib_field(text, "MemAvailable"),
        "swap_total_bytes": kib_field(text, "SwapTotal"),
        "swap_free_bytes": kib_field(text, "SwapFree"),
        "nvmap_used_bytes": kib_field(text, "NvMapMemUsed"),
    }


def nvmap_by_pid():
    """Per-process GPU (nvmap) memory in bytes; None where debugfs is not readable (non-root)."""
    text = read_text(NVMAP_CLIENTS, 1 << 20)
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
