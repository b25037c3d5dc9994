"""One way to stop a bench: Ctrl-C, SIGTERM, the host's deadline and agent faults all end up here.

A ``StopRequest`` is an Event with a reason. ``stop_on_signals`` turns SIGINT and SIGTERM into a
stop request for as long as the bench runs (main thread only), instead of an exception at an
arbitrary line: every device then cancels its remote job, saves the partial result and closes
its connection, and the command exits 130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
SIGNAL_NAME = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}


class StopRequest(threading.Event):
    """Set once, with the agent error code and message the stopped run will carry."""

    def __init__(self) -> None:
        super().__init__()
        self.code = "cancelled"
        self.message = "cancelled on the host"
        self.exit_code: int | None = None  # 130 / 143 when a signal asked for it

    def request(self, code: str, message: str, exit_code: int | None = None) -> None:
        if not self.is_set():
            self.code, self.message, self.exit_code = code, message, exit_code
            self.set()


@contextlib.contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[StopRequest]:
    """SIGINT/SIGTERM request a stop while the block runs (a no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_signal(signum, frame) -> None:
        stop.request("cancelled", f"cancelled by {SIGNAL_NAME[signum]} on the host", SIGNAL_EXIT[signum])

    previous = {sig: signal.signal(sig, on_signal) for sig in SIGNAL_EXIT}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
