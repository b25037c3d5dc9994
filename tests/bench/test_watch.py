"""RunWatch: a connection that stays down is retried with backoff, then given up with the way back."""

from __future__ import annotations

import time

import pytest

from edgemem.bench.device import Device, RetryPolicy
from edgemem.bench.errors import ConnectionLostError
from edgemem.bench.stop import StopRequest
from edgemem.bench.transport import Completed, LocalTransport
from edgemem.bench.watch import RunWatch, WatchPolicy


class DownTransport(LocalTransport):
    """Every device command fails as ssh does when the host is gone (status 255)."""

    name = "orin"
    remote = True

    def __init__(self) -> None:
        self.reconnects = 0

    def command(self, argv: list[str]) -> list[str]:
        return ["sh", "-c", "echo 'ssh: connect to host orin port 22: Connection refused' >&2; exit 255"]

    def check(self, done: Completed, what: str) -> Completed:
        if done.returncode == 255:
            raise ConnectionLostError(f"ssh to {self.name} failed during {what}: {done.stderr_text.strip()}")
        return done

    def reconnect(self) -> None:
        self.reconnects += 1


def test_a_connection_that_stays_down_is_given_up_with_the_attach_command():
    transport = DownTransport()
    device = Device(transport, "/base", "python3", retry=RetryPolicy(window_s=1.0, first_pause_s=0.1, max_pause_s=0.2))
    said = []
    policy = WatchPolicy(reconnect_s=1.0, first_pause_s=0.1, max_pause_s=0.2)
    watch = RunWatch(device, "r-1", time.monotonic() + 600, StopRequest(), policy, lambda doc: None, said.append, "orin")
    with pytest.raises(ConnectionLostError) as caught:
        watch.result()
    message = caught.value.one_line()
    assert "could not re-establish it within 1 s" in message and "goes on on the device" in message
    assert "edgemem bench --attach r-1 --host orin" in message
    assert transport.reconnects >= 2 and any("reconnecting" in line for line in said)


def test_a_stop_request_while_the_host_is_down_says_the_run_goes_on():
    transport = DownTransport()
    device = Device(transport, "/base", "python3", retry=RetryPolicy(window_s=0.5, first_pause_s=0.1, max_pause_s=0.1))
    stop = StopRequest()
    stop.request("cancelled", "cancelled by the test", 130)
    watch = RunWatch(device, "r-2", time.monotonic() + 600, stop, WatchPolicy(), lambda doc: None, lambda text: None, "orin")
    with pytest.raises(ConnectionLostError, match="could not reach orin to stop run r-2"):
        watch.result()
