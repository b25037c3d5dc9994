"""``cancel``: stop a run for a reason; TERM, then KILL after a grace period; its (partial) result.

The reason (code and message) is written first, so the supervisor's result says why. Then the
supervisor gets SIGTERM and SIGCONT (a stopped one can act on it); it stops its stage child the
same way and writes the partial result. Whatever still carries the run's marker after that is
swept: SIGTERM + SIGCONT, SIGKILL after the grace period. A run whose supervisor left no result
gets a salvaged one.
"""

import signal
import time

from .folder import RunFolder
from .procs import alive, has_marker, marked_pids, send, terminate
from .salvage import salvage
from .wire import CANCEL_SCHEMA

RESULT_WAIT_MARGIN_S = 10.0


def signal_supervisor(folder):
    pid = folder.supervisor_pid()
    if pid is None or not alive(pid) or not has_marker(pid, folder.marker):
        return None
    send(pid, signal.SIGTERM)
    send(pid, signal.SIGCONT)
    return pid


def wait_for_result(folder, pid, timeout_s):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and folder.result() is None and alive(pid):
        time.sleep(0.05)
    return folder.result()


def cancel(base, run_id, code, message, grace_s):
    folder = RunFolder.existing(base, run_id)
    supervisor = None
    if folder.result() is None:
        try:
            folder.request_cancel(code, message)
        except (IOError, OSError):  # a full disk: the supervisor then says "cancelled" without our reason
            pass
        supervisor = signal_supervisor(folder)
        if supervisor is not None:
            wait_for_result(folder, supervisor, grace_s + RESULT_WAIT_MARGIN_S)
    swept = terminate(marked_pids(folder.marker), grace_s)
    result = folder.result()
    if result is None:
        result = salvage(folder, code, message)
        try:
            folder.write_result(result)
        except (IOError, OSError) as exc:
            result["warnings"].append("this result could not be stored on the device: %s" % exc)
    return {"schema": CANCEL_SCHEMA, "run_id": run_id, "supervisor_signalled": supervisor, "swept": swept,
            "left": swept["left"], "result": result}


def command_cancel(args):
    return cancel(args.base, args.run_id, args.code, args.message, float(args.grace))
