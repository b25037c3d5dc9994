"""Fleets: inventory files and several devices measured at once, one table."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from edgemem.bench.fleet import SshDefaults, load_inventory
from edgemem.cli import app
from edgemem.errors import ConfigError
from tests.bench.conftest import free_port

runner = CliRunner()
FAST = ["--warmup", "0.05s", "--warmup-runs", "3", "--duration", "0.2s", "--runs", "10", "--baseline", "0.1s", "--no-predict"]


def test_inventory_defaults_and_overrides(tmp_path):
    path = tmp_path / "devices.toml"
    path.write_text("""
[defaults]
remote_python = "/usr/bin/python3"
known_hosts = "~/kh"

[[device]]
name = "orin-1"
host = "nvidia@10.0.0.5"
port = 2222
fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
profile = "jetson-orin-nano-8gb"
tools = { trtexec = "/opt/trt/trtexec" }

[[device]]
host = "local"
remote_python = "python3"
""")
    first, second = load_inventory(path)
    assert first.name == "orin-1" and first.profile == "jetson-orin-nano-8gb" and first.tools == {"trtexec": "/opt/trt/trtexec"}
    assert first.target.ssh.port == 2222 and first.target.ssh.known_hosts.endswith("/kh") and "~" not in first.target.ssh.known_hosts
    assert first.target.python == "/usr/bin/python3" and first.target.ssh.fingerprint.startswith("SHA256:")
    assert second.name == "local" and second.target.ssh is None and second.target.python == "python3"
    trusting = load_inventory(path, SshDefaults(trust_on_first_use=True))
    assert trusting[0].target.ssh.trust_on_first_use is False  # a pinned fingerprint is never loosened
    assert trusting[1].target.ssh is None


@pytest.mark.parametrize("text, words", [
    ("", "no [[device]] entries"),
    ("[[device]]\nhost = 'a'\ncolour = 'red'\n", "unknown key(s) colour"),
    ("[[device]]\nname = 'x'\n", "host must be a string"),
    ("[[device]]\nhost = 'a'\n[[device]]\nhost = 'a'\n", "appears twice"),
])
def test_bad_inventories(tmp_path, text, words):
    path = tmp_path / "devices.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_inventory(path)


@pytest.mark.ssh
def test_fleet_local_ssh_and_an_unreachable_host_in_one_table(sshd, tmp_path, cnn):
    inventory = tmp_path / "devices.toml"
    inventory.write_text(f"""
[defaults]
ssh_config = "{sshd.ssh_config}"
remote_python = "{sys.executable}"
remote_dir = "{tmp_path / 'remote'}"

[[device]]
name = "this-machine"
host = "local"

[[device]]
name = "loopback-ssh"
host = "{sshd.alias}"

[[device]]
name = "gone"
host = "nobody@127.0.0.1"
port = {free_port()}
connect_timeout_s = 3
""")
    result = runner.invoke(app, ["bench", str(cnn), "--inventory", str(inventory), *FAST, "--budget", "2GB",
                                 "--results-dir", str(tmp_path / "results"), "--json"])
    assert result.exit_code == 1, result.output  # one device failed; the others still reported
    doc = json.loads(result.stdout)
    assert doc["schema"] == "edgemem.bench_fleet/1"
    by_name = {d["name"]: d for d in doc["devices"]}
    assert [d["name"] for d in doc["devices"]] == ["this-machine", "loopback-ssh", "gone"]
    for name in ("this-machine", "loopback-ssh"):
        report = by_name[name]["report"]
        assert report["result"]["status"] == "ok" and report["verdict"]["budget"]["fits"] is True
    assert by_name["gone"]["report"] is None and "cannot reach" in by_name["gone"]["error"]
    assert "gone: cannot reach" in result.stderr
    assert len(list((tmp_path / "results").glob("*.json"))) == 2
    table = runner.invoke(app, ["bench", str(cnn), "--hosts", f"local,{sshd.alias}", "--ssh-config", str(sshd.ssh_config),
                                "--remote-python", sys.executable, "--remote-dir", str(tmp_path / "remote"), *FAST,
                                "--no-save"])
    assert table.exit_code == 0, table.output
    assert "edgemem bench: fleet" in table.stdout and sshd.alias in table.stdout and "local" in table.stdout


def test_ctrl_c_cancels_the_remote_jobs_and_keeps_nothing_running(tmp_path, cnn):
    import signal
    import threading
    from pathlib import Path

    from edgemem.bench.fleet import FleetEntry, run_fleet, target_for
    from edgemem.bench.request import BenchRequest

    request = BenchRequest(model=cnn, duration_s=60, warmup_s=0, baseline_s=0.05, max_runs=10**8, timeout_s=120)
    entry = FleetEntry("local", target_for("local", SshDefaults(remote_dir=str(tmp_path / "device"))))
    sent = []

    def progress(host, document):
        if document.get("phase") == "peak_reset" and not sent:
            sent.append(True)
            # what Ctrl-C does: SIGINT to the process, taken by its main thread (Linux prefers it)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # the interpreter's own Ctrl-C handler, as in `edgemem bench` (a test worker may have replaced it)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_fleet([(entry, request)], tmp_path / "logs", on_progress=progress)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sent, "the job never reported its peak_reset phase"
    (run_dir,) = (tmp_path / "device" / "runs").iterdir()
    result = json.loads((run_dir / "result.json").read_text())
    assert result["error"]["code"] == "cancelled"
    assert not Path(f"/proc/{int((run_dir / 'run.pid').read_text())}").exists()
