"""run_bench / attach_bench: one model on one device -> BenchResult, never losing what was measured.

run_bench: a run id first (announced before anything happens), then connect (host key checked),
the agent (uploaded unless that exact archive is there, intact), a check that no other bench
holds the device (or a queue behind it, --lock-wait), probe, prepare (TVM compiles here),
upload what the device lacks, start the run detached on the device, follow it to its result
(watch.py: reconnects, one cancel path), fetch the raw logs, acknowledge (the device may then
prune the run), parse. attach_bench picks up a run by its id, running or finished, the same way.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgemem.bench.assemble import assemble
from edgemem.bench.backends import Prepared, get_backend
from edgemem.bench.client import SshOptions, SshTransport
from edgemem.bench.device import Device, RetryPolicy
from edgemem.bench.errors import AgentError, CancelledError, RemoteCommandError
from edgemem.bench.request import BenchRequest, new_run_id
from edgemem.bench.result import BenchResult
from edgemem.bench.stop import StopRequest
from edgemem.bench.transport import LocalTransport, Transport
from edgemem.bench.watch import RunWatch, WatchPolicy
from edgemem.errors import BenchError, ModelLoadError

LOCAL = "local"
LOCK_ENV = "EDGEMEM_DEVICE_LOCK"  # another device lock file than the agent's machine-wide default (tests)


@dataclass(frozen=True)
class Target:
    """Where to run: ``local`` or SSH options; ``base``/``python`` override the device defaults."""

    name: str
    ssh: SshOptions | None = None
    base: str | None = None
    python: str | None = None

    def transport(self) -> Transport:
        return SshTransport(self.ssh) if self.ssh is not None else LocalTransport()

    @property
    def destination(self) -> str:
        return self.ssh.destination if self.ssh is not None else LOCAL


@dataclass(frozen=True)
class RunPolicy:
    """How a run waits, retries and stops (see watch.WatchPolicy)."""

    lock_wait_s: float = 0.0  # queue behind another bench on the device this long (0: refuse at once)
    host_margin_s: float = 30.0  # the host's deadline: the job's --timeout plus this
    watch: WatchPolicy = field(default_factory=WatchPolicy)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_record(path: Path) -> dict:
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file")
    return {"name": path.name, "path": str(path.resolve()), "sha256": sha256_file(path), "bytes": path.stat().st_size}


class Session:
    """One target's connection, its Device, and the messages and warnings of this run."""

    def __init__(self, target: Target, stop: StopRequest, policy: RunPolicy,
                 on_progress: Callable[[str, dict], None] | None) -> None:
        self.target, self.stop, self.policy = target, stop, policy
        self.on_progress = on_progress or (lambda host, document: None)
        self.transport = target.transport()
        retry = RetryPolicy(policy.watch.reconnect_s, policy.watch.first_pause_s, policy.watch.max_pause_s)
        self.device = Device(self.transport, target.base, target.python, retry=retry, stop=stop, notify=self.say,
                             lock_file=os.environ.get(LOCK_ENV))

    def notify(self, stage: str, document: dict) -> None:
        self.on_progress(self.target.name, dict(document, stage=stage))

    def say(self, text: str) -> None:
        """A line the user should see even without a terminal (progress shows it on stderr)."""
        self.on_progress(self.target.name, {"stage": "note", "phase": None, "announce": text})

    def check_stop(self, what: str) -> None:
        if self.stop.is_set():
            raise CancelledError(f"{self.target.name}: {self.stop.message} before {what}; nothing was started on the device",
                                 exit_code=self.stop.exit_code or 1)

    def wait_until_idle(self) -> None:
        """Refuse (or queue, up to --lock-wait) while another bench holds the device."""
        end = time.monotonic() + self.policy.lock_wait_s
        busy = self.device.busy()
        while busy:
            if time.monotonic() >= end:
                raise AgentError(f"{self.target.name}: the device is busy: run {busy.get('run_id')} (started "
                                 f"{busy.get('started_utc')}) holds its bench lock", "busy", "queue",
                                 hint="queue behind it with --lock-wait DURATION, or wait for it to finish")
            self.notify("queue", {"phase": "waiting", "info": busy})
            if self.stop.wait(min(2.0, max(end - time.monotonic(), 0.1))):
                self.check_stop("the device was free")
            busy = self.device.busy()

    def follow(self, run_id: str, timeout_s: float) -> tuple[dict, list[str]]:
        deadline = time.monotonic() + timeout_s + self.policy.host_margin_s
        watch = RunWatch(self.device, run_id, deadline, self.stop, self.policy.watch,
                         lambda document: self.notify(document.get("stage", "run"), document), self.say,
                         self.target.destination)
        return watch.result(), watch.notes

    def collect(self, run_id: str, artifacts_root: Path) -> tuple[Path | None, list[str], list[str]]:
        """Fetch the raw logs, then acknowledge: the device keeps the run until this point."""
        artifacts_dir = artifacts_root / run_id
        try:
            names = self.device.fetch_artifacts(run_id, artifacts_dir)
        except (BenchError, OSError) as exc:
            return None, [], [f"raw logs not fetched (the run stays on the device until fetched): {exc}"]
        try:
            self.device.ack(run_id)
        except BenchError as exc:
            return artifacts_dir, names, [f"could not mark run {run_id} fetched on the device: {exc.one_line()}"]
        return artifacts_dir, names, []


@dataclass(frozen=True)
class RawRun:
    """What one run on the device left: the agent's raw result, the probe, the fetched logs."""

    raw: dict
    probe: dict
    uploads: dict
    model: dict
    artifacts_dir: Path | None
    artifacts: list[str]
    notes: tuple[str, ...]


def run_raw(request: BenchRequest, target: Target, artifacts_root: Path,
            on_progress: Callable[[str, dict], None] | None = None, cancel: StopRequest | None = None,
            policy: RunPolicy = RunPolicy(), prepared: Prepared | None = None, spec_extra: dict | None = None) -> RawRun:
    """Run ``request`` on ``target`` up to the agent's raw result (``edgemem verify`` reads it as is).
    ``prepared`` replaces the backend's own preparation (files compiled elsewhere); ``spec_extra``
    adds job fields (repeats, the measuring child's environment)."""
    backend = get_backend(request.backend)
    model = model_record(request.model)
    run_id = new_run_id()
    session = Session(target, cancel or StopRequest(), policy, on_progress)
    session.notify("run", {"phase": "id", "run_id": run_id,
                           "announce": f"{target.name}: run {run_id} (reattach: edgemem bench --attach {run_id} "
                                       f"--host {target.destination})"})
    with session.transport:
        spec, probe, uploads, notes = prepare(session, request, backend, model, run_id, prepared)
        spec.update(spec_extra or {})
        session.check_stop("the job started")
        session.device.start(spec, policy.lock_wait_s)
        raw, watch_notes = session.follow(run_id, request.timeout_s)
        artifacts_dir, names, fetch_notes = session.collect(run_id, artifacts_root)
    raw = name_user_files(raw, {sha: str(request.model) if key == "model" else key for key, sha in spec["files"].items()})
    return RawRun(raw, probe, uploads, model, artifacts_dir, names,
                  tuple(notes + session.device.warnings + watch_notes + fetch_notes))


def run_bench(request: BenchRequest, target: Target, artifacts_root: Path,
              on_progress: Callable[[str, dict], None] | None = None, cancel: StopRequest | None = None,
              policy: RunPolicy = RunPolicy()) -> BenchResult:
    """Measure ``request`` on ``target``; raw logs go to ``artifacts_root/<run id>``."""
    run = run_raw(request, target, artifacts_root, on_progress, cancel, policy)
    backend = get_backend(request.backend)
    return assemble(host=target.name, raw=run.raw, probe=run.probe, interpretation=backend.interpret(run.raw, run.artifacts_dir),
                    model=run.model, backend=request.backend, precision=request.precision, uploads=run.uploads,
                    artifacts_dir=run.artifacts_dir, artifacts=run.artifacts, extra_warnings=run.notes)


def name_user_files(raw: dict, names: dict[str, str]) -> dict:
    """Error messages name the user's file, not the device's cache blob holding it (blobs/<sha256>)."""
    error = raw.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return raw
    message = re.sub(r"[^\s'\"]*blobs/([0-9a-f]{64})", lambda m: names.get(m.group(1), m.group(0)), error["message"])
    return {**raw, "error": {**error, "message": message}}


def prepare(session: Session, request: BenchRequest, backend, model: dict, run_id: str, prepared: Prepared | None = None):
    """Agent, idle device, probe, backend files uploaded -> (spec, probe, upload flags, notes)."""
    device = session.device
    session.notify("connect", {"phase": "agent"})
    device.ensure_agent()
    session.wait_until_idle()
    session.notify("connect", {"phase": "probe"})
    probe = device.probe(request.tools, backend.probe_modules(request))
    reason = backend.unavailable(probe, request)
    if reason:
        raise BenchError(f"{session.target.name}: backend {request.backend} unavailable: {reason}")
    session.check_stop("the upload")
    workdir = Path(tempfile.mkdtemp(prefix="edgemem-bench-"))
    try:
        session.notify("prepare", {"phase": backend.name})
        prepared = prepared or backend.prepare(request, workdir)
        files = {key: (Path(path), sha256_file(Path(path))) for key, path in prepared.files.items()}
        session.notify("upload", {"phase": "blobs"})
        uploads = device.ensure_blobs(files)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    flags = {"agent": bool(device.agent_uploaded), **{k: u.uploaded for k, u in uploads.items()}}
    spec = request.spec(run_id, {key: sha for key, (_, sha) in files.items()}, prepared.options)
    spec["host_context"] = {"host": session.target.name, "model": model, "probe": probe, "uploads": flags,
                            "precision": request.precision}
    spec["supervision"] = {"cancel_grace_s": session.policy.watch.cancel_grace_s}
    return spec, probe, flags, list(prepared.notes)


def attach_bench(run_id: str, target: Target, artifacts_root: Path,
                 on_progress: Callable[[str, dict], None] | None = None, cancel: StopRequest | None = None,
                 policy: RunPolicy = RunPolicy()) -> BenchResult:
    """Pick up run ``run_id`` on ``target`` (running or finished), follow it to its result and save it."""
    session = Session(target, cancel or StopRequest(), policy, on_progress)
    with session.transport:
        session.device.ensure_agent()
        raw, watch_notes = session.follow(run_id, 24 * 3600.0)
        artifacts_dir, names, fetch_notes = session.collect(run_id, artifacts_root)
    request = raw.get("request") or {}
    context = request.get("host_context") or {}
    if not request.get("backend"):
        raise RemoteCommandError(f"run {run_id} on {target.name} has no job spec; it cannot be interpreted")
    backend = get_backend(request["backend"])
    precision = context.get("precision") or (request.get("options") or {}).get("precision", "fp32")
    notes = [f"attached to run {run_id} from another bench command"] + session.device.warnings + watch_notes + fetch_notes
    return assemble(host=context.get("host") or target.name, raw=raw, probe=context.get("probe") or {},
                    interpretation=backend.interpret(raw, artifacts_dir),
                    model=context.get("model") or dict(request.get("model") or {}), backend=request["backend"],
                    precision=precision, uploads=context.get("uploads") or {}, artifacts_dir=artifacts_dir,
                    artifacts=names, extra_warnings=tuple(notes))
