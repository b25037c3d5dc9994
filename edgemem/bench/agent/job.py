"""One run's measurement: baseline, conditions, the backend's stages, and what each outcome means.

The supervisor owns one Job. Anything that must stop the run (a cancel from the host, a full
disk, a fault) goes through ``stop``: the first reason wins, the running stage's child gets
SIGTERM and then SIGKILL after the grace period, and the reason becomes the result's error.
"""

import os
import signal
import time

from . import conditions, run_python, run_tensorrt
from .blobs import verified_blob
from .checkpoint import load_checkpoint
from .common import OOM_PATTERNS, AgentFailure, disk_full, now_utc, read_json, write_json_atomic
from .procs import find_tool, self_command
from .stage import StageRunner
from .sysinfo import meminfo
from .wire import AGENT_VERSION, ERROR_EXIT, MARKER_ENV, RESULT_SCHEMA

RUNNERS = {"onnxruntime": run_python.run, "tvm": run_python.run, "tensorrt": run_tensorrt.run}
WORKER_ENV = ("MALLOC_MMAP_THRESHOLD_",)  # what a spec may set in a measuring child's environment (verify fixes it)
EXIT_CODE = dict((status, code) for code, status in ERROR_EXIT.items())


def supervision(spec):
    return spec.get("supervision") or {}


class Job(object):
    """One run's stages; ``result`` is the document that always comes out, partial or not."""

    def __init__(self, folder, spec, lock_fds=()):
        self.folder = folder
        self.base = folder.base
        self.dir = folder.dir
        self.run_id = folder.run_id
        self.spec = spec
        self.lock_fds = tuple(lock_fds)
        self.started = time.monotonic()
        self.deadline = self.started + float((spec.get("timeouts") or {}).get("total_s", 600))
        self.sample_interval_s = max(float(spec.get("sample_interval_ms", 20)), 5.0) / 1000.0
        self.memory_limit_bytes = spec.get("memory_limit_bytes")
        self.grace_s = float(supervision(spec).get("cancel_grace_s", 5.0))
        self.children = {}
        self.stop_reason = None
        self.stage_name = "prepare"
        self.env = dict(os.environ)
        self.env[MARKER_ENV] = folder.marker
        self.result = {
            "schema": RESULT_SCHEMA, "agent_version": AGENT_VERSION, "run_id": self.run_id, "status": "running",
            "error": None, "partial": False, "started_utc": now_utc(), "stages": {}, "warnings": [], "conditions": {},
            "backend": {"name": spec.get("backend")}, "system": {}, "artifacts": [], "request": spec,
        }

    def path(self, name):
        return self.folder.path(name)

    def remaining_s(self, stage_limit):
        return max(0.0, min(float(stage_limit), self.deadline - time.monotonic()))

    def progress(self, stage, phase, info=None):
        document = {"run_id": self.run_id, "stage": stage, "phase": phase, "info": info,
                    "elapsed_s": round(time.monotonic() - self.started, 3)}
        try:
            self.folder.event(document)
        except (IOError, OSError) as exc:
            self.on_write_error(exc)

    # ---- stopping

    def stop(self, failure):
        if self.stop_reason is None:
            self.stop_reason = failure

    def on_write_error(self, exc):
        failure = disk_full(exc, "the run's records in %s" % self.dir, self.stage_name)
        if not isinstance(failure, AgentFailure):
            failure = AgentFailure("internal", "cannot write the run's records: %s" % exc, self.stage_name)
        self.stop(failure)

    def raise_if_stopped(self):
        if self.stop_reason is not None:
            raise self.stop_reason

    def save_state(self):
        try:
            self.folder.write_state({"stage": self.stage_name, "result": self.result, "utc": now_utc()})
        except (IOError, OSError) as exc:
            self.on_write_error(exc)

    # ---- the plan

    def execute(self):
        backend = self.spec.get("backend")
        if backend not in RUNNERS:
            raise AgentFailure("bad_spec", "unknown backend %r (known: %s)" % (backend, ", ".join(sorted(RUNNERS))))
        self.model_path = verified_blob(self.base, (self.spec.get("model") or {}).get("sha256"), "model")
        self.result["system"]["before"] = meminfo()
        self.progress("prepare", "baseline")
        self.result["system"]["baseline"] = self.sample_baseline(float(self.spec.get("baseline_s", 1.0)))
        self.save_state()
        self.raise_if_stopped()
        conditions.start_tegrastats(self)
        conditions.lock_clocks(self)
        try:
            RUNNERS[backend](self)
        finally:
            conditions.restore_clocks(self)
            conditions.stop_tegrastats(self)
        self.result["system"]["after"] = meminfo()

    def sample_baseline(self, seconds):
        """Idle MemAvailable before anything of ours runs (for the system-wide delta)."""
        values = []
        end = time.monotonic() + seconds
        while self.stop_reason is None:
            values.append(meminfo()["available_bytes"])
            if time.monotonic() >= end:
                break
            time.sleep(min(0.05, max(seconds / 10.0, 0.005)))
        values = [v for v in values if v is not None]
        return {"available_bytes_median": sorted(values)[len(values) // 2] if values else None,
                "samples": len(values), "seconds": seconds}

    def tool(self, name, extra=()):
        return find_tool(name, (self.spec.get("tools") or {}).get(name), extra)

    # ---- stages

    def stage(self, name, argv, limit_s, env=None):
        self.raise_if_stopped()
        self.stage_name = name
        self.progress(name, "start")
        if time.monotonic() >= self.deadline:
            raise AgentFailure("timeout", "no time left for stage %s" % name, name)
        self.save_state()
        runner = StageRunner(self, name)
        began = time.monotonic()
        runner.start(argv, env)
        record = runner.wait(self.remaining_s(limit_s))
        record["seconds"] = round(time.monotonic() - began, 4)
        record["argv"] = argv
        self.result["stages"][name] = record
        self.save_state()
        self.progress(name, "done", {"returncode": record["returncode"], "seconds": record["seconds"]})
        return record

    def worker_stage(self, name, job, limit_s):
        """A fresh Python child running this agent's ``worker`` for one backend step."""
        job_path = self.path("%s.job.json" % name)
        job = dict(job, result_path=self.path("%s.worker.json" % name), stage=name,
                   checkpoint_path=self.path("%s.checkpoint.jsonl" % name))
        write_json_atomic(job_path, job)
        argv, env = self_command("worker", "--job", job_path)
        env.update((k, str(v)) for k, v in (self.spec.get("worker_env") or {}).items() if k in WORKER_ENV)
        env[MARKER_ENV] = self.folder.marker
        record = self.stage(name, argv, limit_s, env)
        record["worker"] = read_json(job["result_path"]) or load_checkpoint(job["checkpoint_path"])
        self.check_stage(name, record)
        return record

    def check_stage(self, name, record):
        """Turn a stopped or failed child into an AgentFailure with the right code (partial data is kept)."""
        if record["killed_by"] == "memory_limit":
            raise AgentFailure("out_of_memory", "%s child used %d bytes, over the memory limit of %d bytes; killed"
                               % (name, record["memory_limit_exceeded_at_bytes"], self.memory_limit_bytes), name)
        if record["killed_by"] == "deadline":
            raise AgentFailure("timeout", "%s child exceeded its deadline; its process group was stopped" % name, name)
        if record["killed_by"] == "cancel":
            raise self.stop_reason or AgentFailure("cancelled", "%s cancelled by the host" % name, name)
        worker = record.get("worker") or {}
        if record["returncode"] == 0 and not worker.get("error"):
            return
        raise self.classify(name, record, worker.get("error") or {})

    def classify(self, name, record, error):
        text = " ".join([error.get("message") or ""] + record.get("log_tail", []))
        if record["returncode"] == -signal.SIGKILL:
            low = record.get("min_available_bytes")
            total = (self.result["system"].get("before") or {}).get("total_bytes")
            hint = " (MemAvailable fell to %s bytes)" % low if low is not None else ""
            if low is not None and total and low < 0.05 * total or OOM_PATTERNS.search(text):
                return AgentFailure("out_of_memory", "%s child was killed by SIGKILL, most likely by the kernel's OOM "
                                    "killer%s" % (name, hint), name)
            return AgentFailure("run_failed", "%s child was killed by SIGKILL from outside%s" % (name, hint), name)
        if error.get("code") in ERROR_EXIT:
            code = error["code"]
        elif OOM_PATTERNS.search(text):
            code = "out_of_memory"
        elif EXIT_CODE.get(record["returncode"]) in ("disk_full", "integrity", "bad_spec", "backend_missing"):
            code = EXIT_CODE[record["returncode"]]
        else:
            code = "build_failed" if name == "build" else "run_failed"
        message = error.get("message") or (record.get("log_tail") or ["exit status %s" % record["returncode"]])[-1]
        return AgentFailure(code, "%s failed: %s" % (name, message), name)
