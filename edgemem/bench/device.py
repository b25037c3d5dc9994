"""Talking to the agent on a device through a transport: upload, probe, run, cancel, fetch.

Uploads are content-addressed: the agent is stored as ``agent-<sha256[:16]>.py`` and models as
``blobs/<sha256>``; what is already there is not sent again. A run streams progress lines, has a
host-side deadline (the agent's own deadline plus a margin) and is cancelled on the device when
that deadline passes, when the caller's cancel event is set, or on Ctrl-C.
"""

from __future__ import annotations

import io
import json
import queue
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgemem.bench import protocol
from edgemem.bench.errors import AgentError, RemoteCommandError
from edgemem.bench.transport import Completed, Transport, monotonic

HOST_MARGIN_S = 30.0
MAX_ARTIFACTS_BYTES = 256 << 20


@dataclass(frozen=True)
class Upload:
    sha256: str
    uploaded: bool  # False: it was already on the device
    bytes: int


class Device:
    """One device (or this machine) reached through ``transport``."""

    def __init__(self, transport: Transport, base: str | None = None, python: str | None = None,
                 command_timeout_s: float = 120.0) -> None:
        self.transport = transport
        self.base = base or transport.default_base()
        self.python = python or transport.default_python()
        self.command_timeout_s = command_timeout_s
        self.agent_path = f"{self.base.rstrip('/')}/{protocol.agent_remote_name()}"
        self.agent_uploaded: bool | None = None

    @property
    def name(self) -> str:
        return self.transport.name

    def agent_argv(self, *args: str) -> list[str]:
        return [self.python, "-u", self.agent_path, args[0], "--base", self.base, *args[1:]]

    def call(self, *args: str, stdin: bytes | None = None, stdin_path: Path | None = None,
             timeout_s: float | None = None) -> dict:
        """Run one agent command and return its result document (raise on status error)."""
        done = self.transport.execute(self.agent_argv(*args), timeout_s or self.command_timeout_s, stdin=stdin,
                                      stdin_path=stdin_path, what=f"agent {args[0]}")
        document = protocol.final_document(done.stdout.decode("utf-8", "replace"))
        if document is None:
            raise RemoteCommandError(f"agent {args[0]} on {self.name} gave no result (exit {done.returncode}): "
                                     f"{tail_text(done)}")
        if document.get("status") == "error":
            error = document.get("error") or {}
            raise AgentError(f"agent {args[0]} on {self.name}: {error.get('message')}", error.get("code", "internal"),
                             error.get("stage"), document)
        return document

    # ---- uploads

    def ensure_agent(self) -> bool:
        """Upload the agent unless this exact version is there; True when it was uploaded."""
        script = ('command -v "$1" >/dev/null 2>&1 || { echo no-python; exit 0; }; '
                  'test -f "$2" && echo present || echo missing')
        done = self.transport.execute(["sh", "-c", script, "sh", self.python, self.agent_path], self.command_timeout_s,
                                      what="agent check")
        answer = done.stdout.decode().strip()
        if answer == "no-python":
            raise RemoteCommandError(f"{self.python!r} not found on {self.name}",
                                     hint="pass --remote-python with the device's Python 3 (e.g. /usr/bin/python3)")
        if done.returncode != 0 or answer not in ("present", "missing"):
            raise RemoteCommandError(f"cannot check the agent on {self.name}: {tail_text(done)}")
        if answer == "present":
            self.agent_uploaded = False
            return False
        script = 'mkdir -p -- "$1" && cat > "$2.tmp.$$" && mv -f -- "$2.tmp.$$" "$2"'
        done = self.transport.execute(["sh", "-c", script, "sh", self.base, self.agent_path], self.command_timeout_s,
                                      stdin=protocol.agent_source(), what="agent upload")
        if done.returncode != 0:
            raise RemoteCommandError(f"cannot upload the agent to {self.name}: {tail_text(done)}")
        self.agent_uploaded = True
        return True

    def ensure_blobs(self, files: dict[str, tuple[Path, str]], timeout_s: float = 3600.0) -> dict[str, Upload]:
        """Upload each (path, sha256) unless the device already has that content."""
        shas = sorted({sha for _, sha in files.values()})
        present = set(self.call("have", *shas)["present"]) if shas else set()
        uploads = {}
        for key, (path, sha) in files.items():
            if sha not in present:
                self.call("put", "--sha256", sha, stdin_path=path, timeout_s=timeout_s)
                present.add(sha)
                uploads[key] = Upload(sha, True, path.stat().st_size)
            else:
                uploads[key] = Upload(sha, False, path.stat().st_size)
        return uploads

    def probe(self, tools: dict | None = None, modules: tuple[str, ...] | None = None) -> dict:
        """Device facts; ``modules`` limits the runtime checks (each is a slow import on the device)."""
        extra = ("--modules", ",".join(modules)) if modules is not None else ()
        return self.call("probe", "--tools", json.dumps(tools or {}), *extra, timeout_s=90)

    # ---- runs

    def run(self, spec: dict, on_progress: Callable[[dict], None] | None = None,
            cancel: threading.Event | None = None) -> dict:
        """Run a job; returns the agent's result document (status ok or error, with partial data)."""
        deadline = monotonic() + float(spec["timeouts"]["total_s"]) + HOST_MARGIN_S
        stream = self.transport.stream(self.agent_argv("run", "--spec", "-"), json.dumps(spec).encode())
        result = None
        reason = None
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                if monotonic() > deadline:
                    reason = "timeout"
                    break
                try:
                    line = stream.next_line(0.2)
                except queue.Empty:
                    continue
                if line is None:
                    break
                kind, document = protocol.parse_line(line)
                if kind == "progress" and on_progress is not None:
                    on_progress(document)
                elif kind == "result":
                    result = document
        except KeyboardInterrupt:
            self.cancel_run(spec["run_id"])
            stream.kill()
            raise
        if reason is not None:
            cancelled = self.cancel_run(spec["run_id"])
            stream.kill()
            partial = (cancelled or {}).get("result")
            raise AgentError(f"run on {self.name} {'was cancelled' if reason == 'cancelled' else 'passed the host deadline'}; "
                             "the remote job was killed", "cancelled" if reason == "cancelled" else "timeout", "run", partial)
        done = stream.finish()
        self.transport.check(done, "run")
        if result is None:
            raise RemoteCommandError(f"the agent on {self.name} ended without a result (exit {done.returncode}): "
                                     f"{tail_text(done)}")
        return result

    def cancel_run(self, run_id: str) -> dict | None:
        """Kill the run's process groups on the device; its (partial) result when it wrote one."""
        try:
            return self.call("cancel", "--run-id", run_id, "--wait-s", "5", timeout_s=30)
        except Exception:  # best effort: the connection may be what failed
            return None

    def fetch_artifacts(self, run_id: str, dest: Path) -> list[str]:
        """The run's raw files (logs, samples) into ``dest``; names of the files written."""
        done = self.transport.execute(self.agent_argv("pack", "--run-id", run_id), self.command_timeout_s, what="fetch")
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
