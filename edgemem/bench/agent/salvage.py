"""A partial result for a run whose supervisor is gone (killed, crashed, or stopped and ended).

It is rebuilt from what the run left on disk as it went: state.json (the result so far and the
stage it was in), the stage's checkpoint (phases and latency batches of the measuring child),
its worker result when the child finished, and the /proc samples. The error says why.
"""

import os

from .checkpoint import load_checkpoint
from .common import AgentFailure, now_utc, read_json, tail
from .procs import marked_pids, terminate
from .sampler import summarize_file
from .stage import stage_record
from .wire import AGENT_VERSION, RESULT_SCHEMA


def skeleton(folder):
    spec = folder.spec() or {}
    return {"schema": RESULT_SCHEMA, "agent_version": AGENT_VERSION, "run_id": folder.run_id, "status": "running",
            "error": None, "started_utc": None, "stages": {}, "warnings": [], "conditions": {},
            "backend": {"name": spec.get("backend")}, "system": {}, "artifacts": [], "request": spec}


def salvaged_stage(folder, stage):
    """The record of the stage that was running, from its checkpoint and samples."""
    worker = read_json(folder.path("%s.worker.json" % stage)) or load_checkpoint(folder.path("%s.checkpoint.jsonl" % stage))
    samples = summarize_file(folder.path("proc_samples.jsonl"), stage).document()
    record = stage_record(None, "cancel", None, samples, worker.get("phases") or [], "%s.log" % stage,
                          tail(folder.path("%s.log" % stage), 30))
    record["worker"] = worker
    record["salvaged"] = True
    return record


def salvage(folder, code, message):
    """The run's result as far as it got, with status error and the given code and message."""
    state = folder.state()
    result = state.get("result") or skeleton(folder)
    stage = state.get("stage")
    stages = result.setdefault("stages", {})
    if stage and stage != "prepare" and stage not in stages and (
            os.path.exists(folder.path("%s.checkpoint.jsonl" % stage)) or os.path.exists(folder.path("%s.log" % stage))):
        stages[stage] = salvaged_stage(folder, stage)
    failure = AgentFailure(code, message, stage)
    result.update(status="error", error=failure.document(), partial=bool(stages), salvaged=True, ended_utc=now_utc())
    result.setdefault("warnings", []).append("the agent's supervisor ended without writing a result; this one was "
                                             "rebuilt from the run's checkpoints on disk")
    result["artifacts"] = folder.artifacts()
    return result


def salvage_dead(folder, code="agent_fault", message=None):
    """Write the salvaged result of a run nobody supervises (ending whatever is left of it first)."""
    terminate(marked_pids(folder.marker), 2.0)
    if folder.result() is not None:
        return folder.result()
    result = salvage(folder, code, message or "the run's agent ended (killed or crashed) before it wrote a result")
    folder.write_result(result)
    return result
