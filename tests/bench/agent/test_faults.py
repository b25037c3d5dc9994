"""The agent under faults: cancel, a killed or stopped supervisor, deadlines, escalation, locks,
pruning, tampered blobs. Every case ends with a result (partial when it stopped early) and no
process of the run left. Waits poll the run folder; nothing here depends on machine speed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from edgemem.bench import protocol
from edgemem.bench.agent import folder as folders
from edgemem.bench.agent.wire import MARKER_ENV
from tests.bench.agent.helpers import LONG, Agent, alive, measuring, no_process_left, pid_of, wait_for


@pytest.fixture
def agent(tmp_path) -> Agent:
    return Agent(tmp_path / "home")


def start_measuring(agent: Agent, model, **changes) -> tuple[dict, object]:
    spec = agent.spec(model, **{**LONG, **changes})
    code, started, _ = agent.start(spec)
    assert code == 0 and started["state"] == "started", started
    run_dir = agent.run_dir(spec["run_id"])
    wait_for(lambda: measuring(run_dir), what="timed runs in the checkpoint")
    return spec, run_dir


def checkpointed(run_dir) -> int:
    lines = [json.loads(line) for line in (run_dir / "run.checkpoint.jsonl").read_text().splitlines()]
    return sum(len(line["ms"]) for line in lines if line.get("loop") == "measure")


def test_cancel_keeps_every_latency_measured_so_far(agent, cnn):
    """Issue 10, reproductions 4 and 12: the partial result holds the latencies measured before the stop."""
    spec, run_dir = start_measuring(agent, cnn)
    code, doc, _ = agent("cancel", "--run-id", spec["run_id"], "--code", "cancelled", "--message", "Ctrl-C on the host")
    assert code == 0 and doc["left"] == []
    result = doc["result"]
    assert result["status"] == "error" and result["partial"] is True
    assert result["error"] == {"code": "cancelled", "stage": "run", "message": "Ctrl-C on the host", "retriable": True}
    latencies = result["stages"]["run"]["worker"]["latencies_ms"]
    assert len(latencies) >= checkpointed(run_dir) > 0
    assert json.loads((run_dir / "result.json").read_text())["error"]["code"] == "cancelled"
    no_process_left(str(agent.base))


def test_deadline_keeps_the_partial_latencies(agent, cnn):
    """Issue 10, reproduction 12: a timeout no longer loses every latency (20 s: generous for a loaded machine)."""
    spec = agent.spec(cnn, **{**LONG, "timeout_s": 20})
    code, result, _ = agent.run(spec)
    assert code == protocol.ERROR_EXIT["timeout"] and result["error"]["code"] == "timeout"
    assert result["partial"] is True and len(result["stages"]["run"]["worker"]["latencies_ms"]) > 0
    no_process_left(str(agent.base))


def test_killed_supervisor_is_a_fault_and_cancel_salvages_its_run(agent, cnn):
    """Issue 10, reproduction 2: SIGKILL to the agent; its worker is ended, the partial result rebuilt."""
    spec, run_dir = start_measuring(agent, cnn)
    supervisor, worker = pid_of(run_dir, "supervisor.pid"), pid_of(run_dir, "run.pid")
    os.kill(supervisor, signal.SIGKILL)
    code, doc, _ = agent("follow", "--run-id", spec["run_id"])
    assert code == protocol.ERROR_EXIT["agent_fault"] and doc["status"] == "fault" and "gone" in doc["error"]["message"]
    # the orphaned worker stops by itself once it sees its parent gone (or the cancel ends it)
    code, doc, _ = agent("cancel", "--run-id", spec["run_id"], "--code", "agent_fault", "--message", doc["error"]["message"])
    result = doc["result"]
    assert result["salvaged"] is True and result["error"]["code"] == "agent_fault" and result["partial"] is True
    assert len(result["stages"]["run"]["worker"]["latencies_ms"]) >= checkpointed(run_dir) > 0
    assert not alive(worker)
    no_process_left(str(agent.base))


def test_stopped_supervisor_is_a_fault_and_cancel_ends_every_process(agent, cnn):
    """Issue 10, reproduction 5: a SIGSTOPped agent is continued to act on SIGTERM; nothing is left."""
    spec, run_dir = start_measuring(agent, cnn)
    supervisor = pid_of(run_dir, "supervisor.pid")
    os.kill(supervisor, signal.SIGSTOP)
    code, doc, _ = agent("follow", "--run-id", spec["run_id"])
    assert doc["status"] == "fault" and "stopped" in doc["error"]["message"]
    code, doc, _ = agent("cancel", "--run-id", spec["run_id"], "--code", "agent_fault", "--message", "stopped", "--grace", "2")
    assert doc["supervisor_signalled"] == supervisor and doc["left"] == []
    assert doc["result"]["error"]["code"] == "agent_fault" and doc["result"]["stages"]["run"]["worker"]["latencies_ms"]
    no_process_left(str(agent.base))


def test_cancel_escalates_to_sigkill(agent, cnn, tmp_path):
    """A process of the run that ignores SIGTERM is killed after the grace period."""
    stubborn = tmp_path / "stubborn-tegrastats-9f3e" / "tegrastats"
    stubborn.parent.mkdir()
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.2; done\n")
    stubborn.chmod(0o755)
    spec, run_dir = start_measuring(agent, cnn, tools={"tegrastats": str(stubborn)}, supervision={"cancel_grace_s": 1})
    assert (run_dir / "tegrastats.log").exists()
    code, doc, _ = agent("cancel", "--run-id", spec["run_id"], "--grace", "1")
    assert doc["left"] == [] and doc["result"]["error"]["code"] == "cancelled"
    no_process_left("stubborn-tegrastats-9f3e")
    no_process_left(str(agent.base))


def test_second_run_refuses_or_queues_while_the_device_is_busy(agent, cnn):
    """Issue 10, reproduction 10: two clients never measure at once."""
    first, first_dir = start_measuring(agent, cnn)
    second = agent.spec(cnn)
    code, doc, _ = agent.start(second)
    assert code == protocol.ERROR_EXIT["busy"] and doc["error"]["code"] == "busy"
    assert first["run_id"] in doc["error"]["message"] and not agent.run_dir(second["run_id"]).exists()
    assert agent("hello")[1]["busy"]["run_id"] == first["run_id"]
    queued = subprocess.Popen(agent.argv("run", "--spec", "-", "--lock-wait", "600"), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    queued.stdin.write(json.dumps(second).encode())
    queued.stdin.close()
    assert b'"phase":"waiting"' in queued.stdout.readline()  # it says it is queued
    assert not agent.run_dir(second["run_id"]).exists()
    agent("cancel", "--run-id", first["run_id"])
    out, err = queued.stdout.read(), queued.stderr.read()
    queued.wait(180)
    result = protocol.final_document(out.decode())
    assert queued.returncode == 0 and result["status"] == "ok", out.decode()[-2000:] + err.decode()[-2000:]
    first_end = os.path.getmtime(first_dir / "result.json")
    assert os.path.getmtime(agent.run_dir(second["run_id"]) / "supervisor.pid") >= first_end


def test_stale_lock_of_a_killed_run_is_recovered(agent, cnn):
    """The orphans of a SIGKILLed supervisor hold the lock; the next run ends them and salvages that run."""
    first, first_dir = start_measuring(agent, cnn)
    worker = pid_of(first_dir, "run.pid")
    os.kill(pid_of(first_dir, "supervisor.pid"), signal.SIGKILL)
    code, result, _ = agent.run(agent.spec(cnn))
    assert code == 0 and result["status"] == "ok", result
    assert not alive(worker)
    salvaged = json.loads((first_dir / "result.json").read_text())
    assert salvaged["error"]["code"] == "agent_fault" and salvaged["salvaged"] is True


def test_pruning_never_touches_a_running_or_unfetched_run(agent, cnn, tmp_path):
    """Issue 10, reproduction 6 (the newest 50 by mtime were kept; a running run was deleted)."""
    runs = agent.base / "runs"
    runs.mkdir(parents=True)
    old = time.time() - 3600
    for i in range(60):
        run = runs / f"old-{i:02d}"
        run.mkdir()
        (run / "result.json").write_text("{}")
        (run / "fetched").write_text("1\n")
        os.utime(run / "result.json", (old + i, old + i))
    unfetched = runs / "unfetched"
    unfetched.mkdir()
    (unfetched / "result.json").write_text("{}")
    os.utime(unfetched / "result.json", (old - 100, old - 100))
    running = runs / "running-elsewhere"  # e.g. started by another agent version: no result, a live process
    running.mkdir()
    os.utime(running, (old - 200, old - 200))
    sleeper = subprocess.Popen(["sleep", "600"], env=dict(os.environ, **{MARKER_ENV: str(running.resolve())}))
    try:
        folders.prune(str(agent.base), "current", lambda f: pytest.fail(f"salvaged {f.run_id}"))
        assert running.is_dir() and unfetched.is_dir()
        kept = sorted(p.name for p in runs.glob("old-*"))
        assert kept == [f"old-{i:02d}" for i in range(10, 60)]
    finally:
        sleeper.kill()
        sleeper.wait()
    salvaged = []
    folders.prune(str(agent.base), "current", salvaged.append)  # nothing of it runs now: salvaged, not removed
    assert [f.run_id for f in salvaged] == ["running-elsewhere"] and running.is_dir()


def test_modified_blob_is_removed_by_have_and_refused_by_a_run(agent, cnn):
    """Issue 10, reproduction 9: the cache is no longer trusted by name."""
    spec = agent.spec(cnn)
    blob = agent.base / "blobs" / spec["model"]["sha256"]
    blob.write_bytes(blob.read_bytes() + b"\0")
    code, doc, _ = agent("have", spec["model"]["sha256"])
    assert doc["present"] == [] and doc["corrupt"] == [spec["model"]["sha256"]] and not blob.exists()
    agent.put(cnn)
    blob.write_bytes(b"x" + blob.read_bytes()[1:])
    code, result, _ = agent.run(spec)
    assert code == protocol.ERROR_EXIT["integrity"] and result["error"]["code"] == "integrity"
    assert "stages" in result and result["stages"] == {} and not blob.exists()


def test_follow_resumes_from_an_offset(agent, cnn):
    spec = agent.spec(cnn)
    code, result, out = agent.run(spec)
    offsets = [doc["offset"] for kind, doc in map(protocol.parse_line, out.splitlines()) if kind == "progress"]
    assert offsets == sorted(offsets) and len(offsets) > 4
    code, again, out = agent("follow", "--run-id", spec["run_id"], "--offset", str(offsets[2]))
    resumed = [doc["offset"] for kind, doc in map(protocol.parse_line, out.splitlines()) if kind == "progress"]
    assert resumed == offsets[3:] and again == result
    code, doc, _ = agent("ack", "--run-id", spec["run_id"])
    assert doc["fetched"] is True and (agent.run_dir(spec["run_id"]) / "fetched").is_file()
    code, doc, _ = agent("follow", "--run-id", "no-such-run")
    assert code == protocol.ERROR_EXIT["unknown_run"] and doc["error"]["code"] == "unknown_run"
