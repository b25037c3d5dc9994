"""ONNX Runtime and TVM, the parent's side: a fresh child that loads, warms up and measures (and,
with the spec's ``repeats``, the same again in further fresh children: run-2 ... run-N)."""

import os
import shutil

from .blobs import verified_blob

MAX_REPEATS = 20


def worker_job(job, step, **extra):
    """What the measuring child needs (it reads this file, never the spec)."""
    spec = job.spec
    document = {"backend": spec["backend"], "step": step, "model_path": os.path.abspath(job.model_path),
                "inputs": spec.get("inputs") or {}, "warmup": spec.get("warmup") or {},
                "measure": spec.get("measure") or {}, "options": spec.get("options") or {}, "seed": spec.get("seed", 0)}
    document.update(extra)
    return document


def run(job):
    spec = job.spec
    extra = {}
    if spec["backend"] == "tvm":
        blob = verified_blob(job.base, (spec.get("files") or {}).get("library"), "compiled TVM library")
        extra["library_path"] = os.path.abspath(job.path("library.so"))  # TVM picks the loader by suffix
        try:
            os.link(blob, extra["library_path"])  # not a symlink: TVM resolves those back to the suffix-less blob
        except OSError:
            shutil.copyfile(blob, extra["library_path"])
    limit = (spec.get("timeouts") or {}).get("run_s", 300)
    for name in run_stages(spec):
        record = job.worker_stage(name, worker_job(job, "run", **extra), limit)
        if name == "run":
            job.result["backend"].update((record.get("worker") or {}).get("backend") or {})


def run_stages(spec):
    """``run``, then ``run-2`` ... ``run-N``: the same measurement in ``repeats`` fresh processes."""
    repeats = max(1, min(int(spec.get("repeats") or 1), MAX_REPEATS))
    return ["run"] + ["run-%d" % i for i in range(2, repeats + 1)]
