"""trtexec command lines by TensorRT version, its banner, and how its failures are classified."""

import os
import re
import signal

from .common import OOM_PATTERNS, AgentFailure, read_text
from .procs import run_quiet

BANNER = re.compile(r"&&&& (?:RUNNING|PASSED|FAILED|WAIVED) \S+ \[TensorRT v(\d+)\]")
TRTEXEC_PATHS = ("/usr/src/tensorrt/bin/trtexec",)


def trtexec_version(path, timeout_s=20):
    """The integer from trtexec's banner ``[TensorRT vN]`` (8.x: 8502, 10.x: 100300), or None."""
    code, out = run_quiet([path, "--help"], timeout_s)
    match = BANNER.search(out or "")
    return int(match.group(1)) if match else None


def version_tuple(version_int):
    n = int(version_int)
    if n >= 100000:
        return (n // 10000, n // 100 % 100, n % 100)
    return (n // 1000, n // 100 % 10, n % 100)


def build_argv(trtexec, version, model, engine, options, timing_cache, shapes=""):
    """Flags by TensorRT version (memPoolSize from 8.4, skipInference from 8.6, buildOnly before)."""
    major_minor = version_tuple(version)[:2]
    argv = [trtexec, "--onnx=%s" % model, "--saveEngine=%s" % engine]
    precision = options.get("precision", "fp32")
    if precision in ("fp16", "int8"):
        argv.append("--%s" % precision)
    workspace = options.get("workspace_bytes")
    if workspace:
        mib = max(1, int(workspace) // (1 << 20))
        argv.append("--memPoolSize=workspace:%d" % mib if major_minor >= (8, 4) else "--workspace=%d" % mib)
    argv.append("--skipInference" if major_minor >= (8, 6) else "--buildOnly")
    if major_minor >= (8, 0):
        argv.append("--timingCacheFile=%s" % timing_cache)
    if shapes:
        argv.append("--shapes=%s" % shapes)
    return argv + list(options.get("extra_args") or [])


def shapes_flag(spec):
    """``name:1x3x224x224,...`` from the spec's input shapes ('' when none were given)."""
    shapes = (spec.get("inputs") or {}).get("shapes") or {}
    return ",".join("%s:%s" % (name, "x".join(str(d) for d in shape)) for name, shape in sorted(shapes.items()))


def run_argv(trtexec, version, engine, spec, times_path):
    warmup = spec.get("warmup") or {}
    measure = spec.get("measure") or {}
    argv = [trtexec, "--loadEngine=%s" % engine,
            "--warmUp=%d" % int(float(warmup.get("seconds", 0.2)) * 1000),
            "--duration=%d" % max(1, int(round(float(measure.get("seconds", 3.0))))),
            "--iterations=%d" % int(measure.get("runs", 10)),
            "--exportTimes=%s" % times_path, "--useSpinWait"]
    argv.append("--percentile=90,95,99" if version_tuple(version)[:2] >= (8, 5) else "--percentile=99")
    if shapes_flag(spec):
        argv.append("--shapes=%s" % shapes_flag(spec))
    return argv


def check(job, stage, record):
    """Raise the AgentFailure a failed trtexec stage deserves (its log decides the code)."""
    log = read_text(os.path.join(job.dir, record["log"]), 1 << 24) or ""
    record["passed_banner"] = "&&&& PASSED" in log
    if record["returncode"] == 0 and record["killed_by"] is None and "&&&& FAILED" not in log:
        return
    if record["killed_by"] is None and record["returncode"] != -signal.SIGKILL and OOM_PATTERNS.search(log):
        raise AgentFailure("out_of_memory", "trtexec %s ran out of memory (see %s)" % (stage, record["log"]), stage)
    if stage == "build" and "Failed to parse onnx file" in log:
        raise AgentFailure("model_invalid", "TensorRT's ONNX parser rejected the model (see %s)" % record["log"], stage)
    job.check_stage(stage, record)
    raise AgentFailure("build_failed" if stage == "build" else "run_failed",
                       "trtexec %s failed with status %s (see %s)" % (stage, record["returncode"], record["log"]), stage)
