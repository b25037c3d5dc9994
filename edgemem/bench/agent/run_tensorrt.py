"""TensorRT, the parent's side: build (or reuse a verified cached engine) in one child, then
load-and-run in a fresh one, through trtexec (default) or the tensorrt Python API."""

import hashlib
import json
import os

from . import trtexec
from .blobs import record_engine, verified_engine
from .common import AgentFailure, private_dir, read_text
from .probe import probe_python_module
from .run_python import run_stages, worker_job
from .wire import AGENT_VERSION


def engine_facts(job, version):
    """Everything that changes the engine TensorRT builds: the model, the shapes it is built for,
    precision and workspace, any extra builder flags, the path that builds it, the TensorRT
    version and the device (an engine is specific to the GPU it was built on)."""
    spec = job.spec
    options = spec.get("options") or {}
    inputs = spec.get("inputs") or {}
    return {"model": spec["model"]["sha256"], "shapes": inputs.get("shapes") or {}, "dims": inputs.get("dims") or {},
            "precision": options.get("precision", "fp32"), "workspace_bytes": options.get("workspace_bytes"),
            "extra_args": list(options.get("extra_args") or []), "mode": options.get("mode", "trtexec"),
            "tensorrt": str(version), "device": (read_text("/proc/device-tree/model", 256) or "").strip("\x00\n "),
            "builder": AGENT_VERSION}


def engine_cache_path(job, version):
    facts = engine_facts(job, version)
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode("utf-8")).hexdigest()[:24]
    key = "%s-%s-%s" % (facts["model"][:16], facts["precision"], digest)
    return os.path.join(private_dir(os.path.join(job.base, "engines")), key + ".engine")


def cached(job, engine):
    """Record the cached engine as the build stage when it is there and unmodified."""
    if not (job.spec.get("options") or {}).get("engine_cache", True) or not verified_engine(engine):
        return False
    job.result["stages"]["build"] = {"cached": True, "engine": engine, "engine_bytes": os.path.getsize(engine),
                                     "cache_key": engine_facts(job, job.result["backend"].get("version_int")
                                                               or job.result["backend"].get("version"))}
    job.progress("build", "cached")
    return True


def run(job):
    options = job.spec.get("options") or {}
    if options.get("mode", "trtexec") == "python":
        return run_python_api(job)
    return run_trtexec(job)


def run_trtexec(job):
    options = job.spec.get("options") or {}
    timeouts = job.spec.get("timeouts") or {}
    path = job.tool("trtexec", trtexec.TRTEXEC_PATHS)
    if not path:
        raise AgentFailure("backend_missing", "trtexec not found on PATH or in /usr/src/tensorrt/bin", "prepare")
    version = trtexec.trtexec_version(path)
    if version is None:
        raise AgentFailure("backend_missing", "%s --help printed no '[TensorRT vN]' banner" % path, "prepare")
    job.result["backend"].update({"name": "tensorrt", "mode": "trtexec", "path": path, "version_int": version})
    engine = engine_cache_path(job, version)
    if not cached(job, engine):
        tmp = "%s.tmp.%d" % (engine, os.getpid())
        argv = trtexec.build_argv(path, version, job.model_path, tmp, options,
                                  os.path.join(job.base, "engines", "timing.cache"), trtexec.shapes_flag(job.spec))
        record = job.stage("build", argv, timeouts.get("build_s", 1800))
        record["cached"] = False
        trtexec.check(job, "build", record)
        record_engine(tmp, engine)
        record["engine_bytes"] = os.path.getsize(engine)
    for name in run_stages(job.spec):  # a fresh trtexec per repeat; times.json, times-run-2.json, ...
        times = job.path("times.json" if name == "run" else "times-%s.json" % name)
        record = job.stage(name, trtexec.run_argv(path, version, engine, job.spec, times), timeouts.get("run_s", 300))
        trtexec.check(job, name, record)


def run_python_api(job):
    """TensorRT through its Python API (JetPack's bindings): build child, then a fresh run child."""
    timeouts = job.spec.get("timeouts") or {}
    version = probe_python_module("tensorrt", 60)
    if not version.get("available"):
        raise AgentFailure("backend_missing", "import tensorrt failed: %s" % version.get("reason"), "prepare")
    job.result["backend"].update({"name": "tensorrt", "mode": "python", "version": version["version"]})
    engine = engine_cache_path(job, version["version"])
    if not cached(job, engine):
        tmp = "%s.tmp.%d" % (engine, os.getpid())
        job.worker_stage("build", worker_job(job, "build", engine_path=tmp), timeouts.get("build_s", 1800))
        record_engine(tmp, engine)
    for name in run_stages(job.spec):
        job.worker_stage(name, worker_job(job, "run", engine_path=engine), timeouts.get("run_s", 300))
