"""TensorRT under verify: the GPU side of the process, and a verdict from RSS alone that is partial.

End to end with the trtexec replay (tests/fixtures/device/bin: real trtexec output recorded on
Jetsons, per TensorRT generation): the agent builds once and runs a fresh trtexec per repeat, the
host reads TensorRT's own figures from the recorded logs, and, with no GPU memory visible on this
machine, the verdict is partial (exit 3), never a pass. The GPU figures' order of preference is
checked on the agent's stage records."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgemem.bench.agent.sysinfo import NvmapReader, nvmap_by_pid
from edgemem.cli import app
from edgemem.verify.gpu import gpu_part, process_part
from tests.bench.conftest import replay_tools  # noqa: F401  (fixture)
from tests.bench.models import small_cnn

runner = CliRunner()
MIB = 1 << 20
# TensorRT 10.16.2 on an Orin (t9_trt10.16.2_orin_device.log): per-context device memory and weights as recorded
RECORDED_ACTIVATIONS, RECORDED_WEIGHTS = 2478873600, 34082304


def trt_verify(model, tools, *extra):
    return runner.invoke(app, ["verify", str(model), "--backend", "tensorrt", "--trtexec", tools["trtexec"],
                               "--repeats", "2", "--json", *extra])


def test_rss_alone_is_partial_never_a_pass(tmp_path, replay_tools):  # noqa: F811
    result = trt_verify(small_cnn(tmp_path / "cnn.onnx"), replay_tools("10.16.2"), "--budget", "16GiB")
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    verdict = document["verdict"]
    assert verdict["status"] == "partial" and verdict["reason"].startswith("not a pass: GPU memory was not measured")
    parts = document["measurement"]["parts"]
    assert parts["process_peak"]["partial"] is True and "RSS only" in parts["process_peak"]["source"]
    assert parts["gpu"]["median_bytes"] is None and "not measured" in parts["gpu"]["source"]
    assert parts["activations"]["median_bytes"] == RECORDED_ACTIVATIONS and parts["activations"]["runs"] == 2
    assert parts["weights"]["median_bytes"] == RECORDED_WEIGHTS
    assert "reported by the runtime" in parts["activations"]["source"]
    # once built, the engine's own figures are the prediction (they replace "unknown until built")
    predicted = {p["name"]: p["bytes"] for p in document["prediction"]["parts"]}
    assert predicted["activations"] == RECORDED_ACTIVATIONS and predicted["weights"] == RECORDED_WEIGHTS
    assert document["prediction"]["details"]["built"] is True


def test_over_budget_is_said_even_without_the_gpu_side(tmp_path, replay_tools):  # noqa: F811
    result = trt_verify(small_cnn(tmp_path / "cnn.onnx"), replay_tools("10.16.2"), "--budget", "1GiB",
                        "--budget-scope", "model")
    assert result.exit_code == 3, result.output
    verdict = json.loads(result.stdout)["verdict"]
    assert verdict["status"] == "over"  # weights + activations alone exceed 1 GiB


def stage(**fields):
    return dict({"peak_rss_bytes": 300 * MIB, "worker": {}}, **fields)


def test_gpu_memory_in_order_of_preference():
    raw = {"system": {"before": {"nvmap_used_bytes": 100 * MIB}}}
    own = gpu_part(raw, stage(sampled_peak_nvmap_bytes=700 * MIB, nvmap_method="sudo -n", sampled_peak_nvmap_system_bytes=900 * MIB))
    assert own["bytes"] == 700 * MIB and "sudo -n" in own["source"]
    system = gpu_part(raw, stage(sampled_peak_nvmap_system_bytes=900 * MIB))
    assert system["bytes"] == 800 * MIB and "NvMapMemUsed" in system["source"] and "other processes" in system["source"]
    cuda = gpu_part({}, stage(worker={"cuda_free_bytes": {"cuda_ready": 5000 * MIB, "loaded": 4900 * MIB,
                                                          "context_created": 4400 * MIB, "measured": 4450 * MIB}}))
    assert cuda["bytes"] == 600 * MIB and "cudaMemGetInfo" in cuda["source"]
    nothing = gpu_part({}, stage())
    assert nothing["bytes"] is None and nothing["partial"] is True


def test_the_process_is_rss_plus_gpu_or_partial():
    whole = process_part(stage(), {"bytes": 700 * MIB, "source": "nvmap"})
    assert whole["bytes"] == 1000 * MIB and "partial" not in whole
    alone = process_part(stage(), {"bytes": None, "source": "not measured"})
    assert alone["bytes"] == 300 * MIB and alone["partial"] is True


# the table's format as the reference describes it (a header, "user <process> <PID> <size>K" rows,
# a "total" row); no verbatim sample was recorded, so this text is written from that description
CLIENTS = """CLIENT                        PROCESS      PID        SIZE
user                     trtexec    4242   524288K
user                  gnome-shell    1337    81920K
total                                        606208K
"""


def test_nvmap_clients_per_process_and_the_sudo_path(monkeypatch):
    assert nvmap_by_pid(CLIENTS) == {4242: 512 * MIB, 1337: 80 * MIB}
    calls = []

    def fake_run(argv, timeout_s):
        calls.append(argv)
        return 0, CLIENTS

    monkeypatch.setattr("edgemem.bench.agent.sysinfo.run_quiet", fake_run)
    monkeypatch.setattr("edgemem.bench.agent.sysinfo.read_text", lambda path, limit=0: None)
    monkeypatch.setattr("edgemem.bench.agent.sysinfo.os.path.exists", lambda path: True)
    reader = NvmapReader(sudo_interval_s=60)
    assert reader.read() == {4242: 512 * MIB, 1337: 80 * MIB} and reader.method == "sudo -n"
    assert reader.read() == {4242: 512 * MIB, 1337: 80 * MIB}  # within the interval: no second process
    assert all(argv[:2] == ["sudo", "-n"] for argv in calls) and len(calls) == 2  # the probe and one read
