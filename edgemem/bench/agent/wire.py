"""Wire constants shared by the agent and the host (edgemem.bench.protocol re-exports them)."""

import re

AGENT_VERSION = "0.2.0"
PACKAGE = "edgemem_agent"  # the package's name inside the zipapp
RESULT_PREFIX = "EDGEMEM-RESULT "
PROGRESS_PREFIX = "EDGEMEM-PROGRESS "
BEAT_PREFIX = "EDGEMEM-BEAT "
PHASE_PREFIX = "EDGEMEM-PHASE "
RESULT_SCHEMA = "edgemem.bench.result/1"
PROBE_SCHEMA = "edgemem.bench.probe/1"
SPEC_SCHEMA = "edgemem.bench.spec/1"
FOLLOW_SCHEMA = "edgemem.bench.follow/1"
CANCEL_SCHEMA = "edgemem.bench.cancel/1"
ERROR_SCHEMA = "edgemem.bench.error/1"  # a command (not a run) failed
BACKENDS = ("onnxruntime", "tvm", "tensorrt")
RUN_ID = re.compile(r"^[A-Za-z0-9._-]{1,80}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
MARKER_ENV = "EDGEMEM_RUN_MARKER"  # every process of a run carries it (found again through /proc/*/environ)
SHA_ENV = "EDGEMEM_AGENT_SHA256"  # set by the launcher: the hash the archive was checked against
# error code -> process exit status (0 ok; 1 is Python's own failure; 126/127 the shell's; 255 ssh's)
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
    "integrity": 12,
    "busy": 13,
    "disk_full": 14,
    "agent_fault": 15,
    "agent_missing": 16,
    "unknown_run": 17,
}
