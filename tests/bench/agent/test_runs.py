"""The device agent run directly (as the host runs it): blobs, runs, failures, pack, clocks, probe."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile

import pytest

from edgemem.bench import protocol
from tests.bench.agent.helpers import Agent, alive, pid_of
from tests.bench.models import small_cnn


@pytest.fixture
def agent(tmp_path) -> Agent:
    return Agent(tmp_path / "home")


def test_put_verifies_the_hash_and_have_lists_blobs(agent, cnn):
    code, doc, _ = agent("put", "--sha256", "0" * 64, stdin=b"not this")
    assert code == protocol.ERROR_EXIT["bad_spec"] and "corrupted" in doc["error"]["message"]
    assert not list((agent.base / "blobs").iterdir())  # nothing half-written left behind
    sha = agent.put(cnn)
    assert agent("have", sha, "1" * 64)[1]["present"] == [sha]


def test_onnxruntime_run_reports_every_phase_and_exact_peak(agent, cnn):
    code, result, out = agent.run(agent.spec(cnn))
    assert code == 0 and result["status"] == "ok" and result["partial"] is False, result
    assert protocol.PROGRESS_PREFIX in out
    stage = result["stages"]["run"]
    phases = [p["phase"] for p in stage["phases"]]
    assert phases == ["started", "runtime_imported", "loaded", "inputs_ready", "peak_reset", "warmed_up", "measured", "finished"]
    assert stage["peak_rss_bytes"] > 0 and stage["peak_rss_method"].startswith("getrusage")
    assert [p for p in stage["phases"] if p["phase"] == "loaded"][0]["hwm_bytes"] > 0
    assert stage["worker"]["hwm_reset"] is True and len(stage["worker"]["latencies_ms"]) >= 5
    assert stage["samples"] >= 1 and result["backend"]["arena"] == {"enable_cpu_mem_arena": True, "enable_mem_pattern": True}
    run_dir = agent.run_dir(result["run_id"])
    assert json.loads((run_dir / "result.json").read_text())["status"] == "ok"
    assert not alive(pid_of(run_dir, "run.pid")) and not alive(pid_of(run_dir, "supervisor.pid"))


def test_everything_on_the_device_is_private(agent, cnn):
    """Folders 0700, files 0600, even under a permissive umask (issue 10, reproduction 9)."""
    old = os.umask(0o002)
    try:
        code, result, _ = agent.run(agent.spec(cnn))
    finally:
        os.umask(old)
    assert code == 0, result
    for path in [agent.base, *agent.base.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"


def test_relative_base_as_used_over_ssh(tmp_path, cnn):
    agent = Agent(tmp_path / "home", base=tmp_path / "home" / ".cache" / "edgemem")
    spec = agent.spec(cnn)
    relative = Agent.__new__(Agent)
    relative.archive, relative.base, relative.lock = agent.archive, ".cache/edgemem", agent.lock  # ssh starts in the home
    code, result, _ = relative.run(spec, cwd=tmp_path / "home")
    assert code == 0 and result["status"] == "ok", result
    assert (agent.run_dir(result["run_id"]) / "result.json").is_file()


def test_bad_spec_and_missing_blob_still_end_with_one_result_line(agent, cnn):
    code, doc, _ = agent("run", "--spec", "-", stdin=b'{"schema": "something/9"}')
    assert code == protocol.ERROR_EXIT["bad_spec"] and doc["error"]["code"] == "bad_spec"
    spec = agent.spec(cnn)
    spec["model"]["sha256"] = "2" * 64
    code, doc, _ = agent.run(spec)
    assert code == 2 and "not uploaded" in doc["error"]["message"] and doc["run_id"] == spec["run_id"]


def test_unbound_symbolic_dimension_is_named(agent, tmp_path):
    model = small_cnn(tmp_path / "dyn.onnx", batch="N")
    code, doc, _ = agent.run(agent.spec(model))
    assert doc["error"]["code"] == "bad_spec" and "--dim N=N" in doc["error"]["message"]
    code, doc, _ = agent.run(agent.spec(model, dims={"N": 2}))
    assert code == 0 and doc["stages"]["run"]["worker"]["inputs"][0]["shape"] == [2, 3, 32, 32]


def test_memory_limit_kills_the_child_and_keeps_partial_data(agent, huge):
    code, doc, _ = agent.run(agent.spec(huge, memory_limit_bytes=150 << 20))
    assert code == protocol.ERROR_EXIT["out_of_memory"] and doc["error"]["code"] == "out_of_memory"
    stage = doc["stages"]["run"]
    assert stage["killed_by"] == "memory_limit" and stage["returncode"] == -9
    assert stage["memory_limit_exceeded_at_bytes"] > 150 << 20
    assert "loaded" in [p["phase"] for p in stage["phases"]]  # how far it got


def test_pack_returns_the_raw_files(agent, cnn):
    import subprocess

    code, result, _ = agent.run(agent.spec(cnn))
    data = subprocess.run(agent.argv("pack", "--run-id", result["run_id"]), capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        names = set(archive.getnames())
    assert {"result.json", "spec.json", "proc_samples.jsonl", "run.log", "run.worker.json", "run.checkpoint.jsonl"} <= names
    assert "reserve" not in names


def test_tensorrt_python_mode_without_tensorrt_is_backend_missing(agent, cnn):
    spec = agent.spec(cnn)
    spec.update(backend="tensorrt", options={"mode": "python", "precision": "fp16"})
    code, doc, _ = agent.run(spec)
    assert code == protocol.ERROR_EXIT["backend_missing"] and "tensorrt" in doc["error"]["message"]


def test_lock_clocks_stores_and_restores_even_when_the_run_fails(agent, tmp_path):
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "jetson_clocks"  # a test double that records how it was called, nothing more
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\n")
    stub.chmod(0o755)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    code, doc, _ = agent.run(agent.spec(bad, lock_clocks=True, tools={"jetson_clocks": str(stub)}))
    assert doc["error"]["code"] == "model_invalid"
    recorded = calls.read_text().splitlines()
    assert recorded[0].startswith("--store ") and recorded[1] == "" and recorded[2].startswith("--restore ")
    assert recorded[0].split()[1] == recorded[2].split()[1]
    assert doc["conditions"]["lock_clocks"] == "locked" and doc["conditions"]["clocks_restored"] is True


def test_probe_reads_device_identity_below_a_sysroot(agent, tmp_path, replay_tools):
    root = tmp_path / "sysroot"
    (root / "etc").mkdir(parents=True)
    (root / "proc" / "device-tree").mkdir(parents=True)
    # written from the formats in shared/reference/device-formats.md a3 (not copied from a device)
    (root / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic, EABI: aarch64\n")
    (root / "proc" / "device-tree" / "model").write_text("NVIDIA Jetson Orin Nano Developer Kit\x00")
    (root / "proc" / "device-tree" / "compatible").write_text("nvidia,p3768\x00nvidia,tegra234\x00")
    tools = replay_tools()
    env = dict(os.environ, EDGEMEM_AGENT_SYSROOT=str(root))
    code, doc, _ = agent("probe", "--tools", json.dumps(tools), "--modules", "trtexec", env=env)
    assert doc["board"] == "NVIDIA Jetson Orin Nano Developer Kit" and doc["soc"] == "nvidia,tegra234"
    assert doc["l4t_release"][0].startswith("# R36") and doc["trtexec"]["version_int"] == 101602
    assert doc["nvpmodel"]["query"].startswith("NV Power Mode: 5W") and doc["modules"] == {}


def test_tensorrt_engine_cache_is_verified_before_reuse(agent, cnn, replay_tools):
    tools = replay_tools("10.16.2")
    spec = agent.spec(cnn, tools={"trtexec": tools["trtexec"]})
    spec.update(backend="tensorrt", options={"mode": "trtexec", "precision": "fp16", "engine_cache": True}, tegrastats="off")
    code, first, _ = agent.run(spec)
    assert code == 0 and first["stages"]["build"]["cached"] is False, first
    (engine,) = (agent.base / "engines").glob("*.engine")
    assert (engine.parent / (engine.name + ".sha256")).is_file()
    again = dict(spec, run_id=spec["run_id"] + "-again")
    assert agent.run(again)[1]["stages"]["build"]["cached"] is True
    engine.write_bytes(engine.read_bytes() + b"tampered")
    third = dict(spec, run_id=spec["run_id"] + "-third")
    code, result, _ = agent.run(third)
    assert code == 0 and result["stages"]["build"]["cached"] is False  # rebuilt, never used as it was
