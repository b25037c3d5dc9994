"""Fleets: inventory files and several devices measured at once, one table."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from edgemem.bench.fleet import SshDefaults, load_inventory
from edgemem.cli import app
from edgemem.errors import ConfigError
from tests.bench.agent.helpers import alive
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
    ("[[device]]\nhost = 'a'\ncolour = 'red'\n", "device 1: unknown key 'colour'"),
    ("[[device]]\nname = 'x'\n", "host must be a string"),
    ("[[device]]\nhost = 'a'\n[[device]]\nhost = 'a'\n", "appears twice"),
    ("[[device]]\nname = 'x'\nhost = 'a'\nport = '22'\n", "device 1: port: expected an integer, got str '22'"),
    ("[[device]]\nhost = 'a'\nconnect_timeout_s = true\n", "connect_timeout_s: expected a number"),
    ("[[device]]\nhost = 'a'\ntools = { trtexec = 3 }\n", "tools.trtexec must be a string"),
    ("[defaults]\nname = 'x'\n[[device]]\nhost = 'a'\n", "[defaults]: unknown key 'name'"),
    ("[[device]]\nname = 'orin'\nhost = 'a'\nprofile = 'jetson-nano-9gb'\n", "device 1 (orin): profile 'jetson-nano-9gb': no device profile"),
    ("[[devices]]\nhost = 'a'\n", "unknown key 'devices'"),
])
def test_bad_inventories(tmp_path, text, words):
    path = tmp_path / "devices.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_inventory(path)


def test_every_command_line_ssh_flag_applies_unless_the_inventory_sets_it(tmp_path):
    """Issue 10, reproduction 8: --inventory silently dropped --ssh-config, --remote-python, --remote-dir,
    --known-hosts, --identity, --port and --connect-timeout."""
    path = tmp_path / "devices.toml"
    path.write_text("""
[defaults]
known_hosts = "/inventory/known_hosts"

[[device]]
name = "own-port"
host = "nvidia@10.0.0.5"
port = 2222
remote_dir = "/inventory/dir"

[[device]]
name = "bare"
host = "orin"

[[device]]
host = "local"
""")
    flags = SshDefaults(port=22022, identity="/cli/id", ssh_config="/cli/ssh_config", known_hosts="/cli/known_hosts",
                        remote_dir="/cli/dir", remote_python="/cli/python3", connect_timeout_s=3.0)
    own, bare, local = load_inventory(path, flags)
    assert (own.target.ssh.port, own.target.base, own.target.ssh.known_hosts) == (2222, "/inventory/dir", "/inventory/known_hosts")
    assert (bare.target.ssh.port, bare.target.base, bare.target.ssh.known_hosts) == (22022, "/cli/dir", "/inventory/known_hosts")
    for entry in (own, bare):
        assert entry.target.ssh.identity == "/cli/id" and entry.target.ssh.ssh_config == "/cli/ssh_config"
        assert entry.target.python == "/cli/python3" and entry.target.ssh.connect_timeout_s == 3.0
    assert local.target.ssh is None and (local.target.base, local.target.python) == ("/cli/dir", "/cli/python3")
    assert load_inventory(path)[1].target.ssh.connect_timeout_s == 10.0  # the built-in default when nothing says


def test_device_profile_sets_the_python_unless_a_flag_or_the_inventory_does(tmp_path):
    """Issue 10, reproduction 7 (inventory side): a device's profile is read, checked and used."""
    path = tmp_path / "devices.toml"
    path.write_text("[[device]]\nname = 'orin'\nhost = 'orin'\nprofile = 'jetson-orin-nano-8gb'\n")
    (entry,) = load_inventory(path)
    assert entry.profile == "jetson-orin-nano-8gb" and entry.target.python == "/usr/bin/python3"
    (entry,) = load_inventory(path, SshDefaults(remote_python="/opt/python3"))
    assert entry.target.python == "/opt/python3"


@pytest.mark.ssh
def test_inventory_with_device_profile_and_command_line_ssh_flags(sshd, tmp_path, cnn, replay_tools):
    """Issue 10, reproductions 7 and 8 end to end: the inventory names only the host and its profile; the SSH
    settings come from the command line; the profile picks TensorRT fp16 and the budget."""
    from edgemem.profiles import load_profile

    tools = replay_tools("10.16.2", "g6_orin_nano_8gb_jp6")
    inventory = tmp_path / "devices.toml"
    inventory.write_text(f"""
[[device]]
name = "orin"
host = "{sshd.alias}"
profile = "jetson-orin-nano-8gb"
tools = {{ trtexec = "{tools['trtexec']}", tegrastats = "{tools['tegrastats']}" }}
""")
    result = runner.invoke(app, ["bench", str(cnn), "--inventory", str(inventory), *FAST, "--ssh-config", str(sshd.ssh_config),
                                 "--remote-python", sys.executable, "--remote-dir", str(tmp_path / "remote"),
                                 "--connect-timeout", "20s", "--results-dir", str(tmp_path / "results"), "--json"])
    assert result.exit_code in (0, 3), result.output
    (device,) = json.loads(result.stdout)["devices"]
    report = device["report"]
    assert report["profile"] == "jetson-orin-nano-8gb" and report["result"]["status"] == "ok"
    assert report["result"]["backend"] == "tensorrt" and report["result"]["precision"] == "fp16"
    assert report["verdict"]["budget"]["budget_bytes"] == load_profile("jetson-orin-nano-8gb").budget_bytes
    assert report["result"]["request"]["options"]["workspace_bytes"] == 1 << 30


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
    # this machine and loopback-ssh are one device: the second queues behind the first (--lock-wait)
    result = runner.invoke(app, ["bench", str(cnn), "--inventory", str(inventory), *FAST, "--budget", "2GB",
                                 "--results-dir", str(tmp_path / "results"), "--json", "--lock-wait", "10m"])
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
                                "--no-save", "--lock-wait", "10m"])
    assert table.exit_code == 0, table.output
    assert "edgemem bench: fleet" in table.stdout and sshd.alias in table.stdout and "local" in table.stdout


def test_ctrl_c_cancels_the_remote_jobs_and_keeps_their_partial_results(tmp_path, cnn):
    """Ctrl-C during a fleet run: every job is cancelled on its device and its partial result comes back."""
    import signal
    import threading
    from edgemem.bench.fleet import FleetEntry, run_fleet, target_for
    from edgemem.bench.request import BenchRequest
    from edgemem.bench.stop import StopRequest

    request = BenchRequest(model=cnn, duration_s=600, warmup_s=0, baseline_s=0.05, max_runs=10**9, timeout_s=900)
    entry = FleetEntry("local", target_for("local", SshDefaults(remote_dir=str(tmp_path / "device"))))
    sent = []

    def progress(host, document):
        if document.get("phase") == "peak_reset" and not sent:
            sent.append(True)
            # what Ctrl-C does: SIGINT to the process, taken by its main thread (Linux prefers it)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    stop = StopRequest()
    (outcome,) = run_fleet([(entry, request)], tmp_path / "logs", on_progress=progress, cancel=stop)
    assert sent, "the job never reported its peak_reset phase"
    assert stop.exit_code == 130 and outcome.result is not None, outcome.error
    assert outcome.result.error["code"] == "cancelled" and "SIGINT" in outcome.result.error["message"]
    (run_dir,) = (tmp_path / "device" / "runs").iterdir()
    assert json.loads((run_dir / "result.json").read_text())["error"]["code"] == "cancelled"
    assert (run_dir / "fetched").is_file()
    for pid_file in ("run.pid", "supervisor.pid"):
        assert not alive(int((run_dir / pid_file).read_text()))  # gone (a zombie at most: this machine's init is slow to reap)
