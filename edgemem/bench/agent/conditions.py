"""Conditions around a run: tegrastats alongside, and jetson_clocks locked then restored."""

import os
import signal
import subprocess

from .procs import kill_group, run_quiet


def start_tegrastats(job):
    """tegrastats into tegrastats.log (a child of the run: marked, holding the run's lock)."""
    if job.spec.get("tegrastats", "auto") == "off":
        return
    path = job.tool("tegrastats", ("/usr/bin/tegrastats",))
    if not path:
        job.result["conditions"]["tegrastats"] = None
        return
    interval = str(int(job.spec.get("tegrastats_interval_ms", 100)))
    with open(job.path("tegrastats.log"), "wb") as log:
        job.tegrastats = subprocess.Popen([path, "--interval", interval], stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True, env=job.env,
                                          pass_fds=job.lock_fds)
    job.children[job.tegrastats.pid] = "tegrastats"
    job.result["conditions"]["tegrastats"] = {"path": path, "interval_ms": int(interval), "log": "tegrastats.log"}


def stop_tegrastats(job):
    process = getattr(job, "tegrastats", None)
    if process is None:
        return
    kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(job.grace_s)
    except subprocess.TimeoutExpired:
        kill_group(process.pid)
        process.wait()
    job.children.pop(process.pid, None)
    job.tegrastats = None


def privileged(argv):
    return argv if os.geteuid() == 0 else ["sudo", "-n"] + argv


def lock_clocks(job):
    """jetson_clocks --store, then jetson_clocks; only when the spec asks for it."""
    job.clocks_stored = None
    if not job.spec.get("lock_clocks"):
        job.result["conditions"]["lock_clocks"] = "not requested"
        return
    path = job.tool("jetson_clocks", ("/usr/bin/jetson_clocks",))
    if not path:
        job.result["warnings"].append("lock_clocks requested but jetson_clocks was not found; clocks unchanged")
        job.result["conditions"]["lock_clocks"] = "unavailable"
        return
    store = os.path.abspath(job.path("clocks.conf"))
    code, out = run_quiet(privileged([path, "--store", store]), 30)
    if code != 0:
        job.result["warnings"].append("jetson_clocks --store failed (%s); clocks unchanged" % (out or "").strip()[-200:])
        job.result["conditions"]["lock_clocks"] = "failed"
        return
    job.clocks_stored = (path, store)
    code, out = run_quiet(privileged([path]), 30)
    job.result["conditions"]["lock_clocks"] = "locked" if code == 0 else "failed"


def restore_clocks(job):
    if not getattr(job, "clocks_stored", None):
        return
    path, store = job.clocks_stored
    code, out = run_quiet(privileged([path, "--restore", store]), 30)
    job.result["conditions"]["clocks_restored"] = code == 0
    if code != 0:
        job.result["warnings"].append("jetson_clocks --restore failed: %s" % (out or "").strip()[-200:])
