"""Bench failures, each one line for the user (all are BenchError, exit code 1)."""

from __future__ import annotations

from edgemem.errors import BenchError


class HostKeyError(BenchError):
    """The host's key is unknown or does not match known_hosts / the pinned fingerprint."""

    code = "host_key"


class UnreachableError(BenchError):
    """No SSH connection (refused, no route, DNS, connect timeout)."""

    code = "unreachable"


class AuthError(BenchError):
    """The server refused our keys."""

    code = "ssh_auth"


class RemoteCommandError(BenchError):
    """A helper command on the device failed (upload, fetch, probe) or took too long."""

    code = "remote_command"


class AgentError(BenchError):
    """The agent ended with status error; ``result`` holds the partial data it brought back."""

    code = "agent"

    def __init__(self, message: str, agent_code: str, stage: str | None = None, result=None, hint: str | None = None):
        super().__init__(message, hint)
        self.agent_code = agent_code
        self.stage = stage
        self.result = result
