"""A run detached from the connection: ``start`` launches its supervisor and returns at once.

``start`` takes the device lock (waiting up to --lock-wait), prunes old runs, creates the run
folder, sets room aside for the result, and launches the supervisor in a new session with the
lock handle and the run's marker; the supervisor outlives the SSH session that started it. The
supervisor runs the Job, beats every second, turns SIGTERM (the host's cancel) into a stop with
the reason the host gave, and always writes result.json.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

from .common import AgentFailure, emit, now_utc
from .folder import RunFolder, prune
from .job import Job, supervision
from .lock import acquire
from .procs import kill_group, self_command
from .salvage import salvage_dead
from .sysinfo import proc_status
from .wire import BACKENDS, MARKER_ENV, PROGRESS_PREFIX, SPEC_SCHEMA

RESERVE_BYTES = 4 << 20  # freed for result.json when the disk fills


def read_spec(source):
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source) as handle:
                text = handle.read()
        spec = json.loads(text)
    except (IOError, OSError, ValueError) as exc:
        raise AgentFailure("bad_spec", "cannot read the job spec: %s" % exc)
    if not isinstance(spec, dict) or spec.get("schema") != SPEC_SCHEMA:
        raise AgentFailure("bad_spec", "spec schema must be %s" % SPEC_SCHEMA)
    if spec.get("backend") not in BACKENDS:
        raise AgentFailure("bad_spec", "unknown backend %r (known: %s)" % (spec.get("backend"), ", ".join(BACKENDS)))
    return spec


def started(folder, state):
    return {"schema": "edgemem.bench.started/1", "run_id": folder.run_id, "state": state,
            "supervisor_pid": folder.supervisor_pid(), "dir": folder.dir}


def spawn(folder, lock):
    """The supervisor in its own session, holding the lock handle, marked as the run's."""
    argv, env = self_command("supervise", "--base", folder.base, "--run-id", folder.run_id, "--lock-fd", str(lock.fd))
    env[MARKER_ENV] = folder.marker
    with open(folder.path("supervisor.log"), "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=folder.dir, env=env,
                                start_new_session=True, pass_fds=(lock.fd,))
    folder.write_pid(proc.pid)
    lock.set_holder({"run_id": folder.run_id, "supervisor_pid": proc.pid, "marker": folder.marker,
                     "started_utc": now_utc()})
    return proc.pid


def command_start(args):
    spec = read_spec(args.spec)
    folder = RunFolder(args.base, spec.get("run_id") or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-%d" % os.getpid())
    if os.path.isdir(folder.dir):
        return started(folder, "already started")  # a start retried after a lost connection

    def waiting(holder, waited_s):
        emit(PROGRESS_PREFIX, {"run_id": folder.run_id, "stage": "queue", "phase": "waiting",
                               "info": {"holder": holder.get("run_id"), "waited_s": round(waited_s, 1)}})

    lock = acquire(args.lock_file, float(args.lock_wait), waiting)
    try:
        prune(args.base, folder.run_id, salvage_dead)
        folder.create(spec)
        try:
            folder.reserve(int(supervision(spec).get("reserve_bytes", RESERVE_BYTES)))
            spawn(folder, lock)
        except AgentFailure as exc:
            folder.write_result(failed(folder, spec, exc))
            raise
    finally:
        lock.close()
    return started(folder, "started")


def failed(folder, spec, failure):
    job = Job(folder, spec)
    finish(job, failure, write=False)
    return job.result


def install_signals(job, folder):
    def on_signal(signum, frame):
        request = folder.cancel_request() or {}
        job.stop(AgentFailure(request.get("code") or "cancelled",
                              request.get("message") or "cancelled on the device (signal %d)" % signum, job.stage_name))

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the SSH session that started the run may end


def heartbeat(job, done):
    while not done.wait(1.0):
        try:
            job.folder.beat(job.stage_name)
        except (IOError, OSError) as exc:
            job.on_write_error(exc)


def command_supervise(args):
    folder = RunFolder.existing(args.base, args.run_id)
    job = Job(folder, folder.spec() or {}, lock_fds=(args.lock_fd,))
    install_signals(job, folder)
    folder.beat(job.stage_name)
    done = threading.Event()
    beat = threading.Thread(target=heartbeat, args=(job, done))
    beat.daemon = True
    beat.start()
    failure = None
    try:
        job.execute()
    except AgentFailure as exc:
        failure = exc
    except Exception as exc:  # a bug in the agent: still a result
        failure = AgentFailure("internal", "%s: %s" % (type(exc).__name__, exc), job.stage_name)
    finally:
        for pid in list(job.children):
            kill_group(pid)
    finish(job, failure)
    done.set()
    return job.result


def finish(job, failure, write=True):
    """Status, error, overhead and artifacts; result.json (room comes from the reserve if needed)."""
    result = job.result
    if failure is not None:
        reason = job.stop_reason or failure
        if failure is not None and reason is not failure and reason.stage is None:
            reason.stage = failure.stage
        result["status"] = "error"
        result["error"] = reason.document()
        result["partial"] = bool(result["stages"])
    else:
        result["status"] = "ok"
    result["elapsed_s"] = round(time.monotonic() - job.started, 4)
    times = os.times()
    result["agent"] = {"hwm_bytes": (proc_status("self") or {}).get("hwm_bytes"), "cpu_s": round(times.user + times.system, 4),
                       "method": "the agent process's own VmHWM and user+system CPU time (children excluded)"}
    if write:
        result["artifacts"] = job.folder.artifacts() + ["result.json"]
        job.folder.write_result(result)
        job.progress("finish", result["status"])
