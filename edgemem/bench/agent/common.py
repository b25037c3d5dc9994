"""Failures, result lines, JSON files and disk-full detection shared by every command."""

import errno
import hashlib
import json
import os
import re
import sys
import time

from .wire import ERROR_EXIT

# a full disk, an exhausted quota and RLIMIT_FSIZE all mean "no room to write"
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
OOM_PATTERNS = re.compile(
    r"MemoryError|bad_alloc|out of memory|OutOfMemory|insufficient memory|could not be allocated|"
    r"Failed to allocate memory|cudaErrorMemoryAllocation|std::bad_alloc", re.IGNORECASE)


class AgentFailure(Exception):
    """A failure with an error code from ERROR_EXIT; ends the command with a result line."""

    def __init__(self, code, message, stage=None):
        Exception.__init__(self, message)
        self.code = code if code in ERROR_EXIT else "internal"
        self.message = message
        self.stage = stage

    def document(self):
        return {"code": self.code, "stage": self.stage, "message": self.message,
                "retriable": self.code in ("timeout", "cancelled", "busy")}


def is_disk_full(exc):
    return isinstance(exc, (IOError, OSError)) and getattr(exc, "errno", None) in DISK_FULL_ERRNOS


def disk_full(exc, what, stage=None):
    """The AgentFailure for a write that found no room (other OSErrors pass through unchanged)."""
    if is_disk_full(exc):
        return AgentFailure("disk_full", "no room to write %s on the device: %s" % (what, os.strerror(exc.errno)), stage)
    return exc


def now_utc():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def emit(prefix, document):
    """One line, flushed at once (the host reads it as it comes); False when the reader is gone."""
    line = prefix + json.dumps(document, sort_keys=True, separators=(",", ":"))
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return True
    except (IOError, OSError):  # the connection went away; the run folder still holds everything
        return False


def write_json_atomic(path, document):
    """Write to a temporary name, flush to disk, rename (readers never see half a file)."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w") as handle:
            json.dump(document, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_line(path, document):
    """Append one JSON line (flushed to the kernel, so a killed writer keeps what it wrote)."""
    with open(path, "a") as handle:
        handle.write(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")


def read_text(path, limit=65536):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def read_json(path, limit=1 << 26):
    """The JSON document in ``path``; None when it is missing or not (yet) valid JSON."""
    text = read_text(path, limit)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_json_lines(path, limit=1 << 26):
    """Every complete, valid JSON line of ``path`` (a line cut by a kill is skipped)."""
    text = read_text(path, limit) or ""
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def tail(path, lines=40):
    text = read_text(path, 1 << 20)
    if not text:
        return []
    return text.splitlines()[-lines:]


def sysroot(path):
    """Device files are read below EDGEMEM_AGENT_SYSROOT when set (recorded-device replays)."""
    root = os.environ.get("EDGEMEM_AGENT_SYSROOT")
    return os.path.join(root, path.lstrip("/")) if root else path


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def private_dir(path):
    """Create ``path`` (and parents) readable by this user only; tighten it when it exists."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path
