"""One stage's child: its own process group, a deadline, and TERM -> grace -> KILL when stopped.

The child is started with the run's marker in its environment and the run's lock handles, so
the device stays locked while it lives even if the supervisor is gone. Its stdout carries
phase lines (turned into progress events), its stderr goes to ``<stage>.log``. The exact peak
RSS comes from wait4's ru_maxrss; the sampler adds nvmap and the lowest MemAvailable.
"""

import json
import os
import signal
import subprocess
import threading
import time

from .common import tail
from .procs import kill_group
from .sampler import Sampler
from .wire import PHASE_PREFIX


def stage_record(returncode, killed_by, peak_rss_bytes, samples, phases, log_name, log_tail):
    """The record of one stage (the same shape whether the stage ended or was salvaged)."""
    record = {
        "returncode": returncode,
        "killed_by": killed_by,
        "peak_rss_bytes": peak_rss_bytes,
        "peak_rss_method": "getrusage(wait4).ru_maxrss of the child" if peak_rss_bytes is not None else None,
        "memory_limit_exceeded_at_bytes": None,
        "phases": phases,
        "log": log_name,
        "log_tail": log_tail,
    }
    record.update(samples)
    return record


class StageRunner(object):
    """Runs one stage's child in its own process group under a deadline; collects everything."""

    def __init__(self, job, stage):
        self.job = job
        self.stage = stage
        self.phases = []

    def start(self, argv, env=None):
        job = self.job
        self.log_path = job.path("%s.log" % self.stage)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=job.dir, env=env or job.env, pass_fds=job.lock_fds)
        job.children[self.proc.pid] = self.stage
        with open(job.path("%s.pid" % self.stage), "w") as handle:
            handle.write(str(self.proc.pid))
        self.sampler = Sampler(self.proc.pid, self.stage, job.sample_interval_s, job.path("proc_samples.jsonl"),
                               job.memory_limit_bytes, job.on_write_error)
        self.sampler.start()
        self.reader = threading.Thread(target=self.read_stdout)
        self.reader.daemon = True
        self.reader.start()

    def read_stdout(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(PHASE_PREFIX):
                try:
                    phase = json.loads(line[len(PHASE_PREFIX):])
                except ValueError:
                    continue
                self.phases.append(phase)
                self.job.progress(self.stage, phase.get("phase"), phase.get("info"))
                continue
            try:
                self.log.write(raw)
                self.log.flush()
            except (IOError, OSError) as exc:
                self.job.on_write_error(exc)

    def stop_cause(self, deadline):
        if self.job.stop_reason is not None:
            return "cancel"
        if time.monotonic() > deadline:
            return "deadline"
        return None

    def wait(self, timeout_s):
        """Wait for the child (os.wait4: exact peak RSS); at a deadline or a stop, TERM its group, KILL after grace."""
        pid = self.proc.pid
        deadline = time.monotonic() + max(timeout_s, 0.1)
        killed_by, term_at, killed = None, None, False
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == pid:
                break
            if killed_by is None:
                killed_by = self.stop_cause(deadline)
                if killed_by is not None:
                    term_at = time.monotonic()
                    kill_group(pid, signal.SIGTERM)
                    kill_group(pid, signal.SIGCONT)
            elif not killed and time.monotonic() - term_at > self.job.grace_s:
                killed = kill_group(pid)
            time.sleep(0.02)
        kill_group(pid)  # grandchildren left in the group
        self.proc.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        self.sampler.stop()
        self.reader.join(5)
        self.log.close()
        self.job.children.pop(pid, None)
        if self.sampler.killed_for_memory is not None:
            killed_by = "memory_limit"
        record = stage_record(self.proc.returncode, killed_by, usage.ru_maxrss * 1024, self.sampler.summary.document(),
                              self.phases, os.path.basename(self.log_path), tail(self.log_path, 30))
        record["memory_limit_exceeded_at_bytes"] = self.sampler.killed_for_memory
        return record
