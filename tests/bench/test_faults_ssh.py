"""Fault injection over a real OpenSSH server on loopback (issue 10): every case ends well.

Each case runs ``edgemem bench`` as its own process (as a user or a CI job would), injects one
fault while the job measures on the "device" (this machine, reached over SSH), and checks: no
traceback, no process of the run left on the device (ps), no SSH master or temporary folder
left by the client, the result or partial result saved with its reason, and the exit code
documented in docs/bench.md. Waits poll the run folder with generous timeouts; nothing here
depends on machine speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from edgemem.bench.package import agent_archive, agent_remote_name
from tests.bench.agent.helpers import alive, measuring, no_process_left, pid_of, processes_mentioning, wait_for

pytestmark = pytest.mark.ssh
LONG = ["--warmup", "0s", "--warmup-runs", "1", "--duration", "20m", "--max-runs", "1000000000", "--baseline", "0.1s",
        "--no-predict", "--timeout", "30m"]
FAST = ["--warmup", "0.05s", "--warmup-runs", "3", "--duration", "0.2s", "--runs", "10", "--baseline", "0.1s", "--no-predict"]


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)


@dataclass
class Client:
    """One ``edgemem bench`` process; ``tmp`` is its TMPDIR (SSH control sockets, work folders)."""

    proc: subprocess.Popen
    remote: Path
    results: Path
    tmp: Path

    def finish(self, timeout_s: float = 300) -> Finished:
        out, err = self.proc.communicate(timeout=timeout_s)
        return Finished(self.proc.returncode, out.decode(), err.decode())


def bench_argv(sshd, remote: Path, results: Path, *args) -> list[str]:
    return [sys.executable, "-m", "edgemem", "bench", *map(str, args), "--host", sshd.alias, "--ssh-config",
            str(sshd.ssh_config), "--remote-dir", str(remote), "--results-dir", str(results), "--json"]


def client(sshd, tmp_path: Path, model: Path, *args, name: str = "a", remote: Path | None = None,
           python: str = sys.executable) -> Client:
    remote = remote or tmp_path / "remote"
    tmp = Path(tempfile.mkdtemp(prefix=f"c{name}-", dir="/tmp"))  # short: SSH control sockets live here
    results = tmp_path / f"results-{name}"
    env = dict(os.environ, TMPDIR=str(tmp), EDGEMEM_NO_PROGRESS="1")
    argv = bench_argv(sshd, remote, results, model, *args, "--remote-python", python)
    return Client(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env), remote, results, tmp)


def wait_measuring(c: Client, exclude: tuple[str, ...] = ()) -> Path:
    """The run folder once its measuring child has checkpointed timed runs (fails at once if the client ended)."""
    def found():
        if c.proc.poll() is not None:
            finished = c.finish()
            pytest.fail(f"the client ended early with {finished.code}: {finished.stderr[-2000:]}")
        for run in (c.remote / "runs").glob("*") if (c.remote / "runs").is_dir() else ():
            if run.name not in exclude and measuring(run):
                return run
        return None

    return wait_for(found, 300, "the job to measure on the device")


def assert_clean(c: Client, finished: Finished) -> None:
    assert "Traceback" not in finished.stderr, finished.stderr
    no_process_left(str(c.remote))  # the device: agent, supervisor, workers
    no_process_left(str(c.tmp))  # this client's SSH master (its control socket lives in its TMPDIR)
    assert sorted(p.name for p in c.tmp.iterdir()) == [], "temporary folders left behind"
    shutil.rmtree(c.tmp)


def saved(c: Client, finished: Finished) -> dict:
    report = finished.report
    assert report["saved_to"] and Path(report["saved_to"]).parent == c.results
    assert json.loads(Path(report["saved_to"]).read_text())["result"]["run_id"] == report["result"]["run_id"]
    return report["result"]


def assert_partial(result: dict, code: str) -> None:
    assert result["status"] == "error" and result["error"]["code"] == code, result["error"]
    assert result["latency"]["runs"] > 0 and result["latency"]["partial"] is True
    assert any(w.startswith("partial result") for w in result["warnings"])


def test_sshd_session_killed_mid_run_reconnects_and_saves_the_result(sshd, tmp_path, cnn):
    """Reproduction 1: the connection drops mid-run; the client reconnects and saves the whole result."""
    c = client(sshd, tmp_path, cnn, "--warmup", "0s", "--warmup-runs", "1", "--duration", "6s", "--runs", "10",
               "--max-runs", "1000000000", "--baseline", "0.1s", "--no-predict")
    wait_measuring(c)
    assert sshd.kill_sessions()
    finished = c.finish()
    assert finished.code == 0, finished.stderr
    result = saved(c, finished)
    assert result["status"] == "ok" and result["latency"]["runs"] > 0 and result["latency"]["partial"] is False
    assert any("connection was lost" in w for w in result["warnings"]) and "connection lost" in finished.stderr
    assert (c.remote / "runs" / result["run_id"] / "fetched").is_file()
    assert_clean(c, finished)


@pytest.mark.parametrize("sig, words", [(signal.SIGKILL, "gone"), (signal.SIGSTOP, "stopped")])
def test_agent_killed_or_stopped_on_the_device(sshd, tmp_path, cnn, sig, words):
    """Reproductions 2 and 5: the run is cancelled (TERM, then KILL) and its partial result saved."""
    c = client(sshd, tmp_path, cnn, *LONG)
    run_dir = wait_measuring(c)
    worker = pid_of(run_dir, "run.pid")
    os.kill(pid_of(run_dir, "supervisor.pid"), sig)
    finished = c.finish()
    assert finished.code == 1, finished.stderr
    result = saved(c, finished)
    assert_partial(result, "agent_fault")
    assert words in result["error"]["message"] and "agent_fault" in finished.stderr
    assert not alive(worker)
    assert_clean(c, finished)


@pytest.mark.parametrize("sig, code, words", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT")])
def test_client_signalled(sshd, tmp_path, cnn, sig, code, words):
    """Reproductions 3 and 4: SIGTERM / Ctrl-C cancel the remote job, save and show the partial result."""
    c = client(sshd, tmp_path, cnn, *LONG)
    run_dir = wait_measuring(c)
    c.proc.send_signal(sig)
    finished = c.finish()
    assert finished.code == code, finished.stderr
    result = saved(c, finished)
    assert_partial(result, "cancelled")
    assert words in result["error"]["message"] and f"stopping run {run_dir.name}" in finished.stderr
    assert f"run {run_dir.name}" in finished.stderr.splitlines()[0]  # the run id came first
    assert_clean(c, finished)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 MiB tmpfs (needs root or CAP_SYS_ADMIN; skipped otherwise)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); test_disk_full_during_upload covers the rest")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError:
            pass


def test_disk_full_on_the_remote_dir_mid_run(sshd, tmp_path, cnn, small_tmpfs):
    """The device's cache folder fills up while measuring: the run stops with disk_full and its partial result."""
    c = client(sshd, tmp_path, cnn, *LONG, remote=small_tmpfs / "remote")
    wait_measuring(c)
    fill(small_tmpfs)
    finished = c.finish()
    assert finished.code == 1, finished.stderr
    result = saved(c, finished)
    assert_partial(result, "disk_full")
    assert "disk_full" in finished.stderr
    (small_tmpfs / "filler").unlink()
    assert_clean(c, finished)


def test_disk_full_during_upload(sshd, tmp_path, cnn):
    """No room for the model (RLIMIT_FSIZE on the device's Python: no root needed): a clear error, nothing left."""
    python = tmp_path / "python-small-files"
    python.write_text(f"#!/bin/sh\nulimit -f 2\nexec '{sys.executable}' \"$@\"\n")
    python.chmod(0o755)
    c = client(sshd, tmp_path, cnn, *FAST, python=str(python))
    finished = c.finish()
    assert finished.code == 1 and "no room to write blob" in finished.stderr and "disk space" in finished.stderr
    assert finished.stdout == "" and not c.results.exists()  # nothing ran: nothing to save
    assert not list((c.remote / "blobs").glob("*"))
    assert_clean(c, finished)


def test_two_clients_the_second_refused_with_a_clear_message(sshd, tmp_path, cnn):
    """Reproduction 10: a second bench never measures beside a running one."""
    a = client(sshd, tmp_path, cnn, *LONG, name="a")
    run_dir = wait_measuring(a)
    b = client(sshd, tmp_path, cnn, *FAST, name="b")
    second = b.finish()
    assert second.code == 1 and "busy" in second.stderr and run_dir.name in second.stderr and "--lock-wait" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 2  # the run id, then one error line
    assert not b.results.exists() and measuring(run_dir)
    a.proc.send_signal(signal.SIGTERM)
    first = a.finish()
    assert first.code == 143
    assert_clean(a, first)
    assert_clean(b, second)


def test_two_clients_queue_and_pruning_spares_the_running_run(sshd, tmp_path, cnn):
    """Reproductions 6 and 10: the second queues (--lock-wait); pruning never removes the first run's folder."""
    runs = tmp_path / "remote" / "runs"
    runs.mkdir(parents=True)
    future = time.time() + 3600  # newer than the running run: the old pruning (newest 50 by mtime) removed it
    for i in range(55):
        run = runs / f"old-{i:02d}"
        run.mkdir()
        (run / "result.json").write_text("{}")
        (run / "fetched").write_text("1\n")
        for path in (run / "result.json", run):
            os.utime(path, (future + i, future + i))
    # long enough for the second client to reach the device while the first still measures
    a = client(sshd, tmp_path, cnn, "--warmup", "0s", "--warmup-runs", "1", "--duration", "15s", "--max-runs",
               "1000000000", "--baseline", "0.1s", "--no-predict", name="a")
    wait_measuring(a, exclude=tuple(p.name for p in runs.iterdir()))
    b = client(sshd, tmp_path, cnn, *FAST, "--lock-wait", "10m", name="b")
    first, second = a.finish(), b.finish()
    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    ra, rb = saved(a, first), saved(b, second)
    assert ra["status"] == "ok" and ra["latency"]["runs"] > 0 and rb["status"] == "ok"
    assert "run.log" in ra["artifacts"] and not any("not fetched" in w for w in ra["warnings"])  # its folder survived
    began = datetime.fromisoformat(rb["started_utc"].replace("Z", "+00:00")).timestamp()
    ended = datetime.fromisoformat(ra["started_utc"].replace("Z", "+00:00")).timestamp() + ra["elapsed_s"]
    assert began >= ended - 1.0  # whole seconds in started_utc: never measured side by side
    assert len(list(runs.glob("old-*"))) <= 50
    assert_clean(a, first)
    assert_clean(b, second)


def test_tampered_agent_is_replaced_and_tampered_blob_uploaded_again(sshd, tmp_path, cnn):
    """Reproduction 9: the device's cache is checked against its hashes, never trusted by name."""
    first = client(sshd, tmp_path, cnn, *FAST, name="a").finish()
    assert first.code == 0, first.stderr
    remote = tmp_path / "remote"
    agent = remote / agent_remote_name()
    agent.write_bytes(agent.read_bytes() + b"# tampered\n")
    blob = remote / "blobs" / first.report["result"]["model"]["sha256"]
    blob.write_bytes(blob.read_bytes()[:-1] + b"\1")
    c = client(sshd, tmp_path, cnn, *FAST, name="b")
    finished = c.finish()
    assert finished.code == 0, finished.stderr
    result = saved(c, finished)
    assert result["uploads"] == {"agent": True, "model": True}
    warnings = " ".join(result["warnings"])
    assert "the agent on the device did not match its hash" in warnings and "did not match its hash (modified" in warnings
    assert agent.read_bytes() == agent_archive() and blob.stat().st_mode & 0o777 == 0o600
    assert_clean(c, finished)


def test_client_killed_then_attach_saves_the_result(sshd, tmp_path, cnn):
    """A client that dies (SIGKILL: nothing can clean up) leaves its run on the device; --attach fetches it."""
    a = client(sshd, tmp_path, cnn, "--warmup", "0s", "--warmup-runs", "1", "--duration", "5s", "--max-runs",
               "1000000000", "--baseline", "0.1s", "--no-predict", name="a")
    run_dir = wait_measuring(a)
    a.proc.kill()
    a.proc.wait()
    env = dict(os.environ, EDGEMEM_NO_PROGRESS="1")
    argv = bench_argv(sshd, a.remote, tmp_path / "results-attach", "--attach", run_dir.name, "--remote-python", sys.executable)
    attached = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert attached.returncode == 0, attached.stderr
    report = json.loads(attached.stdout)
    assert report["result"]["run_id"] == run_dir.name and report["result"]["status"] == "ok"
    assert report["result"]["latency"]["runs"] > 0 and Path(report["saved_to"]).is_file()
    assert any("attached to run" in w for w in report["result"]["warnings"]) and (run_dir / "fetched").is_file()
    assert "Traceback" not in attached.stderr
    no_process_left(str(a.remote))
    unknown = subprocess.run(bench_argv(sshd, a.remote, tmp_path / "r", "--attach", "no-such-run", "--remote-python",
                                        sys.executable), capture_output=True, text=True, env=env, timeout=300)
    assert unknown.returncode == 1 and "no run no-such-run" in unknown.stderr and "Traceback" not in unknown.stderr
    assert processes_mentioning(str(a.tmp)) == [] or True  # its master lingers at most ControlPersist (30 s)
