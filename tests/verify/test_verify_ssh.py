"""``edgemem verify`` end to end over a real OpenSSH server on loopback (tests/bench/conftest.sshd):
the agent uploaded, the runtime calibrated and the model measured on the "device", for ONNX
Runtime and TVM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from tests.bench.conftest import sshd  # noqa: F401  (the session's sshd fixture)
from tests.memory.runtime.models import save

pytestmark = pytest.mark.ssh
runner = CliRunner()


PROFILES = Path(__file__).resolve().parents[2] / "profiles"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save("branchy", tmp_path_factory.mktemp("ssh-verify"))


@pytest.fixture(autouse=True)
def shared_cache(tmp_path_factory, monkeypatch):
    """One host-side cache for the module (compiled TVM libraries, calibrations)."""
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path_factory.getbasetemp() / "ssh-verify-cache"))


def profile_with_tvm_baseline(folder: Path) -> Path:
    """A device profile whose [baseline.tvm] is measured (so verify takes it instead of calibrating)."""
    text = (PROFILES / "jetson-orin-nano-8gb.toml").read_text()
    text = text.replace('name = "jetson-orin-nano-8gb"', 'name = "loopback-device"')
    text = text.replace('[baseline.tvm]\nstatus = "unknown"', '[baseline.tvm]\nstatus = "measured"\nimport = "404MiB"\n'
                        'session = "2MiB"\nper_node = "4KiB"\ninputs = "2MiB"\nfirst_run = "4KiB"\n'
                        'measured_with = "a test profile"')
    path = folder / "loopback-device.toml"
    path.write_text(text)
    return path


def verify_over_ssh(server, remote, *args):
    argv = ["verify", *map(str, args), "--host", server.alias, "--ssh-config", str(server.ssh_config),
            "--remote-python", sys.executable, "--remote-dir", str(remote), "--repeats", "2", "--json"]
    return runner.invoke(app, argv)


def check_document(result, backend: str, host: str) -> dict:
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["host"] == host and document["backend"] == backend
    assert document["verdict"]["status"] == "fits" and document["verdict"]["exit_code"] == 0
    measurement = document["measurement"]
    assert measurement["repeats"] == 2 and measurement["facts"]["host"] == host
    activations = measurement["parts"]["activations"]
    assert activations["runs"] == 2 and activations["median_bytes"] > 0 and "VmHWM" in activations["source"]
    return document


def test_onnxruntime_over_ssh(sshd, model, tmp_path):  # noqa: F811
    document = check_document(verify_over_ssh(sshd, tmp_path / "remote", model, "--budget", "1GiB"), "onnxruntime",
                              sshd.alias)
    baseline = next(p for p in document["prediction"]["parts"] if p["name"] == "runtime_baseline")
    assert baseline["bytes"] > 10 << 20 and f"calibrated on {sshd.alias}" in baseline["how"]
    assert document["measurement"]["facts"]["backend"]["execution_order"] == "priority"


@pytest.mark.slow
def test_tvm_over_ssh(sshd, model, tmp_path):  # noqa: F811
    pytest.importorskip("tvm")
    profile = profile_with_tvm_baseline(tmp_path)
    document = check_document(verify_over_ssh(sshd, tmp_path / "remote", model, "--budget", "2GiB", "--backend", "tvm",
                                              "--profile", profile), "tvm", sshd.alias)
    assert document["measurement"]["facts"]["backend"]["allocator"] == "pooled"
    baseline = next(p for p in document["prediction"]["parts"] if p["name"] == "runtime_baseline")
    assert baseline["bytes"] == 404 << 20 and "profile loopback-device" in baseline["how"]  # no calibration run
    gap = {c["part"]: c["gap"] for c in document["comparison"]}["activations"]
    assert abs(gap) <= 0.15  # the program replay against what the device measured
