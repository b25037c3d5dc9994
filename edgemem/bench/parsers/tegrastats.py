"""tegrastats lines (Nano to Thor, JetPack 4 to 7) -> TegraSample, and a run summary.

The idea: every field is optional and found by its own pattern anywhere in the line (boards
and JetPack versions add, drop and reorder fields). Temperatures (``name@43.5C``) and power
rails (``NAME cur/avg[/max]`` with or without ``mW``) live in separate namespaces because
names clash (``GPU@30.5C`` and ``GPU 463/463`` on one AGX Xavier line); repeated rail names
get a ``#2`` suffix; ``-256C`` means the sensor is absent. tegrastats' MB are MiB.
Formats: shared/reference/device-formats.md a2 (rbonghi/jetson_stats tegra_parse.py, samples).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from edgemem.bench.parsers.common import MIB

DATE = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2}) ")
RAM = re.compile(r"\bRAM (\d+)/(\d+)([kMG])B(?: ?\(lfb (\d+)x(\d+)([kMG])B\))?")
SWAP = re.compile(r"\bSWAP (\d+)/(\d+)([kMG])B(?: ?\(cached (\d+)([kMG])B\))?")
CPU = re.compile(r"\bCPU \[([^\]]*)\]")
CPU_CORE = re.compile(r"^(\d+)%(?:@(\d+))?$")
GR3D = re.compile(r"\bGR3D_FREQ (?:(\d+)%)?(?:@(?:\[([\d,]*)\]|(\d+)))?")
EMC = re.compile(r"\bEMC_FREQ (\d+)%(?:@(\d+))?")
TEMP = re.compile(r"\b([A-Za-z][A-Za-z0-9_]*)@(-?\d+(?:\.\d+)?)C\b")
POWER = re.compile(r"\b([A-Z][A-Z0-9_]*) (\d+)(?:mW)?/(\d+)(?:mW)?(?:/(\d+)(?:mW)?)?(?=\s|$)")
UNIT = {"k": 1024, "M": MIB, "G": 1 << 30}
NOT_RAILS = {"RAM", "SWAP", "IRAM"}
# The rail that is the board's total input power, by board family (jetson_stats#51 for the Xavier sum).
TOTAL_RAILS = ("VIN_SYS_5V0", "VDD_IN", "POM_5V_IN")
XAVIER_JP4_RAILS = ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V")
ABSENT_SENSOR_C = -256.0


@dataclass(frozen=True)
class TegraSample:
    timestamp: str | None
    ram_used_bytes: int | None
    ram_total_bytes: int | None
    lfb_blocks: int | None  # largest free block count (fragmentation hint)
    lfb_block_bytes: int | None
    swap_used_bytes: int | None
    swap_total_bytes: int | None
    swap_cached_bytes: int | None
    cpus: tuple  # per core: (load %, MHz or None) or None when the core is off
    emc_pct: int | None
    emc_mhz: int | None
    gpu_pct: int | None
    gpu_mhz: tuple[int, ...]
    temps_c: dict  # sensor -> degrees C (absent sensors dropped)
    power_mw: dict  # rail -> (current, average[, max]) mW

    @property
    def total_power_mw(self) -> int | None:
        """Board input power: the total rail, or the AGX Xavier JP4 rail sum."""
        for rail in TOTAL_RAILS:
            if rail in self.power_mw:
                return self.power_mw[rail][0]
        if all(r in self.power_mw for r in XAVIER_JP4_RAILS):
            return sum(self.power_mw[r][0] for r in XAVIER_JP4_RAILS)
        return None


def parse_tegrastats_line(line: str) -> TegraSample | None:
    """One line -> TegraSample; None for a line without a RAM field (not tegrastats output)."""
    ram = RAM.search(line)
    if not ram:
        return None
    date = DATE.match(line)
    swap = SWAP.search(line)
    emc = EMC.search(line)
    gpu = GR3D.search(line)
    return TegraSample(
        timestamp=date.group(1) if date else None,
        ram_used_bytes=int(ram.group(1)) * UNIT[ram.group(3)],
        ram_total_bytes=int(ram.group(2)) * UNIT[ram.group(3)],
        lfb_blocks=int(ram.group(4)) if ram.group(4) else None,
        lfb_block_bytes=int(ram.group(5)) * UNIT[ram.group(6)] if ram.group(4) else None,
        swap_used_bytes=int(swap.group(1)) * UNIT[swap.group(3)] if swap else None,
        swap_total_bytes=int(swap.group(2)) * UNIT[swap.group(3)] if swap else None,
        swap_cached_bytes=int(swap.group(4)) * UNIT[swap.group(5)] if swap and swap.group(4) else None,
        cpus=parse_cpus(line),
        emc_pct=int(emc.group(1)) if emc else None,
        emc_mhz=int(emc.group(2)) if emc and emc.group(2) else None,
        gpu_pct=int(gpu.group(1)) if gpu and gpu.group(1) else None,
        gpu_mhz=gpu_clocks(gpu),
        temps_c={name: float(value) for name, value in TEMP.findall(line) if float(value) != ABSENT_SENSOR_C},
        power_mw=parse_power(line),
    )


def parse_cpus(line: str) -> tuple:
    match = CPU.search(line)
    if not match:
        return ()
    cores = []
    for item in match.group(1).split(","):
        item = item.strip()
        core = CPU_CORE.match(item)
        cores.append((int(core.group(1)), int(core.group(2)) if core.group(2) else None) if core else None)
    return tuple(cores)


def gpu_clocks(match) -> tuple[int, ...]:
    if not match:
        return ()
    if match.group(2) is not None:
        return tuple(int(x) for x in match.group(2).split(",") if x)
    return (int(match.group(3)),) if match.group(3) else ()


def parse_power(line: str) -> dict:
    rails: dict = {}
    for name, cur, avg, peak in POWER.findall(line):
        if name in NOT_RAILS:
            continue
        key, n = name, 2
        while key in rails:
            key, n = f"{name}#{n}", n + 1
        rails[key] = (int(cur), int(avg)) + ((int(peak),) if peak else ())
    return rails


@dataclass(frozen=True)
class TegraSummary:
    """What a run's tegrastats log says, for the result's conditions."""

    samples: int
    ram_used_first_bytes: int | None
    ram_used_peak_bytes: int | None
    ram_total_bytes: int | None
    gpu_pct_max: int | None
    gpu_mhz_max: int | None
    temp_max_c: dict
    power_mean_mw: float | None
    swap_used_peak_bytes: int | None

    @property
    def ram_peak_delta_bytes(self) -> int | None:
        if self.ram_used_peak_bytes is None or self.ram_used_first_bytes is None:
            return None
        return self.ram_used_peak_bytes - self.ram_used_first_bytes


def summarize_tegrastats(text: str) -> TegraSummary:
    samples = [s for s in (parse_tegrastats_line(line) for line in text.splitlines()) if s is not None]
    temps: dict = {}
    for sample in samples:
        for name, value in sample.temps_c.items():
            temps[name] = max(temps.get(name, value), value)
    power = [s.total_power_mw for s in samples if s.total_power_mw is not None]
    gpu_pct = [s.gpu_pct for s in samples if s.gpu_pct is not None]
    gpu_mhz = [max(s.gpu_mhz) for s in samples if s.gpu_mhz]
    swap = [s.swap_used_bytes for s in samples if s.swap_used_bytes is not None]
    return TegraSummary(
        samples=len(samples),
        ram_used_first_bytes=samples[0].ram_used_bytes if samples else None,
        ram_used_peak_bytes=max(s.ram_used_bytes for s in samples) if samples else None,
        ram_total_bytes=samples[0].ram_total_bytes if samples else None,
        gpu_pct_max=max(gpu_pct) if gpu_pct else None,
        gpu_mhz_max=max(gpu_mhz) if gpu_mhz else None,
        temp_max_c=temps,
        power_mean_mw=round(statistics.fmean(power), 1) if power else None,
        swap_used_peak_bytes=max(swap) if swap else None,
    )
