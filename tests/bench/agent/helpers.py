"""Running the real agent zipapp as the host does (through the hash-checking launcher)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from edgemem.bench import protocol
from edgemem.bench.package import LAUNCHER, agent_sha256, write_archive
from edgemem.bench.request import BenchRequest

LONG = dict(duration_s=600, max_runs=10**9, warmup_s=0, warmup_runs=1, timeout_s=900)


class Agent:
    """The agent archive in ``home`` and a device cache folder ``base``."""

    def __init__(self, home: Path, base: Path | None = None) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.archive = write_archive(home)
        self.base = base or home / "base"
        self.lock = home / "device.lock"  # one per test: the agent's default is one for the whole machine

    def argv(self, *args: str) -> list[str]:
        lock = ["--lock-file", str(self.lock)] if args[0] in ("hello", "start", "run") else []
        return [sys.executable, "-c", LAUNCHER, str(self.archive), agent_sha256(), args[0], "--base", str(self.base),
                *lock, *args[1:]]

    def __call__(self, *args: str, stdin: bytes | None = None, env=None, cwd=None, timeout=180) -> tuple[int, dict, str]:
        proc = subprocess.run(self.argv(*args), input=stdin, capture_output=True, timeout=timeout, env=env, cwd=cwd)
        out = proc.stdout.decode()
        lines = out.strip().splitlines()
        assert lines and lines[-1].startswith(protocol.RESULT_PREFIX), out + proc.stderr.decode()[-3000:]
        assert "Traceback" not in proc.stderr.decode(), proc.stderr.decode()
        return proc.returncode, protocol.final_document(out), out

    def put(self, path: Path) -> str:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        code, doc, _ = self("put", "--sha256", sha, stdin=path.read_bytes())
        assert code == 0 and doc["bytes"] == path.stat().st_size, doc
        return sha

    def spec(self, model: Path, run_id: str | None = None, **changes) -> dict:
        settings = dict(warmup_s=0.02, warmup_runs=2, duration_s=0.1, runs=5, baseline_s=0.05)
        supervision = changes.pop("supervision", None)
        request = BenchRequest(model=model, **{**settings, **changes})
        spec = request.spec(run_id or f"t-{time.monotonic_ns()}", {"model": self.put(model)},
                            {"providers": ["CPUExecutionProvider"]})
        if supervision:
            spec["supervision"] = supervision
        return spec

    def run(self, spec: dict, **kwargs) -> tuple[int, dict, str]:
        return self("run", "--spec", "-", stdin=json.dumps(spec).encode(), **kwargs)

    def start(self, spec: dict, *extra: str) -> tuple[int, dict, str]:
        return self("start", "--spec", "-", *extra, stdin=json.dumps(spec).encode())

    def run_dir(self, run_id: str) -> Path:
        return self.base / "runs" / run_id


def wait_for(condition, timeout_s: float = 120.0, what: str = "condition"):
    """Poll until ``condition()`` is truthy (generous timeout: the machine may be loaded)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def phases_seen(run_dir: Path) -> list[str]:
    path = run_dir / "progress.jsonl"
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line).get("phase"))
        except ValueError:
            continue
    return found


def measuring(run_dir: Path, batches: int = 2) -> bool:
    """True once the child has checkpointed ``batches`` batches of timed latencies."""
    path = run_dir / "run.checkpoint.jsonl"
    if not path.exists():
        return False
    return sum('"loop":"measure"' in line for line in path.read_text().splitlines()) >= batches


def pid_of(run_dir: Path, name: str) -> int:
    return int((run_dir / name).read_text())


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def processes_mentioning(text: str) -> list[str]:
    """``ps`` lines (pid and command) of live processes whose command line contains ``text``."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        pid, stat, args = (line.strip().split(None, 2) + ["", ""])[:3]
        if text in args and not stat.startswith("Z") and int(pid) != os.getpid() and "ps -eo" not in args:
            found.append(line.strip())
    return found


def no_process_left(text: str, timeout_s: float = 30.0) -> None:
    wait_for(lambda: not processes_mentioning(text), timeout_s, f"no process mentioning {text}")
