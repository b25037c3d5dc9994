"""How device commands are executed: on this machine (``--host local``) or over SSH (client.py).

A transport turns an argv meant for the device into an argv to run here. Everything is argv
lists: no shell string is ever built from user input (the SSH transport quotes each word with
shlex before OpenSSH hands the line to the remote shell). Processes run in their own session so
a Ctrl-C reaches us first and we can cancel the remote job before killing the connection.
A device command whose program is missing ends with status 127 either way (the remote shell's
"not found"; here, the same status is made up when the program cannot be started).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from edgemem.bench.errors import RemoteCommandError


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class Transport:
    """Base: runs argv locally. Subclasses wrap argv (SSH) and classify connection failures."""

    name = "local"
    remote = False

    def open(self) -> None:
        """Set up (SSH: verify the host key, start the shared connection)."""

    def close(self) -> None:
        """Tear down whatever ``open`` started."""

    def reconnect(self) -> None:
        """Make the next command open a working connection (SSH: restart the shared one if it died)."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def command(self, argv: list[str]) -> list[str]:
        return list(argv)

    def default_base(self) -> str:
        return str(Path(os.environ.get("EDGEMEM_CACHE", Path.home() / ".cache" / "edgemem")).expanduser())

    def default_python(self) -> str:
        return sys.executable

    def check(self, done: Completed, what: str) -> Completed:
        """Raise the right error for a failed connection; a plain failure is left to the caller."""
        return done

    def execute(self, argv: list[str], timeout_s: float, stdin: bytes | None = None, stdin_path: Path | None = None,
                what: str = "command") -> Completed:
        """Run a device command to completion (killed, with its whole group, at the timeout)."""
        handle = open(stdin_path, "rb") if stdin_path is not None else None
        try:
            try:
                proc = subprocess.Popen(self.command(argv), stdin=handle or (subprocess.PIPE if stdin is not None else subprocess.DEVNULL),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
            except FileNotFoundError as exc:
                return Completed(NOT_FOUND, b"", f"{exc.filename}: not found".encode())
            try:
                out, err = proc.communicate(stdin, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_process_group(proc)
                out, err = proc.communicate()
                raise RemoteCommandError(f"{what} on {self.name} took longer than {timeout_s:.0f} s and was stopped")
            except BaseException:
                kill_process_group(proc)
                proc.wait()
                raise
        finally:
            if handle is not None:
                handle.close()
        return self.check(Completed(proc.returncode, out, err), what)

    def stream(self, argv: list[str], stdin: bytes | None = None) -> "StreamingProcess":
        return StreamingProcess(self.command(argv), stdin)


NOT_FOUND = 127  # the shell's status for a command it cannot find


class LocalTransport(Transport):
    """``--host local``: the same agent, started directly with this interpreter."""


def kill_process_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class StreamingProcess:
    """A running command whose stdout lines arrive through a queue (so waits can time out)."""

    def __init__(self, argv: list[str], stdin: bytes | None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        self.stderr_chunks: list[bytes] = []
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        try:
            if stdin is not None:
                self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        except BrokenPipeError:
            pass

    def _read_stdout(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.put(raw.decode("utf-8", "replace"))
        self.lines.put(None)

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read(4096), b""):
            self.stderr_chunks.append(chunk)

    def next_line(self, timeout_s: float):
        """A line, None at end of output, or raises queue.Empty after ``timeout_s``."""
        return self.lines.get(timeout=timeout_s)

    def stop(self) -> Completed:
        """Kill it (the remote command ends with its connection) and collect what it said."""
        kill_process_group(self.proc)
        return self.finish(5.0)

    def finish(self, timeout_s: float = 10.0) -> Completed:
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_process_group(self.proc)
            self.proc.wait()
        for thread in self._threads:
            thread.join(2)
        return Completed(self.proc.returncode, b"", b"".join(self.stderr_chunks))

    def kill(self) -> None:
        kill_process_group(self.proc)
        self.proc.wait()
        for thread in self._threads:
            thread.join(2)


def monotonic() -> float:
    return time.monotonic()
