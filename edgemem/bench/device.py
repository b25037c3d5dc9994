"""Talking to the agent on a device through a transport: upload, probe, start, follow, cancel, fetch.

Every agent command goes through the launcher (edgemem.bench.package.LAUNCHER), which checks the
uploaded archive against its sha256 first: a missing agent is uploaded, a modified one replaced
(with a warning). Blobs are content-addressed and re-hashed by the agent; a corrupt one is
uploaded again. Commands whose connection fails transiently are retried with backoff
(RetryPolicy); every one of them is safe to repeat (``start`` of a started run says so).
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgemem.bench import protocol
from edgemem.bench.errors import AgentError, RemoteCommandError, is_transient
from edgemem.bench.package import LAUNCHER, agent_archive, agent_remote_name, agent_sha256
from edgemem.bench.transport import NOT_FOUND, Completed, StreamingProcess, Transport

MAX_ARTIFACTS_BYTES = 256 << 20
DISK_FULL_TEXTS = ("No space left on device", "Disk quota exceeded", "File too large")


@dataclass(frozen=True)
class Upload:
    sha256: str
    uploaded: bool  # False: it was already on the device
    bytes: int


@dataclass(frozen=True)
class RetryPolicy:
    """Transient connection failures are retried for ``window_s`` with doubling pauses."""

    window_s: float = 120.0
    first_pause_s: float = 1.0
    max_pause_s: float = 15.0


class Device:
    """One device (or this machine) reached through ``transport``."""

    def __init__(self, transport: Transport, base: str | None = None, python: str | None = None,
                 command_timeout_s: float = 120.0, retry: RetryPolicy = RetryPolicy(),
                 stop: threading.Event | None = None, notify: Callable[[str], None] | None = None,
                 lock_file: str | None = None) -> None:
        self.transport = transport
        self.lock_args = ("--lock-file", lock_file) if lock_file else ()
        self.base = base or transport.default_base()
        self.python = python or transport.default_python()
        self.command_timeout_s = command_timeout_s
        self.retry = retry
        self.stop = stop or threading.Event()
        self.notify = notify or (lambda text: None)
        self.agent_path = f"{self.base.rstrip('/')}/{agent_remote_name()}"
        self.agent_uploaded: bool | None = None
        self.warnings: list[str] = []

    @property
    def name(self) -> str:
        return self.transport.name

    def agent_argv(self, *args: str) -> list[str]:
        return [self.python, "-u", "-c", LAUNCHER, self.agent_path, agent_sha256(), args[0], "--base", self.base, *args[1:]]

    # ---- retries

    def retrying(self, action: Callable[[], object], what: str, window_s: float | None = None, interruptible: bool = True):
        """``action()``; transient connection failures are retried with backoff within the window
        (a stop request ends the waiting unless ``interruptible`` is False: the cancel itself)."""
        began, pause, attempt = time.monotonic(), self.retry.first_pause_s, 0
        window = self.retry.window_s if window_s is None else window_s
        while True:
            try:
                return action()
            except Exception as exc:
                attempt += 1
                if not is_transient(exc) or time.monotonic() - began + pause > window:
                    raise
                self.notify(f"{what} on {self.name}: {exc.one_line()}; retrying in {pause:.0f} s (attempt {attempt + 1})")
                if interruptible and self.stop.wait(pause):
                    raise
                if not interruptible:
                    time.sleep(pause)
                pause = min(pause * 2, self.retry.max_pause_s)
                self.reconnect_quietly()

    def reconnect_quietly(self) -> None:
        try:
            self.transport.reconnect()
        except Exception as exc:  # the next attempt reports it (or it is retried again)
            if not is_transient(exc):
                raise

    # ---- one command

    def run_command(self, args: tuple[str, ...], stdin: bytes | None, stdin_path: Path | None, timeout_s: float) -> tuple[Completed, dict | None]:
        done = self.transport.execute(self.agent_argv(*args), timeout_s, stdin=stdin, stdin_path=stdin_path,
                                      what=f"agent {args[0]}")
        if done.returncode == NOT_FOUND and protocol.final_document(done.stdout.decode("utf-8", "replace")) is None:
            raise RemoteCommandError(f"{self.python!r} not found on {self.name}",
                                     hint="pass --remote-python with the device's Python 3 (e.g. /usr/bin/python3)")
        return done, protocol.final_document(done.stdout.decode("utf-8", "replace"))

    def call(self, *args: str, stdin: bytes | None = None, stdin_path: Path | None = None,
             timeout_s: float | None = None, window_s: float | None = None, interruptible: bool = True) -> dict:
        """Run one agent command (retried when the connection fails) and return its document."""
        def once() -> dict:
            done, document = self.run_command(args, stdin, stdin_path, timeout_s or self.command_timeout_s)
            if document is None:
                raise RemoteCommandError(f"agent {args[0]} on {self.name} gave no result (exit {done.returncode}): "
                                         f"{tail_text(done)}")
            if document.get("status") == "error":
                error = document.get("error") or {}
                code = error.get("code", "internal")
                raise AgentError(f"agent {args[0]} on {self.name}: {error.get('message')}", code, error.get("stage"),
                                 document, hint=protocol.ERROR_MEANING.get(code))
            return document

        return self.retrying(once, f"agent {args[0]}", window_s, interruptible)

    # ---- the agent and the blobs

    def ensure_agent(self) -> bool:
        """Upload the agent unless this exact archive is there and intact; True when it was uploaded."""
        try:
            self.call("hello")
            self.agent_uploaded = False
            return False
        except AgentError as exc:
            if exc.agent_code not in ("agent_missing", "integrity"):
                raise
            if exc.agent_code == "integrity":
                self.warnings.append(f"the agent on the device did not match its hash ({exc.message}); it was replaced")
        self.retrying(self.upload_agent, "agent upload")
        self.call("hello")
        self.agent_uploaded = True
        return True

    def upload_agent(self) -> None:
        script = 'umask 077 && mkdir -p -- "$1" && cat > "$2.tmp.$$" && mv -f -- "$2.tmp.$$" "$2"'
        done = self.transport.execute(["sh", "-c", script, "sh", self.base, self.agent_path], self.command_timeout_s,
                                      stdin=agent_archive(), what="agent upload")
        if done.returncode != 0:
            if any(text in done.stderr_text for text in DISK_FULL_TEXTS):
                raise AgentError(f"cannot upload the agent to {self.name}: {tail_text(done)}", "disk_full", "upload",
                                 hint=protocol.ERROR_MEANING["disk_full"])
            raise RemoteCommandError(f"cannot upload the agent to {self.name}: {tail_text(done)}")

    def ensure_blobs(self, files: dict[str, tuple[Path, str]], timeout_s: float = 3600.0) -> dict[str, Upload]:
        """Upload each (path, sha256) unless the device already has that content, intact."""
        shas = sorted({sha for _, sha in files.values()})
        answer = self.call("have", *shas) if shas else {"present": [], "corrupt": []}
        present = set(answer["present"])
        for sha in answer.get("corrupt") or []:
            self.warnings.append(f"blob {sha[:16]} on the device did not match its hash (modified after upload); it was "
                                 "removed there and uploaded again")
        uploads = {}
        for key, (path, sha) in files.items():
            if sha not in present:
                self.call("put", "--sha256", sha, stdin_path=path, timeout_s=timeout_s)
                present.add(sha)
            uploads[key] = Upload(sha, sha not in answer["present"], path.stat().st_size)
        return uploads

    def probe(self, tools: dict | None = None, modules: tuple[str, ...] | None = None) -> dict:
        """Device facts; ``modules`` limits the runtime checks (each is a slow import on the device)."""
        extra = ("--modules", ",".join(modules)) if modules is not None else ()
        return self.call("probe", "--tools", json.dumps(tools or {}), *extra, timeout_s=90)

    # ---- runs

    def busy(self) -> dict | None:
        """The run that holds the device's bench lock, or None."""
        return self.call("hello", *self.lock_args).get("busy")

    def start(self, spec: dict, lock_wait_s: float) -> dict:
        return self.call("start", "--spec", "-", "--lock-wait", str(lock_wait_s), *self.lock_args, stdin=json.dumps(spec).encode(),
                         timeout_s=lock_wait_s + self.command_timeout_s)

    def follow(self, run_id: str, offset: int, stall_s: float) -> StreamingProcess:
        return self.transport.stream(self.agent_argv("follow", "--run-id", run_id, "--offset", str(offset),
                                                     "--stall-s", str(stall_s)))

    def cancel(self, run_id: str, code: str, message: str, grace_s: float) -> dict:
        """Stop the run (TERM, KILL after ``grace_s``) and return its result (partial when it stopped early)."""
        return self.call("cancel", "--run-id", run_id, "--code", code, "--message", message, "--grace", str(grace_s),
                         timeout_s=grace_s * 2 + 60, window_s=min(self.retry.window_s, 30.0), interruptible=False)

    def ack(self, run_id: str) -> None:
        self.call("ack", "--run-id", run_id)

    def fetch_artifacts(self, run_id: str, dest: Path) -> list[str]:
        """The run's raw files (logs, samples) into ``dest``; names of the files written."""
        def once() -> Completed:
            return self.transport.check(self.transport.execute(self.agent_argv("pack", "--run-id", run_id),
                                                               self.command_timeout_s, what="fetch"), "fetch")

        done = self.retrying(once, "fetch")
        if done.returncode != 0:
            raise RemoteCommandError(f"cannot fetch the logs of run {run_id} from {self.name}: {tail_text(done)}")
        return extract_safely(done.stdout, dest)


def extract_safely(data: bytes, dest: Path) -> list[str]:
    """Unpack regular files with plain names only (no paths, links or devices), within a size cap."""
    dest.mkdir(parents=True, exist_ok=True)
    names = []
    total = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or "/" in member.name or member.name in ("", ".", "..") or member.name.startswith("."):
                continue
            total += member.size
            if total > MAX_ARTIFACTS_BYTES:
                raise RemoteCommandError(f"run artifacts exceed {MAX_ARTIFACTS_BYTES >> 20} MiB; stopped unpacking")
            source = archive.extractfile(member)
            (dest / member.name).write_bytes(source.read() if source else b"")
            names.append(member.name)
    return sorted(names)


def tail_text(done: Completed, limit: int = 300) -> str:
    text = (done.stderr_text.strip() or done.stdout.decode("utf-8", "replace").strip())
    return " ".join(text.splitlines()[-3:])[-limit:] or f"exit status {done.returncode}"
