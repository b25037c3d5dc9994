"""The host's side of the agent protocol: versioned JSON messages on single lines. Stdlib only.

The agent (edgemem/bench/agent.py) is uploaded as one file and cannot import this module, so it
keeps its own copies of these constants; tests/bench/test_protocol.py checks they agree.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

SPEC_SCHEMA = "edgemem.bench.spec/1"
RESULT_SCHEMA = "edgemem.bench.result/1"
PROBE_SCHEMA = "edgemem.bench.probe/1"
RESULT_PREFIX = "EDGEMEM-RESULT "
PROGRESS_PREFIX = "EDGEMEM-PROGRESS "

# agent error code -> its exit status, and what it means for the user
ERROR_EXIT = {
    "bad_spec": 2,
    "backend_missing": 3,
    "model_invalid": 4,
    "build_failed": 5,
    "out_of_memory": 6,
    "timeout": 7,
    "permission_limited": 8,
    "cancelled": 9,
    "internal": 10,
    "run_failed": 11,
}
ERROR_MEANING = {
    "bad_spec": "the job was malformed or referred to something not uploaded",
    "backend_missing": "the runtime is not installed on the device",
    "model_invalid": "the runtime could not read or convert the model",
    "build_failed": "the engine build failed",
    "out_of_memory": "the measuring process ran out of memory (or exceeded --memory-limit)",
    "timeout": "a stage exceeded its deadline and was killed",
    "permission_limited": "ran, but some metrics need root",
    "cancelled": "cancelled (timeout on the host or Ctrl-C)",
    "internal": "a bug in the agent",
    "run_failed": "the measuring process failed",
}

AGENT_FILE = Path(__file__).with_name("agent.py")


@lru_cache(maxsize=1)
def agent_source() -> bytes:
    return AGENT_FILE.read_bytes()


def agent_sha256() -> str:
    return hashlib.sha256(agent_source()).hexdigest()


def agent_remote_name() -> str:
    """Content-addressed file name of the agent on the device."""
    return f"agent-{agent_sha256()[:16]}.py"


def parse_line(line: str) -> tuple[str, object]:
    """("result" | "progress", document) for protocol lines, ("log", text) for anything else."""
    text = line.rstrip("\r\n")
    for kind, prefix in (("result", RESULT_PREFIX), ("progress", PROGRESS_PREFIX)):
        if text.startswith(prefix):
            try:
                return kind, json.loads(text[len(prefix):])
            except ValueError:
                return "log", text
    return "log", text


def final_document(stdout: str) -> dict | None:
    """The last EDGEMEM-RESULT document in an agent's stdout, or None."""
    found = None
    for line in stdout.splitlines():
        kind, document = parse_line(line)
        if kind == "result" and isinstance(document, dict):
            found = document
    return found
