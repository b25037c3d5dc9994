"""The measuring child: reports phases (with its own VmRSS/VmHWM), times runs, keeps a checkpoint.

It is started fresh for each step, runs one runtime's worker from WORKERS, and writes its result
to ``<stage>.worker.json`` at the end. While it runs, its phases and latency batches go to the
checkpoint file, so a child that is stopped (SIGTERM from the agent), orphaned (the agent is
gone) or short of disk leaves what it measured, and one that is killed keeps all but the last
quarter second.
"""

import os
import signal
import time

from . import worker_onnxruntime, worker_tensorrt, worker_tvm
from .checkpoint import Checkpoint
from .common import OOM_PATTERNS, AgentFailure, emit, read_json, write_json_atomic
from .sysinfo import proc_status
from .wire import ERROR_EXIT, PHASE_PREFIX

WORKERS = {"onnxruntime": worker_onnxruntime.run, "tvm": worker_tvm.run, "tensorrt": worker_tensorrt.run}
FLUSH_S = 0.25  # latencies reach the checkpoint at least this often
LOOPS = {"warmup": ("warmup_ms", "warmed_up"), "measure": ("latencies_ms", "measured")}


class Worker(object):
    def __init__(self, job):
        self.job = job
        self.t0 = time.monotonic()
        self.result = {"backend": {"name": job["backend"]}, "phases": [], "warmup_ms": [], "latencies_ms": [],
                       "error": None, "partial": False}
        self.checkpoint = Checkpoint(job.get("checkpoint_path") or os.devnull)
        self.parent = os.getppid()
        self.signalled = None
        self.deferred = False  # inside a timed loop or finishing: a signal is acted on later

    def on_signal(self, signum, frame):
        """Inside a timed loop: stop after the current call (the loop saves its batch); elsewhere at once."""
        self.signalled = signum
        if not self.deferred:
            raise AgentFailure("cancelled", "stopped by signal %d before its timed runs" % signum, self.job.get("stage"))

    def stop_cause(self):
        if self.signalled is not None:
            return AgentFailure("cancelled", "stopped by signal %d during its timed runs" % self.signalled, self.job.get("stage"))
        if os.getppid() != self.parent:
            return AgentFailure("agent_fault", "the agent that started it is gone", self.job.get("stage"))
        if self.checkpoint.error is not None:
            return AgentFailure("disk_full", "cannot write its checkpoint: %s" % self.checkpoint.error, self.job.get("stage"))
        return None

    def set(self, key, value):
        self.result[key] = value
        self.checkpoint.fact(key, value)

    def backend(self, **values):
        self.result["backend"].update(values)
        self.checkpoint.fact("backend", self.result["backend"])

    def phase(self, name, **info):
        status = proc_status("self") or {}
        record = {"phase": name, "t_s": round(time.monotonic() - self.t0, 4), "rss_bytes": status.get("rss_bytes"),
                  "hwm_bytes": status.get("hwm_bytes"), "rss_file_bytes": status.get("rss_file_bytes"),
                  "rss_anon_bytes": status.get("rss_anon_bytes")}
        if info:
            record["info"] = info
        self.result["phases"].append(record)
        self.checkpoint.phase(record)
        emit(PHASE_PREFIX, record)

    def reset_peak(self):
        """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is the inference peak."""
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.set("hwm_reset", True)
        except (IOError, OSError):
            self.set("hwm_reset", False)

    def timed_loop(self, call, settings, loop):
        """Call until both the run count and the time are reached (or max_runs); latencies in ms."""
        key, phase = LOOPS[loop]
        runs, seconds = int(settings.get("runs", 10)), float(settings.get("seconds", 0.0))
        max_runs = int(settings.get("max_runs", 100000))
        times = self.result[key]
        flushed, cause = 0, None
        start = time.perf_counter()
        next_flush = start + FLUSH_S
        self.deferred = True
        while cause is None and len(times) < max_runs and (len(times) < runs or time.perf_counter() - start < seconds):
            began = time.perf_counter()
            call()
            ended = time.perf_counter()
            times.append(round((ended - began) * 1000.0, 6))
            if ended >= next_flush:
                self.checkpoint.latencies(loop, times[flushed:])
                flushed, next_flush = len(times), ended + FLUSH_S
                cause = self.stop_cause()
        self.deferred = False
        self.checkpoint.latencies(loop, times[flushed:])
        self.phase(phase, runs=len(times), seconds=round(time.perf_counter() - start, 4))
        if cause is not None:
            raise cause
        return times

    def make_inputs(self, np, declared):
        """[(name, array)] for the declared inputs, shapes bound from the job; recorded in the result."""
        inputs = self.job.get("inputs") or {}
        specs = input_specs(declared, inputs.get("shapes") or {}, inputs.get("dims") or {})
        self.set("inputs", [{"name": n, "shape": shape, "dtype": d} for n, shape, d in specs])
        rng = np.random.RandomState(self.job.get("seed", 0))
        return [(n, make_array(np, shape, d, rng)) for n, shape, d in specs]

    def measure(self, call, source="time.perf_counter around one synchronous inference call (host clock)"):
        self.reset_peak()
        self.phase("peak_reset")
        self.set("latency_source", source)
        self.timed_loop(call, self.job.get("warmup") or {}, "warmup")
        self.timed_loop(call, self.job.get("measure") or {}, "measure")


def input_specs(declared, overrides, dims):
    """[(name, shape, dtype)] with symbolic dims bound from --dim / --input-shape; error when unbound."""
    specs = []
    for name, shape, dtype in declared:
        if name in overrides:
            shape = list(overrides[name])
        bound = []
        for dim in shape:
            if isinstance(dim, int) and dim >= 0:
                bound.append(dim)
            elif isinstance(dim, str) and dim in dims:
                bound.append(int(dims[dim]))
            else:
                raise AgentFailure("bad_spec", "input %r has unbound dimension %r; pass --dim %s=N or --input-shape "
                                   "%s=..." % (name, dim, dim if isinstance(dim, str) else "NAME", name), "run")
        specs.append((name, bound, dtype))
    return specs


def make_array(np, shape, dtype, rng):
    """Random floats (normal), random booleans, zeros for integers (safe as indices); rng is a
    numpy RandomState, which JetPack 4's numpy 1.13 also has."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.randint(0, 2, size=shape).astype(dtype)
    return np.zeros(shape, dtype)


def failure_of(exc):
    """(error document, exit status) for whatever ended a worker."""
    if isinstance(exc, AgentFailure):
        return {"code": exc.code, "message": exc.message}, ERROR_EXIT.get(exc.code, ERROR_EXIT["internal"])
    if isinstance(exc, MemoryError):
        return {"code": "out_of_memory", "message": "MemoryError in the worker"}, ERROR_EXIT["out_of_memory"]
    code = "out_of_memory" if OOM_PATTERNS.search(str(exc)) else None  # a runtime's own exception: keep its text
    return {"code": code, "message": "%s: %s" % (type(exc).__name__, str(exc)[:1000])}, ERROR_EXIT.get(code, 1)


def worker_main(job_path):
    job = read_json(job_path)
    if not job:
        return ERROR_EXIT["bad_spec"]
    worker = Worker(job)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, worker.on_signal)
    status = 0
    try:
        WORKERS[job["backend"]](worker)
    except Exception as exc:  # noqa: BLE001 - every ending becomes an error document
        worker.result["error"], status = failure_of(exc)
        worker.result["partial"] = True
    worker.deferred = True
    worker.phase("finished")
    try:
        write_json_atomic(job["result_path"], worker.result)
    except (IOError, OSError):  # a full disk: the checkpoint holds what was measured
        status = status or ERROR_EXIT["disk_full"]
    return status
