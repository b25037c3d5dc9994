"""The per-device bench lock: one measuring run at a time, with stale-lock recovery.

``device.lock`` is held with flock by the run's supervisor and passed to every child it starts,
so the kernel releases it only when the last process of the run has ended (a crash included).
``device.lock.json`` says who holds it. A lock held only by the orphaned children of a dead
supervisor is stale: those processes are ended and the lock taken.
"""

import errno
import fcntl
import os
import time

from .common import AgentFailure, read_json, write_json_atomic
from .procs import alive, has_marker, marked_pids, terminate

BUSY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)


class DeviceLock(object):
    def __init__(self, base):
        self.path = os.path.join(base, "device.lock")
        self.holder_path = self.path + ".json"
        self.fd = None

    def try_acquire(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (IOError, OSError) as exc:
            os.close(fd)
            if exc.errno in BUSY_ERRNOS:
                return False
            raise
        self.fd = fd
        return True

    def holder(self):
        return read_json(self.holder_path) or {}

    def set_holder(self, document):
        write_json_atomic(self.holder_path, document)

    def close(self):
        """Close this process's handle (the lock lasts while a child still holds its copy)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def stale(holder):
    """True when the holder's supervisor is gone (only orphans of its run can hold the lock)."""
    pid, marker = holder.get("supervisor_pid"), holder.get("marker")
    if not pid or not marker:
        return False
    return not (alive(pid) and has_marker(pid, marker))


def recover(holder):
    """End the orphaned processes of a dead run so that its lock is released."""
    return terminate(marked_pids(holder["marker"]), 2.0)


def busy_message(holder, waited_s):
    who = "run %s (started %s)" % (holder.get("run_id"), holder.get("started_utc")) if holder else "another run"
    return "the device is busy: %s holds its bench lock; waited %.0f s" % (who, waited_s)


def acquire(base, wait_s, on_wait=None):
    """The device lock, waiting up to ``wait_s`` (0: refuse at once when busy) -> DeviceLock."""
    lock = DeviceLock(base)
    began = time.monotonic()
    noted = None
    recovered = set()
    while not lock.try_acquire():
        holder = lock.holder()
        if stale(holder) and holder.get("run_id") not in recovered:
            recovered.add(holder.get("run_id"))
            recover(holder)
            continue
        waited = time.monotonic() - began
        if waited >= wait_s:
            raise AgentFailure("busy", busy_message(holder, waited), "queue")
        if on_wait is not None and (noted is None or time.monotonic() - noted >= 5.0):
            noted = time.monotonic()
            on_wait(holder, waited)
        time.sleep(0.2)
    return lock
