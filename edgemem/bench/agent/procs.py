"""Child processes: quiet commands, process groups, and every process of a run.

Every process a run starts carries the run's marker in its environment (MARKER_ENV); a sweep
finds them again through /proc/<pid>/environ, whatever process group or session they are in,
and ends them: SIGTERM (with SIGCONT, so a stopped process can act on it), then SIGKILL after a
grace period.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

from .common import AgentFailure, sha256_file
from .wire import MARKER_ENV, SHA_ENV


def run_quiet(argv, timeout_s, env=None):
    """(returncode, combined output) of a short command; (None, reason) when it cannot run."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    except OSError as exc:
        return None, str(exc)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        return None, "timed out after %.0f s" % timeout_s
    return proc.returncode, out.decode("utf-8", "replace")


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
        return True
    except (OSError, ProcessLookupError):
        return False


def send(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except (OSError, ProcessLookupError):
        return False


def find_tool(name, override=None, extra=()):
    if override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for path in extra:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def pid_state(pid):
    """The process state letter from /proc/<pid>/stat (R, S, D, T, t, Z, X ...); None when gone."""
    try:
        with open("/proc/%d/stat" % int(pid), "rb") as handle:
            text = handle.read().decode("ascii", "replace")
    except (IOError, OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2:].split()
    return fields[0] if fields else None


def alive(pid):
    return pid_state(pid) not in (None, "Z", "X")


def stopped(pid):
    return pid_state(pid) in ("T", "t")


def marker_of(pid):
    """The run marker in the environment of ``pid`` (None when it has none or is not readable)."""
    try:
        with open("/proc/%d/environ" % pid, "rb") as handle:
            entries = handle.read().split(b"\0")
    except (IOError, OSError):
        return None
    prefix = ("%s=" % MARKER_ENV).encode()
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def has_marker(pid, marker):
    return marker_of(pid) == marker


def live_markers():
    """{marker: [pid, ...]} of every live process (not this one) that carries a run marker."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        marker = marker_of(int(name))
        if marker is not None and alive(int(name)):
            found.setdefault(marker, []).append(int(name))
    return found


def marked_pids(marker):
    """Live processes (not this one) whose environment carries ``marker``."""
    return sorted(live_markers().get(marker, []))


def terminate(pids, grace_s):
    """SIGTERM + SIGCONT to each process and its group, SIGKILL what is left after ``grace_s``."""
    own = os.getpgid(0)
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except OSError:
            pass
    groups.discard(own)
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for group in groups:
            kill_group(group, sig)
        for pid in pids:
            send(pid, sig)
    left = wait_gone(pids, grace_s)
    for group in groups:
        kill_group(group, signal.SIGKILL)
    for pid in left:
        send(pid, signal.SIGKILL)
    still = wait_gone(left, 5.0)
    return {"terminated": sorted(set(pids) - set(left)), "killed": sorted(set(left) - set(still)), "left": still}


def wait_gone(pids, timeout_s):
    """Wait until none of ``pids`` is alive (reaping our own children); those still alive."""
    end = time.monotonic() + max(timeout_s, 0.0)
    while True:
        for pid in pids:
            try:
                os.waitpid(pid, os.WNOHANG)
            except OSError:
                pass
        left = [pid for pid in pids if alive(pid)]
        if not left or time.monotonic() >= end:
            return left
        time.sleep(0.05)


def archive_path():
    """The zipapp this agent runs from, or None when it runs from a source tree."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return root if os.path.isfile(root) else None


def self_command(*args):
    """(argv, environment) that run this agent again, after checking the archive is unchanged."""
    archive = archive_path()
    env = dict(os.environ)
    if archive is None:  # a source tree: python -m edgemem.bench.agent
        top = os.path.dirname(os.path.abspath(__file__))
        for _ in __package__.split("."):
            top = os.path.dirname(top)
        env["PYTHONPATH"] = os.pathsep.join([top] + [p for p in [env.get("PYTHONPATH")] if p])
        return [sys.executable, "-u", "-m", __package__] + list(args), env
    want = env.get(SHA_ENV)
    if want and sha256_file(archive) != want:
        raise AgentFailure("integrity", "the agent archive %s changed on disk since it started; refusing to run it" % archive)
    return [sys.executable, "-u", archive] + list(args), env
