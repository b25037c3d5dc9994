"""run_bench: one model, one device, one backend -> BenchResult (partial data when it fails).

Steps, each with a timeout: connect (host key checked), upload the agent unless that version is
there, probe, check the backend is available, prepare (TVM compiles here), upload the model
unless that content is there, run the job (progress streamed), fetch the raw logs, parse.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgemem.bench.assemble import assemble
from edgemem.bench.backends import get_backend
from edgemem.bench.client import SshOptions, SshTransport
from edgemem.bench.device import Device
from edgemem.bench.errors import AgentError, RemoteCommandError
from edgemem.bench.request import BenchRequest, new_run_id
from edgemem.bench.result import BenchResult
from edgemem.bench.transport import LocalTransport, Transport
from edgemem.errors import BenchError, ModelLoadError

LOCAL = "local"


@dataclass(frozen=True)
class Target:
    """Where to run: ``local`` or SSH options; ``base``/``python`` override the device defaults."""

    name: str
    ssh: SshOptions | None = None
    base: str | None = None
    python: str | None = None

    def transport(self) -> Transport:
        return SshTransport(self.ssh) if self.ssh is not None else LocalTransport()


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


def run_bench(request: BenchRequest, target: Target, artifacts_root: Path,
              on_progress: Callable[[str, dict], None] | None = None, cancel: threading.Event | None = None) -> BenchResult:
    """Measure ``request`` on ``target``; raw logs go to ``artifacts_root/<run id>``."""
    backend = get_backend(request.backend)
    model = model_record(request.model)
    notify = (lambda stage, doc: on_progress(target.name, dict(doc, stage=stage))) if on_progress else (lambda *a: None)
    with target.transport() as transport:
        device = Device(transport, target.base, target.python)
        notify("connect", {"phase": "agent"})
        device.ensure_agent()
        notify("connect", {"phase": "probe"})
        probe = device.probe(request.tools, backend.probe_modules(request))
        reason = backend.unavailable(probe, request)
        if reason:
            raise BenchError(f"{target.name}: backend {request.backend} unavailable: {reason}")
        workdir = Path(tempfile.mkdtemp(prefix="edgemem-bench-"))
        try:
            notify("prepare", {"phase": backend.name})
            prepared = backend.prepare(request, workdir)
            files = {key: (Path(path), sha256_file(Path(path))) for key, path in prepared.files.items()}
            notify("upload", {"phase": "blobs"})
            uploads = device.ensure_blobs(files)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        run_id = new_run_id()
        spec = request.spec(run_id, {key: sha for key, (_, sha) in files.items()}, prepared.options)
        raw, failure = run_job(device, spec, notify, cancel)
        raw, failure = name_user_files(raw, failure, {sha: str(request.model) if key == "model" else key for key, (_, sha) in files.items()})
        artifacts_dir = artifacts_root / run_id
        try:
            names = device.fetch_artifacts(run_id, artifacts_dir)
        except (RemoteCommandError, OSError) as exc:
            names, artifacts_dir = [], None
            prepared_notes = (f"raw logs not fetched: {exc}",)
        else:
            prepared_notes = ()
    interpretation = backend.interpret(raw, artifacts_dir)
    upload_flags = {"agent": bool(device.agent_uploaded), **{k: u.uploaded for k, u in uploads.items()}}
    return assemble(host=target.name, raw=raw, probe=probe, interpretation=interpretation, model=model,
                    backend=request.backend, precision=request.precision, uploads=upload_flags,
                    artifacts_dir=artifacts_dir, artifacts=names,
                    extra_warnings=tuple(prepared.notes) + prepared_notes + ((failure,) if failure else ()))


def name_user_files(raw: dict, failure: str | None, names: dict[str, str]) -> tuple[dict, str | None]:
    """Error messages name the user's file, not the device's cache blob holding it (blobs/<sha256>)."""
    def named(text):
        return re.sub(r"[^\s'\"]*blobs/([0-9a-f]{64})", lambda m: names.get(m.group(1), m.group(0)), text) if text else text

    if isinstance(raw.get("error"), dict) and isinstance(raw["error"].get("message"), str):
        raw = {**raw, "error": {**raw["error"], "message": named(raw["error"]["message"])}}
    return raw, named(failure)


def run_job(device: Device, spec: dict, notify, cancel) -> tuple[dict, str | None]:
    """The agent's result document; a host-side timeout/cancel becomes an error document."""
    try:
        return device.run(spec, on_progress=lambda doc: notify(doc.get("stage", "run"), doc), cancel=cancel), None
    except AgentError as exc:
        raw = dict(exc.result or {"run_id": spec["run_id"], "stages": {}})
        raw.setdefault("request", spec)
        raw["status"] = "error"
        raw["error"] = raw.get("error") or {"code": exc.agent_code, "stage": exc.stage, "message": exc.message}
        if raw["error"].get("code") == "cancelled" and exc.agent_code == "timeout":
            raw["error"] = {"code": "timeout", "stage": exc.stage, "message": exc.message}
        return raw, exc.message
