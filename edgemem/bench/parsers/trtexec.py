"""trtexec logs (TensorRT 7 to 11) -> TrtexecLog.

The idea: strip the line envelope (timestamp, severity, ``[TRT]`` in either order, or none),
then match each body against strict patterns for the performance summary (three shapes: the
7.x blocks, the 8.0-8.3 lines with End-to-End, the 8.4+ lines with one or a list of
percentiles), the per-run trace lines, the banner and the memory lines printed by trtexec and
by the TensorRT library. A line that starts like a summary metric but does not match the
strict pattern (cut by a terminal, re-typed) is *rejected* and listed, never half-read.
Formats: shared/reference/device-formats.md a1 (from NVIDIA/TensorRT sampleReporting.cpp).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from edgemem.bench.parsers.common import MIB, NUM, mib_bytes, number

ENVELOPE = re.compile(r"^(?:\[(?P<ts>[0-9/:\-]+)\]\s+)?(?P<tags>(?:\[(?:[VIWEF]|TRT)\]\s*)*)")
METRIC_NAMES = ("Latency", "End-to-End Host Latency", "Enqueue Time", "H2D Latency", "GPU Compute Time", "D2H Latency")
METRIC = re.compile(
    r"^(?P<name>%s): min = (?P<min>%s) ms, max = (?P<max>%s) ms, mean = (?P<mean>%s) ms, "
    r"median = (?P<median>%s) ms(?P<pcts>(?:, percentile\((?:%s)%%\) = (?:%s) ms)*)\s*$"
    % ("|".join(re.escape(n) for n in METRIC_NAMES), NUM, NUM, NUM, NUM, NUM, NUM))
PERCENTILE = re.compile(r"percentile\((%s)%%\) = (%s) ms" % (NUM, NUM))
METRIC_START = re.compile(r"^(?:%s):" % "|".join(re.escape(n) for n in METRIC_NAMES))
THROUGHPUT = re.compile(r"^Throughput: (%s) qps\s*$" % NUM)
TOTALS = re.compile(r"^Total (Host Walltime|GPU Compute Time): (%s) s\s*$" % NUM)
TRT7_HEADER = re.compile(r"^(Host Latency|Enqueue Time|GPU Compute)\s*$")
TRT7_STAT = re.compile(r"^(min|max|mean|median): (%s) ms(?: \(end to end (%s) ms\))?\s*$" % (NUM, NUM))
TRT7_PCT = re.compile(r"^percentile: (%s) ms at (%s)%%(?: \(end to end (%s) ms at (%s)%%\))?\s*$" % (NUM, NUM, NUM, NUM))
TRT7_TOTAL = re.compile(r"^(throughput|walltime|total compute time): (%s) (qps|s)\s*$" % NUM)
TRACE = re.compile(r"^Average on (\d+) runs - GPU latency: (%s) ms - Host latency: (%s) ms "
                   r"\((?:end to end (%s) ms, )?enqueue (%s) ms\)\s*$" % (NUM, NUM, NUM, NUM))
BANNER = re.compile(r"^&&&& (RUNNING|PASSED|FAILED|WAIVED) (\S+) \[TensorRT v(\d+)\](?: \[b(\d+)\])? # (.*)$")
MEMCHG = re.compile(r"\[MemUsageChange\] (.+?): CPU ([+-]?\d+), GPU ([+-]?\d+), now: CPU (\d+), GPU (\d+) \(MiB\)")
MEMSTATS = re.compile(r"\[MemUsageStats\] Peak memory usage of TRT CPU/GPU memory allocators: CPU (\d+) MiB, GPU (\d+) MiB")
TOTMEM = re.compile(r"^(Total Activation|Total Weights|Total Host Persistent|Total Device Persistent|Total Scratch|"
                    r"Max Scratch) Memory: (\d+)(?: bytes)?\s*$")
BLOCKS = re.compile(r"\[BlockAssignment\] Algorithm (\S+) took (%s)ms to assign (\d+) blocks to (\d+) nodes requiring "
                    r"(\d+) bytes\." % NUM)
ENGSIZE = re.compile(r"^(Loaded engine size|Created engine with size|Loaded engine with size): (%s) (MiB|MB)\s*$" % NUM)
CONTEXT_MEM = re.compile(r"^Created execution context with device memory size: (%s) MiB\s*$" % NUM)
SECONDS = re.compile(r"^(Engine generation completed in|Engine built in|Engine loaded in|Engine deserialized in) "
                     r"(%s) sec(?:onds)?\.\s*$" % NUM)
DEVICE_MEM = re.compile(r"^Device Global Memory: (\d+) MiB\s*$")
COMPUTE_CAP = re.compile(r"^Compute Capability: (\d+\.\d+)\s*$")
VERSION_LINE = re.compile(r"^TensorRT version: ([\d.]+)\s*$")
UNSTABLE = re.compile(r"GPU compute time is unstable, with coefficient of variance = (%s)%%" % NUM)
TACTIC_STARVED = re.compile(r"Tactic Device request: (\d+)MB Available: (\d+)MB")
WARMUP = re.compile(r"^Warmup completed (\d+) queries over (%s) ms\s*$" % NUM)
TIMING = re.compile(r"^Timing trace has (\d+) queries over (%s) s\s*$" % NUM)


@dataclass(frozen=True)
class MetricStats:
    """One summary metric in ms; ``percentiles`` maps the percent (99.0) to its value."""

    name: str
    min_ms: float
    max_ms: float
    mean_ms: float
    median_ms: float
    percentiles: dict


@dataclass(frozen=True)
class TraceLine:
    runs: int
    gpu_ms: float
    host_ms: float
    end_to_end_ms: float | None
    enqueue_ms: float


@dataclass(frozen=True)
class TrtMemory:
    """Memory numbers from the log, bytes; None when the log does not say."""

    activation_bytes: int | None = None  # "Total Activation Memory" (build)
    weights_bytes: int | None = None  # "Total Weights Memory" (9.x+)
    host_persistent_bytes: int | None = None
    device_persistent_bytes: int | None = None
    scratch_bytes: int | None = None  # "Total Scratch" (8/9) or "Max Scratch" (10)
    block_assignment_bytes: int | None = None
    allocator_peak_cpu_bytes: int | None = None  # [MemUsageStats] (build)
    allocator_peak_gpu_bytes: int | None = None
    context_device_memory_bytes: int | None = None  # 10.x "Created execution context with device memory size"
    engine_bytes: int | None = None  # engine size line (MiB resolution)
    deserialization_gpu_bytes: int | None = None  # "TensorRT-managed allocation in engine deserialization: GPU +N"
    context_creation_gpu_bytes: int | None = None  # "... in IExecutionContext creation: GPU +N"
    build_allocation_gpu_bytes: int | None = None  # "... in building engine: GPU +N"
    system_used_gpu_mib_max: int | None = None  # max "now: GPU d" (system-wide on Jetson)
    tactic_memory_starved: bool = False


@dataclass(frozen=True)
class TrtexecLog:
    version: tuple[int, ...] | None
    banner: str | None  # PASSED | FAILED | RUNNING | WAIVED (last seen)
    command: str | None
    summary_family: str | None  # "7.x" | "8.0-8.3" | "8.4+" | None
    throughput_qps: float | None
    metrics: dict  # normalized name -> MetricStats
    host_walltime_s: float | None
    gpu_compute_total_s: float | None
    trace: tuple[TraceLine, ...]
    warmup_queries: int | None
    timed_queries: int | None
    memory: TrtMemory
    build_s: float | None
    load_s: float | None
    device_memory_bytes: int | None  # "Device Global Memory" (= system RAM on Jetson)
    compute_capability: str | None
    unstable_cv_pct: float | None
    rejected: tuple[str, ...]  # summary lines that did not parse (truncated / re-typed)
    errors: tuple[str, ...]  # [E]/[F] lines
    mem_usage_changes: tuple[tuple[str, int, int, int, int], ...] = field(default=())

    @property
    def complete(self) -> bool:
        """The summary parsed whole: no rejected lines and a latency metric present."""
        return not self.rejected and ("Latency" in self.metrics or "GPU Compute Time" in self.metrics)


def decode_version(n: int) -> tuple[int, int, int]:
    """Banner integer -> (major, minor, patch): 8.x ``8201`` = 8.2.1, 10.x+ ``100900`` = 10.9.0."""
    if n >= 100000:
        return (n // 10000, n // 100 % 100, n % 100)
    return (n // 1000, n // 100 % 10, n % 100)


def split_envelope(line: str) -> tuple[str | None, str]:
    """(severity, body) with timestamp and tags removed; either tag order, or none."""
    line = line.rstrip("\r\n")
    match = ENVELOPE.match(line)
    tags = re.findall(r"\[([VIWEF])\]", match.group("tags")) if match else []
    return (tags[0] if tags else None), line[match.end():] if match else line


class _Builder:
    """Accumulates what the lines say; ``finish`` freezes it."""

    def __init__(self) -> None:
        self.version = None
        self.banner = None
        self.command = None
        self.family = None
        self.throughput = None
        self.metrics: dict[str, MetricStats] = {}
        self.walltime = None
        self.gpu_total = None
        self.trace: list[TraceLine] = []
        self.warmup = None
        self.timed = None
        self.mem: dict = {}
        self.changes: list = []
        self.build_s = None
        self.load_s = None
        self.device_mem = None
        self.cc = None
        self.cv = None
        self.rejected: list[str] = []
        self.errors: list[str] = []
        self.block = None
        self.trt7: dict[str, dict] = {}

    def feed(self, raw: str) -> None:
        severity, body = split_envelope(raw)
        if severity in ("E", "F"):
            self.errors.append(body.strip())
        for handler in (self.banner_line, self.summary_line, self.trt7_line, self.memory_line, self.misc_line):
            if handler(body):
                return

    def banner_line(self, body: str) -> bool:
        match = BANNER.match(body)
        if not match:
            return False
        self.banner = match.group(1)
        self.version = decode_version(int(match.group(3)))
        self.command = match.group(5)
        return True

    def summary_line(self, body: str) -> bool:
        match = METRIC.match(body)
        if match:
            pcts = {number(p): number(v) for p, v in PERCENTILE.findall(match.group("pcts"))}
            name = match.group("name")
            self.metrics[name] = MetricStats(name, number(match.group("min")), number(match.group("max")),
                                             number(match.group("mean")), number(match.group("median")), pcts)
            if name == "End-to-End Host Latency":
                self.family = "8.0-8.3"
            elif self.family is None:
                self.family = "8.4+"
            return True
        if METRIC_START.match(body):
            self.rejected.append(body.strip())
            return True
        if (m := THROUGHPUT.match(body)):
            self.throughput = number(m.group(1))
            return True
        if (m := TOTALS.match(body)):
            if m.group(1) == "Host Walltime":
                self.walltime = number(m.group(2))
            else:
                self.gpu_total = number(m.group(2))
            return True
        if (m := TRACE.match(body)):
            self.trace.append(TraceLine(int(m.group(1)), number(m.group(2)), number(m.group(3)),
                                        number(m.group(4)) if m.group(4) else None, number(m.group(5))))
            return True
        return False

    def trt7_line(self, body: str) -> bool:
        """The 7.x blocks: a header line, then min/max/mean/median/percentile lines."""
        if (m := TRT7_HEADER.match(body)):
            self.block = m.group(1)
            self.family = "7.x"
            return True
        if (m := TRT7_TOTAL.match(body)):
            if m.group(1) == "throughput":
                self.throughput = number(m.group(2))
            elif m.group(1) == "walltime":
                self.walltime = number(m.group(2))
            else:
                self.gpu_total = number(m.group(2))
            return True
        if self.block is None:
            return False
        if (m := TRT7_STAT.match(body)):
            self.trt7.setdefault(self.block, {})[m.group(1)] = number(m.group(2))
            if m.group(3) is not None:
                self.trt7.setdefault(self.block + "/e2e", {})[m.group(1)] = number(m.group(3))
            return True
        if (m := TRT7_PCT.match(body)):
            self.trt7.setdefault(self.block, {}).setdefault("pcts", {})[number(m.group(2))] = number(m.group(1))
            if m.group(3) is not None:
                self.trt7.setdefault(self.block + "/e2e", {}).setdefault("pcts", {})[number(m.group(4))] = number(m.group(3))
            return True
        if re.match(r"^(min|max|mean|median|percentile):", body):
            self.rejected.append(body.strip())
            return True
        return False

    def memory_line(self, body: str) -> bool:
        if (m := MEMCHG.search(body)):
            what, cpu, gpu, now_cpu, now_gpu = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
            self.changes.append((what, cpu, gpu, now_cpu, now_gpu))
            key = {"TensorRT-managed allocation in engine deserialization": "deserialization_gpu_bytes",
                   "TensorRT-managed allocation in IExecutionContext creation": "context_creation_gpu_bytes",
                   "TensorRT-managed allocation in building engine": "build_allocation_gpu_bytes"}.get(what)
            if key:
                self.mem[key] = gpu * MIB
            else:
                self.mem["system_used_gpu_mib_max"] = max(self.mem.get("system_used_gpu_mib_max") or 0, now_gpu)
            return True
        if (m := MEMSTATS.search(body)):
            self.mem["allocator_peak_cpu_bytes"] = int(m.group(1)) * MIB
            self.mem["allocator_peak_gpu_bytes"] = int(m.group(2)) * MIB
            return True
        if (m := TOTMEM.match(body)):
            key = {"Total Activation": "activation_bytes", "Total Weights": "weights_bytes",
                   "Total Host Persistent": "host_persistent_bytes", "Total Device Persistent": "device_persistent_bytes",
                   "Total Scratch": "scratch_bytes", "Max Scratch": "scratch_bytes"}[m.group(1)]
            self.mem[key] = int(m.group(2))
            return True
        if (m := BLOCKS.search(body)):
            self.mem["block_assignment_bytes"] = int(m.group(5))
            return True
        if (m := ENGSIZE.match(body)):
            precise = m.group(1) != "Loaded engine size"  # that one is integer MiB, truncated
            if precise or "engine_bytes" not in self.mem:
                self.mem["engine_bytes"] = mib_bytes(number(m.group(2)))
            return True
        if (m := CONTEXT_MEM.match(body)):
            self.mem["context_device_memory_bytes"] = mib_bytes(number(m.group(1)))
            return True
        if TACTIC_STARVED.search(body) or "insufficient memory on requested size" in body:
            self.mem["tactic_memory_starved"] = True
            return True
        return False

    def misc_line(self, body: str) -> bool:
        if (m := SECONDS.match(body)):
            if m.group(1).startswith(("Engine generation", "Engine built")):
                self.build_s = self.build_s or number(m.group(2))
            else:
                self.load_s = number(m.group(2))
            return True
        if (m := DEVICE_MEM.match(body)):
            self.device_mem = int(m.group(1)) * MIB
            return True
        if (m := COMPUTE_CAP.match(body)):
            self.cc = m.group(1)
            return True
        if (m := VERSION_LINE.match(body)) and self.version is None:
            text = m.group(1)
            self.version = decode_version(int(text)) if "." not in text else tuple(int(p) for p in text.split("."))
            return True
        if (m := UNSTABLE.search(body)):
            self.cv = number(m.group(1))
            return True
        if (m := WARMUP.match(body)):
            self.warmup = int(m.group(1))
            return True
        if (m := TIMING.match(body)):
            self.timed = int(m.group(1))
            return True
        return False

    def finish(self) -> TrtexecLog:
        metrics = dict(self.metrics)
        names = {"Host Latency": "Latency", "Host Latency/e2e": "End-to-End Host Latency",
                 "Enqueue Time": "Enqueue Time", "GPU Compute": "GPU Compute Time"}
        for block, stats in self.trt7.items():
            if all(k in stats for k in ("min", "max", "mean", "median")) and block in names:
                name = names[block]
                metrics[name] = MetricStats(name, stats["min"], stats["max"], stats["mean"], stats["median"],
                                            dict(stats.get("pcts", {})))
        return TrtexecLog(
            version=self.version, banner=self.banner, command=self.command, summary_family=self.family,
            throughput_qps=self.throughput, metrics=metrics, host_walltime_s=self.walltime,
            gpu_compute_total_s=self.gpu_total, trace=tuple(self.trace), warmup_queries=self.warmup,
            timed_queries=self.timed, memory=TrtMemory(**self.mem), build_s=self.build_s, load_s=self.load_s,
            device_memory_bytes=self.device_mem, compute_capability=self.cc, unstable_cv_pct=self.cv,
            rejected=tuple(self.rejected), errors=tuple(self.errors), mem_usage_changes=tuple(self.changes),
        )


def parse_trtexec_log(text: str) -> TrtexecLog:
    """Parse a whole trtexec (or TensorRT Python logger) log."""
    builder = _Builder()
    for line in text.splitlines():
        if line.strip():
            builder.feed(line)
    return builder.finish()


def parse_export_times(text: str, version: tuple[int, ...] | None = None, warmup_ms: float = 0.0) -> dict:
    """``--exportTimes`` JSON -> {"latency_ms": [...], "compute_ms": [...]} of the timed queries.

    TensorRT <= 8.4 includes warm-up entries: those starting before ``warmup_ms`` are dropped.
    """
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--exportTimes file is not valid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise ValueError("--exportTimes file is not a JSON array")
    if version is not None and tuple(version[:2]) <= (8, 4) and warmup_ms > 0:
        rows = [r for r in rows if float(r.get("startComputeMs", 0.0)) >= warmup_ms]
    latency = [float(r["latencyMs"]) for r in rows if isinstance(r, dict) and "latencyMs" in r]
    compute = [float(r["computeMs"]) for r in rows if isinstance(r, dict) and "computeMs" in r]
    return {"latency_ms": latency, "compute_ms": compute}
