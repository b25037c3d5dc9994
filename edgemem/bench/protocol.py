"""The host's side of the agent protocol: versioned JSON messages on single lines. Stdlib only.

The wire constants live in the agent package (edgemem/bench/agent/wire.py, standard library
only) because the agent cannot import anything of the host; this module re-exports them and
adds what only the host needs: what each error code means for the user, and line parsing.
"""

from __future__ import annotations

import json

from edgemem.bench.agent.wire import (  # noqa: F401  (re-exported: the host's names for the wire constants)
    AGENT_VERSION,
    BEAT_PREFIX,
    CANCEL_SCHEMA,
    ERROR_EXIT,
    ERROR_SCHEMA,
    FOLLOW_SCHEMA,
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
    "timeout": "a stage exceeded its deadline and was stopped; the partial result was kept",
    "permission_limited": "ran, but some metrics need root",
    "cancelled": "cancelled (Ctrl-C, SIGTERM or the host's deadline); the partial result was kept",
    "internal": "a bug in the agent",
    "run_failed": "the measuring process failed",
    "integrity": "a file on the device did not match its hash and was refused",
    "busy": "another bench holds the device; queue behind it with --lock-wait DURATION",
    "disk_full": "the device ran out of disk space in its cache folder (--remote-dir); the partial result was kept",
    "agent_fault": "the agent on the device was killed, stopped or stopped answering; the partial result was kept",
    "agent_missing": "the agent is not (or no longer) on the device",
    "unknown_run": "no run with that id on the device (pruned, another --remote-dir, or another host)",
}

LINE_KINDS = (("result", RESULT_PREFIX), ("progress", PROGRESS_PREFIX), ("beat", BEAT_PREFIX))


def parse_line(line: str) -> tuple[str, object]:
    """("result" | "progress" | "beat", document) for protocol lines, ("log", text) for anything else."""
    text = line.rstrip("\r\n")
    for kind, prefix in LINE_KINDS:
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
