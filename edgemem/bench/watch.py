"""Following a started run to its result, over a connection that may drop.

The run lives on the device (a detached supervisor); this side only follows it. ``follow``
streams progress with byte offsets and a beat every second. When the stream ends without a
result, or says nothing for ``stall_s``, the connection is treated as lost: it is rebuilt with
backoff and followed again from the last offset, for up to ``reconnect_s``. A stop request
(Ctrl-C, SIGTERM), the host's deadline and an agent fault (its supervisor killed, stopped or
silent) all take the one cancel path: the agent's ``cancel`` (TERM, KILL after the grace
period, of every process of the run), which returns the partial result.
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass
from typing import Callable

from edgemem.bench import protocol
from edgemem.bench.device import Device, tail_text
from edgemem.bench.errors import AgentError, ConnectionLostError, is_transient
from edgemem.bench.stop import StopRequest


@dataclass(frozen=True)
class WatchPolicy:
    reconnect_s: float = 120.0  # how long a lost connection is retried before giving up (the run goes on)
    stall_s: float = 30.0  # silence on the follow stream (beats come every second) that means it is lost
    agent_stall_s: float = 60.0  # the supervisor's heartbeat silence that the agent reports as a fault
    cancel_grace_s: float = 5.0  # SIGTERM, then SIGKILL this much later
    first_pause_s: float = 1.0
    max_pause_s: float = 15.0


class RunWatch:
    """Follows one run; ``result()`` is its result document, partial when it was stopped."""

    def __init__(self, device: Device, run_id: str, deadline: float, stop: StopRequest, policy: WatchPolicy,
                 on_progress: Callable[[dict], None], say: Callable[[str], None], attach_host: str) -> None:
        self.device, self.run_id, self.deadline, self.stop, self.policy = device, run_id, deadline, stop, policy
        self.on_progress, self.say = on_progress, say
        self.attach = f"edgemem bench --attach {run_id} --host {attach_host}"
        self.offset = 0
        self.notes: list[str] = []

    def result(self) -> dict:
        lost_at, pause = None, self.policy.first_pause_s
        while True:
            if self.stop.is_set():
                return self.cancel(self.stop.code, self.stop.message)
            if time.monotonic() > self.deadline:
                return self.cancel("timeout", "the host's deadline passed (the job's --timeout plus a margin); "
                                              "the remote job was stopped")
            kind, payload = self.follow_once()
            if kind == "result":
                if lost_at is not None:
                    self.notes.append(f"the connection was lost during the run and re-established after "
                                      f"{time.monotonic() - lost_at:.0f} s; the run went on meanwhile")
                return payload
            if kind == "fault":
                return self.cancel("agent_fault", payload["error"]["message"])
            if kind == "lost":
                lost_at = lost_at or time.monotonic()
                self.reconnect(payload, lost_at, pause)
                pause = min(pause * 2, self.policy.max_pause_s)

    def reconnect(self, error: Exception, lost_at: float, pause: float) -> None:
        if not is_transient(error):
            raise error
        if time.monotonic() - lost_at + pause > self.policy.reconnect_s:
            raise ConnectionLostError(f"lost the connection to {self.device.name} during run {self.run_id} and could not "
                                      f"re-establish it within {self.policy.reconnect_s:.0f} s ({error.one_line()}); the "
                                      "run goes on on the device and keeps its result until fetched",
                                      hint=self.attach)
        self.say(f"{self.device.name}: connection lost during run {self.run_id} ({error.one_line()}); reconnecting in {pause:.0f} s")
        if not self.stop.wait(pause):
            self.device.reconnect_quietly()

    def follow_once(self) -> tuple[str, object]:
        """("result" | "fault", document), ("lost", error), or ("stopped", None) when asked to stop."""
        try:
            stream = self.device.follow(self.run_id, self.offset, self.policy.agent_stall_s)
        except Exception as exc:
            return "lost", exc
        final, heard = None, time.monotonic()
        try:
            while True:
                if self.stop.is_set() or time.monotonic() > self.deadline:
                    return "stopped", None
                try:
                    line = stream.next_line(0.2)
                except queue.Empty:
                    if time.monotonic() - heard > self.policy.stall_s:
                        return "lost", ConnectionLostError(f"no word from the agent on {self.device.name} for "
                                                           f"{self.policy.stall_s:.0f} s")
                    continue
                if line is None:
                    break
                heard = time.monotonic()
                final = self.take(line) or final
            done = stream.finish()
        finally:
            stream.stop()
        return self.ending(final, done)

    def take(self, line: str) -> dict | None:
        kind, document = protocol.parse_line(line)
        if kind in ("progress", "beat") and isinstance(document, dict):
            self.offset = max(self.offset, int(document.get("offset") or 0))
            if kind == "progress":
                self.on_progress(document)
        return document if kind == "result" and isinstance(document, dict) else None

    def ending(self, final: dict | None, done) -> tuple[str, object]:
        if final is not None and final.get("schema") == protocol.FOLLOW_SCHEMA:
            return "fault", final
        if final is not None and final.get("schema") == protocol.ERROR_SCHEMA:
            error = final.get("error") or {}
            raise AgentError(f"cannot follow run {self.run_id} on {self.device.name}: {error.get('message')}",
                             error.get("code", "internal"), error.get("stage"), final,
                             hint=protocol.ERROR_MEANING.get(error.get("code")))
        if final is not None:
            return "result", final
        try:
            self.device.transport.check(done, "follow")
        except Exception as exc:
            return "lost", exc
        return "lost", ConnectionLostError(f"following run {self.run_id} on {self.device.name} ended without a result "
                                           f"(exit {done.returncode}): {tail_text(done)}")

    def cancel(self, code: str, message: str) -> dict:
        """The one cancel path: the agent stops every process of the run and returns its partial result."""
        self.say(f"{self.device.name}: stopping run {self.run_id}: {message}")
        try:
            document = self.device.cancel(self.run_id, code, message, self.policy.cancel_grace_s)
        except Exception as exc:
            if is_transient(exc):
                raise ConnectionLostError(f"could not reach {self.device.name} to stop run {self.run_id} ({exc.one_line()}); "
                                          "the agent stops it at its own deadline and keeps its result", hint=self.attach) from None
            raise
        if document.get("left"):
            self.notes.append(f"processes of the run still alive after SIGKILL: {document['left']}")
        return document["result"]
