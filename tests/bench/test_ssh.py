"""End to end over a real OpenSSH server on loopback (see conftest.sshd): the whole bench path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgemem.bench.client import SshOptions, SshTransport
from edgemem.bench.device import Device
from edgemem.bench.errors import HostKeyError, UnreachableError
from edgemem.bench.package import agent_archive, agent_remote_name
from edgemem.cli import app
from tests.bench.conftest import free_port, keygen

pytestmark = pytest.mark.ssh
runner = CliRunner()
FAST = ["--warmup", "0.05s", "--warmup-runs", "3", "--duration", "0.2s", "--runs", "10", "--baseline", "0.1s",
        "--no-predict"]


def bench(sshd, remote: Path, results: Path, *args):
    argv = ["bench", *map(str, args), "--host", sshd.alias, "--ssh-config", str(sshd.ssh_config), "--remote-python",
            sys.executable, "--remote-dir", str(remote), "--results-dir", str(results), "--json"]
    return runner.invoke(app, argv)


def document(result) -> dict:
    return json.loads(result.stdout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_probe_and_agent_uploaded_once(sshd, tmp_path):
    remote = tmp_path / "remote"
    for expected in (True, False):
        with SshTransport(sshd.options()) as transport:
            device = Device(transport, str(remote), sys.executable)
            assert device.ensure_agent() is expected
            probe = device.probe(modules=("onnxruntime",))
    assert (remote / agent_remote_name()).read_bytes() == agent_archive()
    assert probe["python"] == ".".join(map(str, sys.version_info[:3]))
    assert probe["modules"]["onnxruntime"]["available"] is True
    assert probe["memory"]["total_bytes"] > 0 and probe["root"] == (os.geteuid() == 0)


def test_onnxruntime_over_ssh_budget_pass_then_fail_and_model_cached(sshd, tmp_path, cnn):
    remote, results = tmp_path / "remote", tmp_path / "results"
    ok = bench(sshd, remote, results, cnn, *FAST, "--budget", "2GB")
    assert ok.exit_code == 0, ok.output
    report = document(ok)
    r, v = report["result"], report["verdict"]
    assert r["status"] == "ok" and r["host"] == sshd.alias and r["uploads"] == {"agent": True, "model": True}
    assert r["latency"]["runs"] >= 10 and 0 < r["latency"]["median_ms"] <= r["latency"]["p99_ms"]
    memory = r["memory"]
    for part in ("runtime_baseline", "weights", "activations", "process_peak"):
        assert memory[part]["value_bytes"] is not None and memory[part]["method"] != "unknown", part
    assert memory["process_peak"]["value_bytes"] >= memory["runtime_baseline"]["value_bytes"] > 10 << 20
    assert v["budget"]["fits"] is True and v["budget"]["scope"] == "process" and v["budget"]["required_bytes"] < 2 * 10**9
    assert Path(report["saved_to"]).is_file() and "run.log" in r["artifacts"]
    over = bench(sshd, remote, results, cnn, *FAST, "--budget", "10MB")
    assert over.exit_code == 3, over.output
    again = document(over)
    assert again["verdict"]["budget"]["fits"] is False and again["verdict"]["budget"]["shortfall_bytes"] > 0
    assert again["result"]["uploads"] == {"agent": False, "model": False}
    assert len(list(results.glob("*.json"))) == 2


@pytest.mark.slow
def test_tvm_over_ssh(sshd, tmp_path, cnn):
    result = bench(sshd, tmp_path / "remote", tmp_path / "results", cnn, *FAST, "--backend", "tvm")
    assert result.exit_code == 0, result.output
    r = document(result)["result"]
    assert r["status"] == "ok" and r["backend_info"]["target"] == "llvm"
    assert r["uploads"]["library"] is True and r["latency"]["median_ms"] > 0
    assert r["memory"]["activations"]["value_bytes"] is not None and r["memory"]["weights"]["value_bytes"] is not None


def test_changed_host_key_is_refused(sshd, tmp_path, cnn):
    other = keygen(tmp_path / "other_host_key")
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.split()[:2])}\n")
    result = bench(sshd, tmp_path / "remote", tmp_path / "results", cnn, *FAST, "--known-hosts", wrong)
    assert result.exit_code == 1
    assert "CHANGED" in result.stderr and "refusing" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "remote").exists()


def test_unknown_host_key_refused_unless_trusted_on_first_use(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError, match="not trusted"):
        SshTransport(sshd.options(known_hosts=str(empty))).open()
    with SshTransport(sshd.options(known_hosts=str(empty), trust_on_first_use=True)) as transport:
        assert transport.execute(["true"], 20).returncode == 0
    assert f"[127.0.0.1]:{sshd.port}" in empty.read_text()


def test_pinned_fingerprint(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with SshTransport(sshd.options(known_hosts=str(empty), fingerprint=sshd.host_fingerprint)) as transport:
        assert transport.execute(["echo", "pinned"], 20).stdout.strip() == b"pinned"
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(HostKeyError, match="does not match the pinned fingerprint"):
        SshTransport(sshd.options(fingerprint=wrong)).open()
    assert empty.read_text() == ""


def test_unreachable_host(tmp_path, cnn):
    result = runner.invoke(app, ["bench", str(cnn), "--host", f"nobody@127.0.0.1", "--port", str(free_port()),
                                 "--connect-timeout", "3s", "--results-dir", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "cannot reach" in result.stderr and "Traceback" not in result.output
    with pytest.raises(UnreachableError):
        SshTransport(SshOptions("nobody@127.0.0.1", port=free_port(), connect_timeout_s=3)).open()


def test_job_past_its_deadline_is_killed_on_the_device(sshd, tmp_path, cnn):
    remote = tmp_path / "remote"
    result = bench(sshd, remote, tmp_path / "results", cnn, "--warmup", "0s", "--duration", "60s", "--max-runs", "100000000", "--baseline", "0.1s",
                   "--timeout", "4s", "--no-predict")
    assert result.exit_code == 1
    assert "timeout" in result.stderr
    r = document(result)["result"]
    assert r["status"] == "error" and r["error"]["code"] == "timeout" and r["error"]["stage"] == "run"
    assert r["memory"]["runtime_baseline"]["value_bytes"] is not None  # partial data came back
    assert r["memory"]["activations"]["value_bytes"] is not None and document(result)["saved_to"]
    pid = int((remote / "runs" / r["run_id"] / "run.pid").read_text())
    assert not alive(pid)


def test_out_of_memory_child_reported_with_partial_data(sshd, tmp_path, huge):
    result = bench(sshd, tmp_path / "remote", tmp_path / "results", huge, *FAST, "--memory-limit", "200MiB")
    assert result.exit_code == 1
    assert "out_of_memory" in result.stderr
    r = document(result)["result"]
    assert r["error"]["code"] == "out_of_memory" and "memory limit" in r["error"]["message"]
    assert r["memory"]["runtime_baseline"]["value_bytes"] is not None
    assert r["memory"]["process_peak"]["value_bytes"] > 200 << 20  # what it had reached when it was killed


def test_model_and_remote_paths_with_spaces_and_quotes(sshd, tmp_path, cnn):
    odd = tmp_path / "my model's \"v2\" $(echo x);.onnx"
    shutil.copy(cnn, odd)
    remote = tmp_path / "remote dir's \"q\" $HOME"
    result = bench(sshd, remote, tmp_path / "results", odd, *FAST)
    assert result.exit_code == 0, result.output
    r = document(result)["result"]
    assert r["status"] == "ok" and r["model"]["name"] == odd.name
    assert (remote / "blobs" / r["model"]["sha256"]).is_file()


def test_cancel_from_the_host_keeps_the_partial_result(sshd, tmp_path, cnn):
    from edgemem.bench.request import BenchRequest
    from edgemem.bench.run import Target, run_bench
    from edgemem.bench.stop import StopRequest

    remote = tmp_path / "remote"
    stop = StopRequest()

    def progress(host, document):
        if document.get("phase") == "measure" or (document.get("phase") == "peak_reset"):
            stop.request("cancelled", "cancelled by the test")

    request = BenchRequest(model=cnn, duration_s=600, warmup_s=0, baseline_s=0.1, timeout_s=900, max_runs=10**9)
    result = run_bench(request, Target(sshd.alias, sshd.options(), str(remote), sys.executable), tmp_path / "logs",
                       progress, stop)
    assert result.status == "error" and result.error["code"] == "cancelled" and result.error["message"] == "cancelled by the test"
    assert (tmp_path / "logs" / result.run_id / "result.json").is_file()  # fetched, then acknowledged on the device
    assert (remote / "runs" / result.run_id / "fetched").is_file()
    assert not alive(int((remote / "runs" / result.run_id / "run.pid").read_text()))


def test_tensorrt_replay_over_ssh(sshd, tmp_path, cnn, replay_tools):
    tools = replay_tools("8.4.0", "g5_agx_orin_64gb_jp6")
    result = bench(sshd, tmp_path / "remote", tmp_path / "results", cnn, *FAST, "--backend", "tensorrt", "--precision", "fp16",
                   "--trtexec", tools["trtexec"], "--tegrastats-path", tools["tegrastats"])
    assert result.exit_code == 0, result.output
    r = document(result)["result"]
    assert r["backend_info"]["tensorrt_version"] == "8.4.0" and r["latency"]["median_ms"] == pytest.approx(0.401947)
    assert r["memory"]["activations"]["value_bytes"] == 67 << 20  # "IExecutionContext creation: GPU +67" (T8)
    assert r["conditions"]["tegrastats_summary"]["samples"] >= 1
