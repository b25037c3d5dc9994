"""Bench failures, each one line for the user (all are BenchError, exit code 1 unless said).

``transient`` marks failures worth retrying (with backoff) before giving up: a connection that
dropped or a host that does not answer yet. A refused host key or login is never retried.
"""

from __future__ import annotations

from edgemem.errors import BenchError


class HostKeyError(BenchError):
    """The host's key is unknown or does not match known_hosts / the pinned fingerprint."""

    code = "host_key"


class AuthError(BenchError):
    """The server refused our keys."""

    code = "ssh_auth"


class RemoteCommandError(BenchError):
    """A helper command on the device failed (upload, fetch, probe) or took too long."""

    code = "remote_command"


class ConnectionLostError(RemoteCommandError):
    """The SSH connection failed or dropped while a command ran (ssh exit status 255)."""

    code = "connection_lost"
    transient = True


class UnreachableError(BenchError):
    """No SSH connection (refused, no route, DNS, connect timeout)."""

    code = "unreachable"
    transient = True


class CancelledError(BenchError):
    """The bench was stopped on the host (Ctrl-C, SIGTERM) before its job started on the device."""

    code = "cancelled"

    def __init__(self, message: str, exit_code: int = 1, hint: str | None = None):
        super().__init__(message, hint)
        self.exit_code = exit_code


class AgentError(BenchError):
    """The agent ended with status error; ``result`` holds the partial data it brought back."""

    code = "agent"

    def __init__(self, message: str, agent_code: str, stage: str | None = None, result=None, hint: str | None = None):
        super().__init__(message, hint)
        self.agent_code = agent_code
        self.stage = stage
        self.result = result


def is_transient(exc: BaseException) -> bool:
    return bool(getattr(exc, "transient", False))
