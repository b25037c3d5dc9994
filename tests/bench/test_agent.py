"""The device agent run directly (as the host runs it): blobs, runs, failures, cancel, pack, clocks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from edgemem.bench import protocol
from edgemem.bench.request import BenchRequest
from tests.bench.models import small_cnn

AGENT = str(protocol.AGENT_FILE)


def agent(base: Path, *args: str, stdin: bytes | None = None, env=None, cwd=None) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, AGENT, args[0], "--base", str(base), *args[1:]], input=stdin,
                          capture_output=True, timeout=120, env=env, cwd=cwd)
    out = proc.stdout.decode()
    assert out.strip().splitlines()[-1].startswith(protocol.RESULT_PREFIX), out  # always ends with one result line
    return proc.returncode, protocol.final_document(out), out


def put(base: Path, path: Path) -> str:
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    code, doc, _ = agent(base, "put", "--sha256", sha, stdin=path.read_bytes())
    assert code == 0 and doc["bytes"] == path.stat().st_size
    return sha


def spec_for(base: Path, model: Path, **changes) -> dict:
    settings = dict(warmup_s=0.02, warmup_runs=2, duration_s=0.1, runs=5, baseline_s=0.05)
    request = BenchRequest(model=model, **{**settings, **changes})
    return request.spec(f"t-{time.monotonic_ns()}", {"model": put(base, model)}, {"providers": ["CPUExecutionProvider"]})


def run(base: Path, spec: dict, env=None, cwd=None) -> tuple[int, dict, str]:
    return agent(base, "run", "--spec", "-", stdin=json.dumps(spec).encode(), env=env, cwd=cwd)


def test_put_verifies_the_hash_and_have_lists_blobs(tmp_path, cnn):
    base = tmp_path / "base"
    code, doc, _ = agent(base, "put", "--sha256", "0" * 64, stdin=b"not this")
    assert code == protocol.ERROR_EXIT["bad_spec"] and "corrupted" in doc["error"]["message"]
    assert not list((base / "blobs").iterdir())  # nothing half-written left behind
    sha = put(base, cnn)
    assert agent(base, "have", sha, "1" * 64)[1]["present"] == [sha]


def test_onnxruntime_run_reports_every_phase_and_exact_peak(tmp_path, cnn):
    base = tmp_path / "base"
    code, result, out = run(base, spec_for(base, cnn))
    assert code == 0 and result["status"] == "ok", result
    assert protocol.PROGRESS_PREFIX in out
    stage = result["stages"]["run"]
    phases = [p["phase"] for p in stage["phases"]]
    assert phases == ["started", "runtime_imported", "loaded", "inputs_ready", "peak_reset", "warmed_up", "measured", "finished"]
    assert stage["peak_rss_bytes"] > 0 and stage["peak_rss_method"].startswith("getrusage")
    assert [p for p in stage["phases"] if p["phase"] == "loaded"][0]["hwm_bytes"] > 0
    assert stage["worker"]["hwm_reset"] is True and len(stage["worker"]["latencies_ms"]) >= 5
    assert stage["samples"] >= 1 and result["backend"]["arena"] == {"enable_cpu_mem_arena": True, "enable_mem_pattern": True}
    run_dir = base / "runs" / result["run_id"]
    assert json.loads((run_dir / "result.json").read_text())["status"] == "ok"
    assert not Path(f"/proc/{int((run_dir / 'run.pid').read_text())}").exists()


def test_relative_base_as_used_over_ssh(tmp_path, cnn, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ssh starts commands in the home directory; the default base is relative to it
    spec = spec_for(Path(".cache/edgemem"), cnn)
    code, result, _ = run(Path(".cache/edgemem"), spec, cwd=tmp_path)
    assert code == 0 and result["status"] == "ok", result
    assert (tmp_path / ".cache" / "edgemem" / "runs" / result["run_id"] / "result.json").is_file()


def test_bad_spec_and_missing_blob_still_end_with_one_result_line(tmp_path, cnn):
    base = tmp_path / "base"
    code, doc, _ = agent(base, "run", "--spec", "-", stdin=b'{"schema": "something/9"}')
    assert code == protocol.ERROR_EXIT["bad_spec"] and doc["error"]["code"] == "bad_spec"
    spec = spec_for(base, cnn)
    spec["model"]["sha256"] = "2" * 64
    code, doc, _ = run(base, spec)
    assert code == 2 and "not uploaded" in doc["error"]["message"]


def test_unbound_symbolic_dimension_is_named(tmp_path):
    base = tmp_path / "base"
    model = small_cnn(tmp_path / "dyn.onnx", batch="N")
    code, doc, _ = run(base, spec_for(base, model))
    assert doc["error"]["code"] == "bad_spec" and "--dim N=N" in doc["error"]["message"]
    code, doc, _ = run(base, spec_for(base, model, dims={"N": 2}))
    assert code == 0 and doc["stages"]["run"]["worker"]["inputs"][0]["shape"] == [2, 3, 32, 32]


def test_memory_limit_kills_the_child_and_keeps_partial_data(tmp_path, huge):
    base = tmp_path / "base"
    code, doc, _ = run(base, spec_for(base, huge, memory_limit_bytes=150 << 20))
    assert code == protocol.ERROR_EXIT["out_of_memory"] and doc["error"]["code"] == "out_of_memory"
    stage = doc["stages"]["run"]
    assert stage["killed_by"] == "memory_limit" and stage["returncode"] == -9
    assert stage["memory_limit_exceeded_at_bytes"] > 150 << 20
    assert "loaded" in [p["phase"] for p in stage["phases"]]  # how far it got


def test_cancel_kills_the_process_groups_and_returns_the_result(tmp_path, cnn):
    base = tmp_path / "base"
    spec = spec_for(base, cnn, duration_s=60, max_runs=10**8, timeout_s=120)
    proc = subprocess.Popen([sys.executable, AGENT, "run", "--base", str(base), "--spec", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()
    for raw in proc.stdout:
        if b'"phase":"peak_reset"' in raw:
            break
    code, doc, _ = agent(base, "cancel", "--run-id", spec["run_id"])
    proc.wait(30)
    assert code == 0 and "agent.pid" in doc["killed"]
    assert doc["result"]["status"] == "error" and doc["result"]["error"]["code"] == "cancelled"
    assert not Path(f"/proc/{int((base / 'runs' / spec['run_id'] / 'run.pid').read_text())}").exists()


def test_pack_returns_the_raw_files(tmp_path, cnn):
    base = tmp_path / "base"
    code, result, _ = run(base, spec_for(base, cnn))
    data = subprocess.run([sys.executable, AGENT, "pack", "--base", str(base), "--run-id", result["run_id"]],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        names = set(archive.getnames())
    assert {"result.json", "spec.json", "proc_samples.jsonl", "run.log", "run.worker.json"} <= names


def test_tensorrt_python_mode_without_tensorrt_is_backend_missing(tmp_path, cnn):
    base = tmp_path / "base"
    spec = spec_for(base, cnn)
    spec.update(backend="tensorrt", options={"mode": "python", "precision": "fp16"})
    code, doc, _ = run(base, spec)
    assert code == protocol.ERROR_EXIT["backend_missing"] and "tensorrt" in doc["error"]["message"]


def test_lock_clocks_stores_and_restores_even_when_the_run_fails(tmp_path):
    base = tmp_path / "base"
    calls = tmp_path / "calls.txt"
    stub = tmp_path / "jetson_clocks"  # a test double that records how it was called, nothing more
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> '{calls}'\n")
    stub.chmod(0o755)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    spec = spec_for(base, bad, lock_clocks=True, tools={"jetson_clocks": str(stub)})
    code, doc, _ = run(base, spec)
    assert doc["error"]["code"] == "model_invalid"
    recorded = calls.read_text().splitlines()
    assert recorded[0].startswith("--store ") and recorded[1] == "" and recorded[2].startswith("--restore ")
    assert recorded[0].split()[1] == recorded[2].split()[1]
    assert doc["conditions"]["lock_clocks"] == "locked" and doc["conditions"]["clocks_restored"] is True


def test_probe_reads_device_identity_below_a_sysroot(tmp_path, replay_tools):
    root = tmp_path / "sysroot"
    (root / "etc").mkdir(parents=True)
    (root / "proc" / "device-tree").mkdir(parents=True)
    # written from the formats in shared/reference/device-formats.md a3 (not copied from a device)
    (root / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic, EABI: aarch64\n")
    (root / "proc" / "device-tree" / "model").write_text("NVIDIA Jetson Orin Nano Developer Kit\x00")
    (root / "proc" / "device-tree" / "compatible").write_text("nvidia,p3768\x00nvidia,tegra234\x00")
    tools = replay_tools()
    env = dict(os.environ, EDGEMEM_AGENT_SYSROOT=str(root))
    code, doc, _ = agent(tmp_path / "base", "probe", "--tools", json.dumps(tools), "--modules", "trtexec", env=env)
    assert doc["board"] == "NVIDIA Jetson Orin Nano Developer Kit" and doc["soc"] == "nvidia,tegra234"
    assert doc["l4t_release"][0].startswith("# R36") and doc["trtexec"]["version_int"] == 101602
    assert doc["nvpmodel"]["query"].startswith("NV Power Mode: 5W") and doc["modules"] == {}
