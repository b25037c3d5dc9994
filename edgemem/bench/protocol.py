"""The host's side of the agent protocol: versioned JSON messages on single lines. Stdlib only.

The agent (edgemem/bench/agent.py) is uploaded as one file and cannot import this module, so the
wire constants live there (stdlib only, importable) and this module takes them from it.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from edgemem.bench.agent import (  # noqa: F401  (re-exported: the host's names for the wire constants)
    ERROR_EXIT,
    PROBE_SCHEMA,
    PROGRESS_PREFIX,
    RESULT_PREFIX,
    RESULT_SCHEMA,
    SPEC_SCHEMA,
)

# agent error code (ERROR_EXIT: its exit status) -> what it means for the user
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
