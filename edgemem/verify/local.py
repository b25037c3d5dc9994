"""Run the measuring process on this machine, ``repeats`` times, each a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from edgemem.errors import EdgememError
from edgemem.verify.measure import Sampler, child_environment, summarize
from edgemem.verify.worker import RESULT_PREFIX

PARTS = ("runtime_baseline", "weights", "session_overhead", "activations", "io_buffers", "process_peak")


@dataclass(frozen=True)
class FreshRuns:
    """Every fresh process's result and, per part, the median and spread over them."""

    runtime: str
    results: tuple[dict, ...]
    summary: dict  # part -> summarize(...) + source
    errors: tuple[str, ...] = ()


class MeasureError(EdgememError):
    """The measuring process failed (the runtime rejected the model, ran out of memory, ...)."""

    code = "measure"


def run_fresh(job: dict, timeout_s: float = 600.0) -> dict:
    """One fresh measuring process for ``job``; its result document, with the sampled memory trace."""
    proc = subprocess.Popen([sys.executable, "-m", "edgemem.verify.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_environment())
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        stdout, stderr = proc.communicate(json.dumps(job), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MeasureError(f"the measuring process ran past {timeout_s:.0f} s and was killed") from None
    finally:
        trace = sampler.stop()
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if "error" in result:
                raise MeasureError(result["error"])
            result["trace"] = {"interval_ms": 10, "samples": trace, "source": "sampled /proc/<pid>/status"}
            return result
    tail = (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    raise MeasureError(f"the measuring process ended without a result: {tail[:300]}")


def summarize_parts(results: list[dict]) -> dict:
    summary = {}
    for part in PARTS:
        values = [(r["parts"].get(part) or {}).get("bytes") for r in results]
        sources = sorted({(r["parts"].get(part) or {}).get("source", "unknown") for r in results})
        summary[part] = dict(summarize(values), source="; ".join(sources))
    return summary


def measure_fresh(job: dict, repeats: int = 3, timeout_s: float = 600.0) -> FreshRuns:
    results = [run_fresh(job, timeout_s) for _ in range(max(1, repeats))]
    return FreshRuns(job["runtime"], tuple(results), summarize_parts(results))
