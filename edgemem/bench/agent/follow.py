"""``follow``: a run's progress events on stdout until its result, resumable from a byte offset.

A beat line every second keeps the connection honest (a write to a closed connection ends this
command, never the run). When the run's supervisor is gone, stopped or silent, ``follow`` ends
with a fault document instead of waiting forever; the host then cancels the run, which ends
whatever is left of it and salvages a partial result.
"""

import json
import time

from .common import emit
from .folder import RunFolder
from .wire import BEAT_PREFIX, FOLLOW_SCHEMA, PROGRESS_PREFIX


class ReaderGone(Exception):
    """The host end of the connection is closed; nothing more can be said."""


def pass_events(folder, offset):
    for text, after in folder.events_from(offset):
        if not emit_raw(PROGRESS_PREFIX, text, after):
            raise ReaderGone()
        offset = after
    return offset


def emit_raw(prefix, text, offset):
    """An event line as the agent wrote it, with the offset after it (for a resumed follow)."""
    try:
        document = json.loads(text)
    except ValueError:
        return True
    document["offset"] = offset
    return emit(prefix, document)


def follow(base, run_id, offset=0, stall_s=60.0, poll_s=0.1):
    """The run's result document, or a fault document when its supervisor cannot finish it."""
    folder = RunFolder.existing(base, run_id)
    beat_at = 0.0
    while True:
        offset = pass_events(folder, offset)
        result = folder.result()
        if result is not None:
            pass_events(folder, offset)
            return result
        fault = folder.supervisor_fault(stall_s)
        if fault is not None and folder.result() is None:
            return {"schema": FOLLOW_SCHEMA, "run_id": run_id, "status": "fault", "offset": offset,
                    "error": {"code": "agent_fault", "stage": (folder.state() or {}).get("stage"), "message": fault}}
        if time.monotonic() - beat_at >= 1.0:
            beat_at = time.monotonic()
            if not emit(BEAT_PREFIX, {"run_id": run_id, "offset": offset}):
                raise ReaderGone()
        time.sleep(poll_s)


def command_follow(args):
    return follow(args.base, args.run_id, int(args.offset), float(args.stall_s))
