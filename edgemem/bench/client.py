"""SSH transport over the system OpenSSH client.

The idea: let ``ssh`` do what it does well (the user's ~/.ssh/config, ProxyJump, agents, keys)
and add the policy: BatchMode (never prompt), connect and keep-alive timeouts, and strict
host-key checking by default. Three ways to trust a host: its key is already in known_hosts
(the user's or ``--known-hosts FILE``); a pinned ``SHA256:`` fingerprint (the key is fetched
with ssh-keyscan, checked against the pin, written to a private known_hosts, and the real
connection is then made with strict checking against that file only); or, only when asked,
trust on first use (OpenSSH ``accept-new``: records a new key, still refuses a changed one).
One master connection (ControlMaster) is shared by the commands of a run; when it dies (the
connection dropped) ``reconnect`` starts a new one, and ``close`` stops it and removes its
socket folder. Keep-alives notice a dead connection within about 15 s. Remote commands are argv
lists quoted word by word with shlex.quote.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgemem.bench.errors import AuthError, ConnectionLostError, HostKeyError, RemoteCommandError, UnreachableError
from edgemem.bench.transport import Completed, Transport
from edgemem.errors import UsageError

DESTINATION = re.compile(r"^[A-Za-z0-9_.%+\-]+@?[A-Za-z0-9_.:\[\]%\-]*$")
FINGERPRINT = re.compile(r"^(?:SHA256:)?([A-Za-z0-9+/]{43})=?$")
HOST_KEY_FAILURES = ("REMOTE HOST IDENTIFICATION HAS CHANGED", "Host key verification failed",
                     "No ED25519 host key is known", "host key is known for", "Host key for")
UNREACHABLE = ("Connection refused", "Could not resolve hostname", "Connection timed out", "No route to host",
               "Network is unreachable", "Operation timed out", "kex_exchange_identification", "Connection reset",
               "Connection closed by remote host", "port 65535")
SSH_FAILED = 255
CONTROL_PERSIST_S = 30  # how long a master outlives its last command if we cannot stop it
MAX_CONTROL_PATH = 80  # a Unix socket path holds ~104 bytes; ssh adds 17 while it creates one


@dataclass(frozen=True)
class SshOptions:
    """How to reach one device. ``destination`` is ``user@host`` or a Host alias from the ssh config."""

    destination: str
    port: int | None = None
    identity: str | None = None
    ssh_config: str | None = None  # -F FILE instead of ~/.ssh/config
    known_hosts: str | None = None  # UserKnownHostsFile (also where trust-on-first-use records the key)
    fingerprint: str | None = None  # pinned SHA256 host-key fingerprint
    trust_on_first_use: bool = False
    connect_timeout_s: float = 10.0
    multiplex: bool = True
    ssh_binary: str = "ssh"

    def __post_init__(self) -> None:
        if not self.destination or self.destination.startswith("-") or not DESTINATION.match(self.destination):
            raise UsageError(f"--host {self.destination!r} is not a valid SSH destination",
                             hint="write user@host, host, or a Host alias from your ssh config")
        if self.fingerprint is not None and not FINGERPRINT.match(self.fingerprint.strip()):
            raise UsageError(f"--fingerprint {self.fingerprint!r} is not a SHA256 fingerprint",
                             hint="copy it from `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the device (SHA256:...)")
        if self.fingerprint and self.trust_on_first_use:
            raise UsageError("--fingerprint and --trust-on-first-use exclude each other")
        if self.port is not None and not 0 < self.port < 65536:
            raise UsageError(f"--port {self.port} is out of range")


def option_value(path: str) -> str:
    """A path as an ``-o Key=value`` value (ssh splits unquoted values on spaces)."""
    return f'"{path}"' if any(c.isspace() for c in path) else path


def fingerprint_of(key_base64: str) -> str:
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    digest = hashlib.sha256(base64.b64decode(key_base64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


class SshTransport(Transport):
    remote = True

    def __init__(self, options: SshOptions) -> None:
        self.options = options
        self.name = options.destination
        self._tmp: Path | None = None
        self._pinned: Path | None = None
        self._control: Path | None = None
        self._masters = 0

    # ---- argv

    def base_argv(self) -> list[str]:
        o = self.options
        argv = [o.ssh_binary, "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={max(1, int(o.connect_timeout_s))}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if o.ssh_config:
            argv += ["-F", o.ssh_config]
        if o.port:
            argv += ["-p", str(o.port)]
        if o.identity:
            argv += ["-i", o.identity, "-o", "IdentitiesOnly=yes"]
        if self._pinned is not None:
            argv += ["-o", f"UserKnownHostsFile={option_value(str(self._pinned))}", "-o", "GlobalKnownHostsFile=/dev/null",
                     "-o", "StrictHostKeyChecking=yes"]
        else:
            if o.known_hosts:
                argv += ["-o", f"UserKnownHostsFile={option_value(o.known_hosts)}"]
            argv += ["-o", "StrictHostKeyChecking=" + ("accept-new" if o.trust_on_first_use else "yes")]
        if self._control is not None:
            argv += ["-o", f"ControlPath={option_value(str(self._control))}", "-o", "ControlMaster=no"]
        return argv

    def command(self, argv: list[str]) -> list[str]:
        return self.base_argv() + ["--", self.options.destination, " ".join(shlex.quote(a) for a in argv)]

    def default_base(self) -> str:
        return ".cache/edgemem"  # relative to the remote home (ssh starts commands there)

    def default_python(self) -> str:
        return "python3"

    # ---- lifecycle

    def open(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="edgemem-ssh-"))
        if len(str(self._tmp / "cm99")) > MAX_CONTROL_PATH:  # a long TMPDIR: sockets go to /tmp instead
            self._tmp.rmdir()
            self._tmp = Path(tempfile.mkdtemp(prefix="edgemem-ssh-", dir="/tmp"))
        try:
            if self.options.fingerprint:
                self._pinned = self._pin_host_key()
            if self.options.multiplex:
                self._start_master()
            else:
                self.check(self._run_local(self.base_argv() + ["--", self.options.destination, "true"]), "connect")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._stop_master()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._pinned = None

    def reconnect(self) -> None:
        """A new master connection when the old one is gone (commands then use it again)."""
        if self._tmp is None or not self.options.multiplex:
            return
        if self._control is not None and self._master_alive():
            return
        self._stop_master()
        self._start_master()

    def _master_alive(self) -> bool:
        try:
            done = subprocess.run(self.base_argv() + ["-O", "check", "--", self.options.destination], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    def _stop_master(self) -> None:
        if self._control is None:
            return
        try:
            subprocess.run(self.base_argv() + ["-O", "exit", "--", self.options.destination], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._control = None

    def _start_master(self) -> None:
        self._masters += 1
        control = self._tmp / f"cm{self._masters}"
        argv = self.base_argv() + ["-o", "ControlMaster=yes", "-o", f"ControlPath={option_value(str(control))}",
                                   "-o", f"ControlPersist={CONTROL_PERSIST_S}", "-f", "-N", "--", self.options.destination]
        done = self._run_local(argv)
        self.check(done, "connect")
        if done.returncode != 0:
            raise RemoteCommandError(f"ssh to {self.name} failed: {last_line(done.stderr_text)}")
        self._control = control

    def _run_local(self, argv: list[str]) -> Completed:
        err_path = self._tmp / "ssh.err"
        with open(err_path, "wb") as err:
            try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                      timeout=self.options.connect_timeout_s + 20)
            except subprocess.TimeoutExpired:
                raise UnreachableError(f"cannot reach {self.name}: no answer within {self.options.connect_timeout_s:.0f} s") from None
        return Completed(proc.returncode, b"", err_path.read_bytes())

    # ---- host keys

    def resolved(self) -> dict[str, str]:
        """``ssh -G``: the effective settings for the destination (honours the ssh config)."""
        o = self.options
        argv = [o.ssh_binary, "-G"] + (["-F", o.ssh_config] if o.ssh_config else []) + (["-p", str(o.port)] if o.port else [])
        proc = subprocess.run(argv + ["--", o.destination], capture_output=True, timeout=10)
        if proc.returncode != 0:
            raise UsageError(f"ssh -G {o.destination} failed: {last_line(proc.stderr.decode('utf-8', 'replace'))}")
        settings = {}
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            settings.setdefault(key.lower(), value.strip())
        return settings

    def _pin_host_key(self) -> Path:
        settings = self.resolved()
        host, port = settings.get("hostname", self.options.destination), int(settings.get("port", "22"))
        scan = subprocess.run(["ssh-keyscan", "-T", str(max(1, int(self.options.connect_timeout_s))), "-p", str(port), "--", host],
                              capture_output=True, timeout=self.options.connect_timeout_s + 20)
        offered = []
        for line in scan.stdout.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                offered.append((parts[1], parts[2], fingerprint_of(parts[2])))
        if not offered:
            raise UnreachableError(f"cannot reach {self.name} ({host} port {port}) to read its host key: "
                                   f"{last_line(scan.stderr.decode('utf-8', 'replace')) or 'no key offered'}")
        want = "SHA256:" + FINGERPRINT.match(self.options.fingerprint.strip()).group(1)
        matching = [(kind, key) for kind, key, fp in offered if fp == want]
        if not matching:
            raise HostKeyError(f"host key of {self.name} does not match the pinned fingerprint {want}; it offered "
                               f"{', '.join(sorted({fp for _, _, fp in offered}))}; refusing to connect",
                               hint="check the fingerprint on the device with ssh-keygen -lf; a changed key may mean an attack")
        name = settings.get("hostkeyalias") or (host if port == 22 else f"[{host}]:{port}")
        pinned = self._tmp / "known_hosts.pinned"
        pinned.write_text("".join(f"{name} {kind} {key}\n" for kind, key in matching))
        return pinned

    # ---- failures

    def check(self, done: Completed, what: str) -> Completed:
        if done.returncode != SSH_FAILED:
            return done
        text = done.stderr_text
        line = last_line(text)
        if any(marker in text for marker in HOST_KEY_FAILURES):
            changed = "HAS CHANGED" in text
            raise HostKeyError(
                f"host key of {self.name} " + ("has CHANGED from the one in known_hosts" if changed else "is not trusted")
                + f"; refusing to connect ({line})",
                hint=("verify the new key on the device and update known_hosts; a changed key may mean an attack" if changed
                      else "add it to known_hosts, pass --known-hosts FILE or --fingerprint SHA256:..., "
                           "or --trust-on-first-use to record it"))
        if "Permission denied" in text or "Too many authentication failures" in text:
            raise AuthError(f"{self.name} refused our SSH keys ({line})", hint="pass --identity KEY or set it up in ~/.ssh/config")
        if any(marker in text for marker in UNREACHABLE):
            raise UnreachableError(f"cannot reach {self.name}: {line}")
        raise ConnectionLostError(f"ssh to {self.name} failed during {what}: {line or 'exit status 255'}")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("@")]
    return lines[-1] if lines else ""
