"""The per-device bench lock: one measuring run at a time on the machine, with stale-lock recovery.

The lock is a file every user can open (DEFAULT_PATH; ``--lock-file`` for another, as tests do)
held with flock by the run's supervisor and passed to every child it starts, so the kernel
releases it only when the last process of the run has ended (a crash included). It holds no
data; ``<lock>.<uid>.json`` (this user's only) says which of this user's runs holds it. A lock
held only by the orphaned children of a dead supervisor is stale: they are ended, the lock taken.
"""

import errno
import fcntl
import os
import time

from .common import AgentFailure, read_json, write_json_atomic
from .procs import alive, has_marker, marked_pids, terminate

BUSY_ERRNOS = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
DEFAULT_PATH = "/tmp/edgemem-bench.lock"


class DeviceLock(object):
    def __init__(self, path=None):
        self.path = path or DEFAULT_PATH
        self.holder_path = "%s.%d.json" % (self.path, os.getuid())
        self.fd = None

    def open(self):
        """A handle on the lock file (created readable by all: flock needs no write access)."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM):
                raise
            return os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)  # another user's lock file
        try:
            os.fchmod(fd, 0o644)
        except OSError:
            pass
        return fd

    def try_acquire(self):
        fd = self.open()
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


SETTLE_S = 2.0  # how long a dead run's exiting orphans may keep its lock after they were ended


def stale(holder):
    """True when the holder's supervisor is gone (only orphans of its run can hold the lock)."""
    pid, marker = holder.get("supervisor_pid"), holder.get("marker")
    if not pid or not marker:
        return False
    return not (alive(pid) and has_marker(pid, marker))


def recover(holder):
    """End the orphaned processes of a dead run so that its lock is released."""
    return terminate(marked_pids(holder["marker"]), 2.0)


def busy_message(lock, holder, waited_s):
    if holder and not stale(holder):
        who = "run %s (started %s)" % (holder.get("run_id"), holder.get("started_utc"))
    else:
        who = "another bench (another user's, or another --remote-dir's)"
    return "the device is busy: %s holds its bench lock %s; waited %.0f s" % (who, lock.path, waited_s)


def acquire(path, wait_s, on_wait=None):
    """The device lock, waiting up to ``wait_s`` (0: refuse at once when busy) -> DeviceLock."""
    lock = DeviceLock(path)
    began = time.monotonic()
    noted = None
    recovered = {}  # run id -> when its orphans were ended
    while not lock.try_acquire():
        holder = lock.holder()
        run_id = holder.get("run_id")
        if stale(holder):
            if run_id not in recovered:
                recovered[run_id] = time.monotonic()
                recover(holder)
                continue
            if time.monotonic() - recovered[run_id] < SETTLE_S:
                time.sleep(0.05)  # an orphan still exiting (already past the scan) holds it a moment longer
                continue
        waited = time.monotonic() - began
        if waited >= wait_s:
            raise AgentFailure("busy", busy_message(lock, holder, waited), "queue")
        if on_wait is not None and (noted is None or time.monotonic() - noted >= 5.0):
            noted = time.monotonic()
            on_wait(holder, waited)
        time.sleep(0.2)
    return lock
