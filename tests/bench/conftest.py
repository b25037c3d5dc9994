"""Fixtures: a real OpenSSH server on loopback, replay tool launchers, isolated caches and models."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.bench.models import big_activation, small_cnn

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "device"
REPLAYS = FIXTURES / "bin"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Host-side caches (TVM libraries, --host local's agent dir) in the test's tmp_path."""
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEMEM_NO_PROGRESS", "1")
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))  # one lock per test, not the machine's
    monkeypatch.delenv("EDGEMEM_AGENT_SYSROOT", raising=False)


@pytest.fixture
def cnn(tmp_path) -> Path:
    return small_cnn(tmp_path / "cnn.onnx")


@pytest.fixture
def huge(tmp_path) -> Path:
    return big_activation(tmp_path / "huge.onnx", 384)


def launcher(directory: Path, name: str, replay: str, *args: str) -> Path:
    """A tiny executable named like the real tool that runs a replay with fixed arguments."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    quoted = " ".join(f"'{a}'" for a in (sys.executable, str(REPLAYS / replay), *args))
    path.write_text(f"#!/bin/sh\nexec {quoted} \"$@\"\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def replay_tools(tmp_path):
    """make(trt_version, board) -> {"trtexec": path, "tegrastats": path, "nvpmodel": path} of replays."""

    def make(trt_version: str = "10.16.2", board: str = "g6_orin_nano_8gb_jp6") -> dict:
        directory = tmp_path / f"bin-{trt_version}-{board}"
        return {
            "trtexec": str(launcher(directory, "trtexec", "trtexec-replay", "--replay-version", trt_version)),
            "tegrastats": str(launcher(directory, "tegrastats", "tegrastats-replay", "--replay-board", board)),
            "nvpmodel": str(launcher(directory, "nvpmodel", "nvpmodel-replay")),
        }

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "edgemem-test", "-f", str(path)], check=True)
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SshServer:
    port: int
    alias: str
    user: str
    ssh_config: Path
    known_hosts: Path
    identity: Path
    host_fingerprint: str
    workdir: Path
    pid: int  # the listening sshd; each connection is served by a child of it

    def kill_sessions(self) -> list[int]:
        """SIGKILL the sshd process of every open connection (the server keeps listening)."""
        killed = []
        for name in os.listdir("/proc"):
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except (OSError, ValueError):
                continue
            if name.isdigit() and int(stat[stat.rfind(")") + 2:].split()[1]) == self.pid:
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
        return killed

    def options(self, **extra):
        from edgemem.bench.client import SshOptions

        return SshOptions(destination=self.alias, ssh_config=str(self.ssh_config), **extra)


def write_sshd_config(d: Path, port: int, user: str) -> Path:
    config = d / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {d / 'host_ed25519'}", f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}", "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
        f"AllowUsers {user}", "MaxStartups 64", "MaxSessions 64", "LogLevel VERBOSE", "",
    ]))
    return config


def wait_for_port(port: int, proc: subprocess.Popen, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real sshd on a free loopback port, throwaway host and user keys, the current user."""
    if SSHD is None:
        pytest.skip("sshd (openssh-server) is not installed; .ci/run installs it")
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("the OpenSSH client (ssh, ssh-keygen) is not installed")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    d = tmp_path_factory.mktemp("sshd")
    user = getpass.getuser()
    host_pub = keygen(d / "host_ed25519")
    (d / "authorized_keys").write_text(keygen(d / "id_ed25519") + "\n")
    for attempt in range(3):
        port = free_port()
        config = write_sshd_config(d, port, user)
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                                stderr=open(d / "sshd.log", "ab"), start_new_session=True)
        if wait_for_port(port, proc):
            break
        proc.kill()
        proc.wait()
    else:
        pytest.skip(f"sshd did not start: {(d / 'sshd.log').read_text()[-500:]}")
    known = d / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {' '.join(host_pub.split()[:2])}\n")
    ssh_config = d / "ssh_config"
    ssh_config.write_text("\n".join([
        "Host edgemem-test", "  HostName 127.0.0.1", f"  Port {port}", f"  User {user}", f"  IdentityFile {d / 'id_ed25519'}",
        "  IdentitiesOnly yes", f"  UserKnownHostsFile {known}", "  GlobalKnownHostsFile /dev/null", "",
    ]))
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(d / "host_ed25519.pub")], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    yield SshServer(port, "edgemem-test", user, ssh_config, known, d / "id_ed25519", fingerprint, d, proc.pid)
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
