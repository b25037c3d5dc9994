#!/usr/bin/env python3
"""edgemem device agent: one file, standard library only, Python 3.6 to 3.12.

The host uploads this file (content-addressed) and runs it with the device's system Python:

    python3 agent.py probe  --base DIR                  what the device has; one result line
    python3 agent.py have   --base DIR SHA256...        which blobs are already uploaded
    python3 agent.py put    --base DIR --sha256 H       store stdin as blob H (verified, atomic)
    python3 agent.py run    --base DIR --spec FILE|-    one benchmark job
    python3 agent.py cancel --base DIR --run-id ID      kill a run's process groups, print its result
    python3 agent.py pack   --base DIR --run-id ID      the run's raw logs as tar.gz on stdout

Every command ends with exactly one line ``EDGEMEM-RESULT <json>``; ``run`` also prints
``EDGEMEM-PROGRESS <json>`` lines. A run measures in fresh child processes, each in its own
process group with its own deadline, while this parent samples /proc (VmRSS/VmHWM of the
child, nvmap where readable, MemAvailable) and runs tegrastats where present. The parent
never imports a runtime; the ``worker`` subcommand (the child) imports onnxruntime, tvm or
tensorrt inside the function for its backend. Raw logs stay in the run folder so the host
can parse them (the host's parsers are the source of truth). Nothing is installed, and
clocks are only touched when the spec asks for ``lock_clocks`` (restored afterwards).
"""

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time

AGENT_VERSION = "0.1.0"
RESULT_PREFIX = "EDGEMEM-RESULT "
PROGRESS_PREFIX = "EDGEMEM-PROGRESS "
PHASE_PREFIX = "EDGEMEM-PHASE "
RESULT_SCHEMA = "edgemem.bench.result/1"
PROBE_SCHEMA = "edgemem.bench.probe/1"
SPEC_SCHEMA = "edgemem.bench.spec/1"
BACKENDS = ("onnxruntime", "tvm", "tensorrt")
# error code -> process exit status (edgemem.bench.protocol re-exports these constants)
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
KEEP_RUNS = 50
OOM_PATTERNS = re.compile(
    r"MemoryError|bad_alloc|out of memory|OutOfMemory|insufficient memory|could not be allocated|"
    r"Failed to allocate memory|cudaErrorMemoryAllocation|std::bad_alloc", re.IGNORECASE)
BANNER = re.compile(r"&&&& (?:RUNNING|PASSED|FAILED|WAIVED) \S+ \[TensorRT v(\d+)\]")
TRTEXEC_PATHS = ("/usr/src/tensorrt/bin/trtexec",)


class AgentFailure(Exception):
    """A failure with an error code from ERROR_EXIT; ends the command with a result line."""

    def __init__(self, code, message, stage=None):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.stage = stage


# ---------------------------------------------------------------- small helpers

def now_utc():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def emit(prefix, document):
    """One line, flushed at once (the host reads it as it comes)."""
    line = prefix + json.dumps(document, sort_keys=True, separators=(",", ":"))
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except (IOError, OSError):  # the host went away; the result file still holds it
        pass


def write_json_atomic(path, document):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(document, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def read_text(path, limit=65536):
    try:
        with open(path, "rb") as handle:
            return handle.read(limit).decode("utf-8", "replace")
    except (IOError, OSError):
        return None


def sysroot(path):
    """Device files are read below EDGEMEM_AGENT_SYSROOT when set (recorded-device replays)."""
    root = os.environ.get("EDGEMEM_AGENT_SYSROOT")
    return os.path.join(root, path.lstrip("/")) if root else path


def tail(path, lines=40):
    text = read_text(path, 1 << 20)
    if not text:
        return []
    return text.splitlines()[-lines:]


def kib_field(text, name):
    match = re.search(r"^%s:\s+(\d+)\s*kB" % re.escape(name), text or "", re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def proc_status(pid):
    """VmRSS and VmHWM in bytes of ``pid`` ("self" for this process); None when gone."""
    text = read_text("/proc/%s/status" % pid)
    if text is None:
        return None
    return {"rss_bytes": kib_field(text, "VmRSS"), "hwm_bytes": kib_field(text, "VmHWM"),
            "rss_file_bytes": kib_field(text, "RssFile")}


def meminfo():
    text = read_text("/proc/meminfo")
    return {
        "total_bytes": kib_field(text, "MemTotal"),
        "available_bytes": kib_field(text, "MemAvailable"),
        "swap_total_bytes": kib_field(text, "SwapTotal"),
        "swap_free_bytes": kib_field(text, "SwapFree"),
        "nvmap_used_bytes": kib_field(text, "NvMapMemUsed"),
    }


NVMAP_CLIENTS = "/sys/kernel/debug/nvmap/iovmm/clients"
NVMAP_ROW = re.compile(r"^\s*user\s+(\S+)\s+(\d+)\s+(\d+)([KMG]?)\s*$")


def nvmap_by_pid():
    """Per-process GPU (nvmap) memory in bytes; None where debugfs is not readable (non-root)."""
    text = read_text(NVMAP_CLIENTS, 1 << 20)
    if text is None:
        return None
    sizes = {}
    factor = {"": 1, "K": 1024, "M": 1 << 20, "G": 1 << 30}
    for line in text.splitlines():
        match = NVMAP_ROW.match(line)
        if match:
            sizes[int(match.group(2))] = int(match.group(3)) * factor[match.group(4)]
    return sizes


def run_quiet(argv, timeout_s, env=None):
    """(returncode, combined output) of a short command; (None, reason) when it cannot run."""
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    except OSError as exc:
        return None, str(exc)
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        return None, "timed out after %.0f s" % timeout_s
    return proc.returncode, out.decode("utf-8", "replace")


def kill_group(pgid, sig=signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
        return True
    except (OSError, ProcessLookupError):
        return False


def find_tool(name, override=None, extra=()):
    if override:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    found = shutil.which(name)
    if found:
        return found
    for path in extra:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- probe

PY_PROBES = {
    "onnxruntime": "import json, onnxruntime as m; print(json.dumps({'version': m.__version__, "
                   "'providers': m.get_available_providers()}))",
    "tensorrt": "import json, tensorrt as m; print(json.dumps({'version': m.__version__}))",
    "tvm": "import json, tvm.runtime, tvm as m; print(json.dumps({'version': m.__version__}))",
    "numpy": "import json, numpy as m; print(json.dumps({'version': m.__version__}))",
}


def probe_python_module(name, timeout_s):
    code, out = run_quiet([sys.executable, "-c", PY_PROBES[name]], timeout_s)
    if code == 0:
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                found = json.loads(line)
                found["available"] = True
                return found
    reason = (out or "").strip().splitlines()[-1:] or ["no output"]
    return {"available": False, "reason": reason[0][:300]}


def trtexec_version(path, timeout_s=20):
    """The integer from trtexec's banner ``[TensorRT vN]`` (8.x: 8502, 10.x: 100300), or None."""
    code, out = run_quiet([path, "--help"], timeout_s)
    match = BANNER.search(out or "")
    return int(match.group(1)) if match else None


def probe(tools=None, timeout_s=30, modules=None):
    """Device facts and capabilities; raw texts (nvpmodel) are parsed on the host.

    ``modules`` limits the (slow) runtime imports and the trtexec check to those named.
    """
    tools = tools or {}
    wanted = [m for m in PY_PROBES if modules is None or m in modules]
    facts = {
        "schema": PROBE_SCHEMA,
        "agent_version": AGENT_VERSION,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "hostname": platform.node(),
        "cpu_count": os.cpu_count(),
        "root": os.geteuid() == 0,
        "memory": meminfo(),
        "board": (read_text(sysroot("/proc/device-tree/model")) or "").strip("\x00\n ") or None,
        "soc": None,
        "l4t_release": (read_text(sysroot("/etc/nv_tegra_release")) or "").splitlines()[:1],
        "cuda_version_file": read_text(sysroot("/usr/local/cuda/version.json"), 8192)
        or read_text(sysroot("/usr/local/cuda/version.txt"), 4096),
        "clear_refs": os.access("/proc/self/clear_refs", os.W_OK),
        "nvmap_readable": read_text(NVMAP_CLIENTS, 16) is not None,
    }
    compatible = read_text(sysroot("/proc/device-tree/compatible"))
    if compatible:
        facts["soc"] = [c for c in compatible.split("\x00") if c][-1]
    facts["sudo_n"] = (run_quiet(["sudo", "-n", "true"], 5)[0] == 0) if shutil.which("sudo") else False
    results = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, probe_python_module(n, timeout_s)))
               for n in wanted]
    for thread in threads:
        thread.start()
    trtexec = find_tool("trtexec", tools.get("trtexec"), TRTEXEC_PATHS)
    check = trtexec and (modules is None or "trtexec" in modules)
    facts["trtexec"] = {"path": trtexec, "version_int": trtexec_version(trtexec) if check else None}
    tegrastats = find_tool("tegrastats", tools.get("tegrastats"), ("/usr/bin/tegrastats",))
    facts["tegrastats"] = {"path": tegrastats}
    nvpmodel = find_tool("nvpmodel", tools.get("nvpmodel"), ("/usr/sbin/nvpmodel",))
    facts["nvpmodel"] = {"path": nvpmodel, "query": run_quiet([nvpmodel, "-q"], 10)[1] if nvpmodel else None}
    facts["jetson_clocks"] = {"path": find_tool("jetson_clocks", tools.get("jetson_clocks"), ("/usr/bin/jetson_clocks",))}
    for thread in threads:
        thread.join()
    facts["modules"] = results
    return facts


# ---------------------------------------------------------------- blobs

def blob_path(base, sha):
    if not re.match(r"^[0-9a-f]{64}$", sha or ""):
        raise AgentFailure("bad_spec", "not a sha256: %r" % (sha,))
    return os.path.join(base, "blobs", sha)


def put_blob(base, sha, stream):
    """Store ``stream`` as blob ``sha`` after checking its hash; write to a temp name, then rename."""
    final = blob_path(base, sha)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    tmp = "%s.tmp.%d" % (final, os.getpid())
    digest = hashlib.sha256()
    size = 0
    with open(tmp, "wb") as handle:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
            handle.write(chunk)
            size += len(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    if digest.hexdigest() != sha:
        os.unlink(tmp)
        raise AgentFailure("bad_spec", "upload corrupted: got sha256 %s, expected %s" % (digest.hexdigest(), sha))
    os.rename(tmp, final)
    return {"sha256": sha, "bytes": size, "path": os.path.abspath(final)}


# ---------------------------------------------------------------- sampling a child

class Sampler(threading.Thread):
    """Samples a child's /proc status, nvmap and MemAvailable every interval into a JSONL file.

    Enforces the memory limit (SIGKILL to the child's group when RSS + nvmap exceeds it) and
    remembers the last values, so a killed child still leaves partial data.
    """

    def __init__(self, pid, interval_s, path, limit_bytes=None):
        threading.Thread.__init__(self)
        self.daemon = True
        self.pid = pid
        self.interval_s = interval_s
        self.path = path
        self.limit_bytes = limit_bytes
        self.stop_event = threading.Event()
        self.samples = 0
        self.peak_rss_bytes = None
        self.last_hwm_bytes = None
        self.peak_nvmap_bytes = None
        self.peak_footprint_bytes = None
        self.min_available_bytes = None
        self.killed_for_memory = None
        self.started = time.monotonic()

    def run(self):
        with open(self.path, "a") as out:
            while not self.stop_event.is_set():
                self.sample_once(out)
                self.stop_event.wait(self.interval_s)

    def sample_once(self, out):
        status = proc_status(self.pid)
        if status is None:
            return
        mem = meminfo()
        nvmap = nvmap_by_pid()
        gpu = nvmap.get(self.pid) if nvmap is not None else None
        rss = status["rss_bytes"] or 0
        record = {"t_s": round(time.monotonic() - self.started, 4), "rss": rss, "hwm": status["hwm_bytes"],
                  "avail": mem["available_bytes"], "nvmap": gpu, "nvmap_sys": mem["nvmap_used_bytes"]}
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.samples += 1
        self.peak_rss_bytes = max(self.peak_rss_bytes or 0, rss)
        self.last_hwm_bytes = status["hwm_bytes"] or self.last_hwm_bytes
        if gpu is not None:
            self.peak_nvmap_bytes = max(self.peak_nvmap_bytes or 0, gpu)
        footprint = rss + (gpu or 0)
        self.peak_footprint_bytes = max(self.peak_footprint_bytes or 0, footprint)
        if mem["available_bytes"] is not None:
            self.min_available_bytes = min(self.min_available_bytes or mem["available_bytes"], mem["available_bytes"])
        if self.limit_bytes and footprint > self.limit_bytes and self.killed_for_memory is None:
            self.killed_for_memory = footprint
            kill_group(self.pid)

    def stop(self):
        self.stop_event.set()
        self.join(5)


class StageRunner(object):
    """Runs one stage's child in its own process group under a deadline; collects everything."""

    def __init__(self, run, stage):
        self.run = run
        self.stage = stage
        self.phases = []

    def start(self, argv, env=None):
        run = self.run
        self.log_path = os.path.join(run.dir, "%s.log" % self.stage)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
                                     start_new_session=True, cwd=run.dir, env=env)
        run.children[self.proc.pid] = self.stage
        with open(os.path.join(run.dir, "%s.pid" % self.stage), "w") as handle:
            handle.write(str(self.proc.pid))
        self.sampler = Sampler(self.proc.pid, run.sample_interval_s, os.path.join(run.dir, "proc_samples.jsonl"),
                               run.memory_limit_bytes)
        self.sampler.start()
        self.reader = threading.Thread(target=self.read_stdout)
        self.reader.daemon = True
        self.reader.start()

    def read_stdout(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(PHASE_PREFIX):
                try:
                    phase = json.loads(line[len(PHASE_PREFIX):])
                except ValueError:
                    continue
                self.phases.append(phase)
                self.run.progress(self.stage, phase.get("phase"), phase.get("info"))
            else:
                self.log.write(raw)
                self.log.flush()

    def wait(self, timeout_s):
        """Wait for the child with os.wait4 (exact peak RSS in ru_maxrss); kill its group at the deadline."""
        pid = self.proc.pid
        deadline = time.monotonic() + max(timeout_s, 0.1)
        killed_by = None
        status, usage = None, None
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done == pid:
                break
            if self.run.cancelled:
                killed_by = killed_by or "cancel"
                kill_group(pid)
            elif time.monotonic() > deadline and killed_by is None:
                killed_by = "deadline"
                kill_group(pid)
            time.sleep(0.02)
        kill_group(pid)  # grandchildren left in the group
        self.proc.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        self.sampler.stop()
        self.reader.join(5)
        self.log.close()
        self.run.children.pop(pid, None)
        if self.sampler.killed_for_memory is not None:
            killed_by = "memory_limit"
        return {
            "returncode": self.proc.returncode,
            "killed_by": killed_by,
            "peak_rss_bytes": usage.ru_maxrss * 1024 if usage is not None else None,
            "peak_rss_method": "getrusage(wait4).ru_maxrss of the child",
            "sampled_peak_rss_bytes": self.sampler.peak_rss_bytes,
            "sampled_peak_nvmap_bytes": self.sampler.peak_nvmap_bytes,
            "sampled_peak_footprint_bytes": self.sampler.peak_footprint_bytes,
            "last_sampled_hwm_bytes": self.sampler.last_hwm_bytes,
            "min_available_bytes": self.sampler.min_available_bytes,
            "memory_limit_exceeded_at_bytes": self.sampler.killed_for_memory,
            "samples": self.sampler.samples,
            "phases": self.phases,
            "log": os.path.basename(self.log_path),
            "log_tail": tail(self.log_path, 30),
        }


# ---------------------------------------------------------------- one run

class Run(object):
    """One ``run`` command: stages, conditions, and the result line that always comes out."""

    def __init__(self, base, spec):
        self.base = base
        self.spec = spec
        self.run_id = spec.get("run_id") or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-%d" % os.getpid()
        if not re.match(r"^[A-Za-z0-9._-]{1,80}$", self.run_id):
            raise AgentFailure("bad_spec", "run_id may hold only letters, digits, '.', '_' and '-'")
        self.dir = os.path.join(base, "runs", self.run_id)
        self.started = time.monotonic()
        self.deadline = self.started + float(spec.get("timeouts", {}).get("total_s", 600))
        self.sample_interval_s = max(float(spec.get("sample_interval_ms", 20)), 5.0) / 1000.0
        self.memory_limit_bytes = spec.get("memory_limit_bytes")
        self.children = {}
        self.cancelled = False
        self.tegrastats = None
        self.result = {
            "schema": RESULT_SCHEMA, "agent_version": AGENT_VERSION, "run_id": self.run_id, "status": "running",
            "error": None, "started_utc": now_utc(), "stages": {}, "warnings": [], "conditions": {},
            "backend": {"name": spec.get("backend")}, "system": {}, "artifacts": [], "request": spec,
        }

    def progress(self, stage, phase, info=None):
        emit(PROGRESS_PREFIX, {"run_id": self.run_id, "stage": stage, "phase": phase, "info": info,
                               "elapsed_s": round(time.monotonic() - self.started, 3)})

    def remaining_s(self, stage_limit):
        return max(0.0, min(float(stage_limit), self.deadline - time.monotonic()))

    def path(self, name):
        return os.path.join(self.dir, name)

    def execute(self):
        spec = self.spec
        os.makedirs(self.dir)
        with open(self.path("agent.pid"), "w") as handle:
            handle.write(str(os.getpid()))
        write_json_atomic(self.path("spec.json"), spec)
        backend = spec.get("backend")
        if backend not in BACKENDS:
            raise AgentFailure("bad_spec", "unknown backend %r (known: %s)" % (backend, ", ".join(BACKENDS)))
        model = spec.get("model") or {}
        self.model_path = blob_path(self.base, model.get("sha256"))
        if not os.path.isfile(self.model_path):
            raise AgentFailure("bad_spec", "model blob %s is not uploaded" % model.get("sha256"))
        self.result["system"]["before"] = meminfo()
        self.progress("prepare", "baseline")
        self.result["system"]["baseline"] = self.sample_baseline(float(spec.get("baseline_s", 1.0)))
        self.start_tegrastats()
        self.lock_clocks()
        try:
            RUNNERS[backend](self)
        finally:
            self.restore_clocks()
            self.stop_tegrastats()
        self.result["system"]["after"] = meminfo()

    def sample_baseline(self, seconds):
        """Idle MemAvailable before anything of ours runs (for the system-wide delta)."""
        values = []
        end = time.monotonic() + seconds
        while True:
            values.append(meminfo()["available_bytes"])
            if time.monotonic() >= end:
                break
            time.sleep(min(0.05, max(seconds / 10.0, 0.005)))
        values = [v for v in values if v is not None]
        return {"available_bytes_median": sorted(values)[len(values) // 2] if values else None,
                "samples": len(values), "seconds": seconds}

    # ---- stages

    def stage(self, name, argv, limit_s, env=None):
        self.progress(name, "start")
        if time.monotonic() >= self.deadline:
            raise AgentFailure("timeout", "no time left for stage %s" % name, name)
        runner = StageRunner(self, name)
        began = time.monotonic()
        runner.start(argv, env)
        record = runner.wait(self.remaining_s(limit_s))
        record["seconds"] = round(time.monotonic() - began, 4)
        record["argv"] = argv
        self.result["stages"][name] = record
        self.progress(name, "done", {"returncode": record["returncode"], "seconds": record["seconds"]})
        return record

    def worker_stage(self, name, job, limit_s):
        """A fresh Python child running this file's ``worker`` for one backend step."""
        job_path = self.path("%s.job.json" % name)
        job = dict(job, result_path=self.path("%s.worker.json" % name), stage=name)
        write_json_atomic(job_path, job)
        argv = [sys.executable, "-u", os.path.abspath(__file__), "worker", "--job", job_path]
        record = self.stage(name, argv, limit_s)
        worker = read_text(job["result_path"], 1 << 24)
        record["worker"] = json.loads(worker) if worker else None
        self.check_stage(name, record)
        return record

    def check_stage(self, name, record):
        """Turn a failed child into an AgentFailure with the right code (partial data is kept)."""
        worker = record.get("worker") or {}
        if record["killed_by"] == "memory_limit":
            raise AgentFailure("out_of_memory", "%s child used %d bytes, over the memory limit of %d bytes; killed"
                               % (name, record["memory_limit_exceeded_at_bytes"], self.memory_limit_bytes), name)
        if record["killed_by"] == "deadline":
            raise AgentFailure("timeout", "%s child exceeded its deadline; its process group was killed" % name, name)
        if record["killed_by"] == "cancel":
            raise AgentFailure("cancelled", "%s cancelled by the host" % name, name)
        if record["returncode"] == 0 and not worker.get("error"):
            return
        error = worker.get("error") or {}
        text = " ".join([error.get("message", "")] + record.get("log_tail", []))
        if record["returncode"] == -signal.SIGKILL:
            low = record.get("min_available_bytes")
            total = (self.result["system"].get("before") or {}).get("total_bytes")
            hint = " (MemAvailable fell to %s bytes)" % low if low is not None else ""
            if low is not None and total and low < 0.05 * total or OOM_PATTERNS.search(text):
                raise AgentFailure("out_of_memory", "%s child was killed by SIGKILL, most likely by the kernel's OOM "
                                   "killer%s" % (name, hint), name)
            raise AgentFailure("run_failed", "%s child was killed by SIGKILL from outside%s" % (name, hint), name)
        if error.get("code") in ERROR_EXIT:
            code = error["code"]
        elif OOM_PATTERNS.search(text):
            code = "out_of_memory"
        else:
            code = "build_failed" if name == "build" else "run_failed"
        message = error.get("message") or (record.get("log_tail") or ["exit status %s" % record["returncode"]])[-1]
        raise AgentFailure(code, "%s failed: %s" % (name, message), name)

    # ---- conditions

    def tool(self, name, extra=()):
        return find_tool(name, (self.spec.get("tools") or {}).get(name), extra)

    def start_tegrastats(self):
        if self.spec.get("tegrastats", "auto") == "off":
            return
        path = self.tool("tegrastats", ("/usr/bin/tegrastats",))
        if not path:
            self.result["conditions"]["tegrastats"] = None
            return
        interval = str(int(self.spec.get("tegrastats_interval_ms", 100)))
        log = open(self.path("tegrastats.log"), "wb")
        self.tegrastats = subprocess.Popen([path, "--interval", interval], stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.result["conditions"]["tegrastats"] = {"path": path, "interval_ms": int(interval), "log": "tegrastats.log"}

    def stop_tegrastats(self):
        if self.tegrastats is None:
            return
        kill_group(self.tegrastats.pid, signal.SIGTERM)
        try:
            self.tegrastats.wait(3)
        except subprocess.TimeoutExpired:
            kill_group(self.tegrastats.pid)
            self.tegrastats.wait()
        self.tegrastats = None

    def privileged(self, argv):
        if os.geteuid() == 0:
            return argv
        return ["sudo", "-n"] + argv

    def lock_clocks(self):
        self.clocks_stored = None
        if not self.spec.get("lock_clocks"):
            self.result["conditions"]["lock_clocks"] = "not requested"
            return
        path = self.tool("jetson_clocks", ("/usr/bin/jetson_clocks",))
        if not path:
            self.result["warnings"].append("lock_clocks requested but jetson_clocks was not found; clocks unchanged")
            self.result["conditions"]["lock_clocks"] = "unavailable"
            return
        store = os.path.abspath(self.path("clocks.conf"))
        code, out = run_quiet(self.privileged([path, "--store", store]), 30)
        if code != 0:
            self.result["warnings"].append("jetson_clocks --store failed (%s); clocks unchanged" % (out or "").strip()[-200:])
            self.result["conditions"]["lock_clocks"] = "failed"
            return
        self.clocks_stored = (path, store)
        code, out = run_quiet(self.privileged([path]), 30)
        self.result["conditions"]["lock_clocks"] = "locked" if code == 0 else "failed"

    def restore_clocks(self):
        if not getattr(self, "clocks_stored", None):
            return
        path, store = self.clocks_stored
        code, out = run_quiet(self.privileged([path, "--restore", store]), 30)
        self.result["conditions"]["clocks_restored"] = code == 0
        if code != 0:
            self.result["warnings"].append("jetson_clocks --restore failed: %s" % (out or "").strip()[-200:])


# ---------------------------------------------------------------- backends: parent side

def worker_job(run, step, **extra):
    spec = run.spec
    job = {"backend": spec["backend"], "step": step, "model_path": os.path.abspath(run.model_path),
           "inputs": spec.get("inputs") or {}, "warmup": spec.get("warmup") or {}, "measure": spec.get("measure") or {},
           "options": spec.get("options") or {}, "seed": spec.get("seed", 0)}
    job.update(extra)
    return job


def run_python_backend(run):
    """ONNX Runtime and TVM: one fresh child that loads, warms up and measures."""
    spec = run.spec
    extra = {}
    if spec["backend"] == "tvm":
        library = (spec.get("files") or {}).get("library")
        blob = os.path.abspath(blob_path(run.base, library))
        if not os.path.isfile(blob):
            raise AgentFailure("bad_spec", "compiled TVM library blob %s is not uploaded" % library)
        extra["library_path"] = os.path.abspath(run.path("library.so"))  # TVM picks the loader by suffix
        try:
            os.link(blob, extra["library_path"])  # not a symlink: TVM resolves those back to the suffix-less blob
        except OSError:
            shutil.copyfile(blob, extra["library_path"])
    limit = spec.get("timeouts", {}).get("run_s", 300)
    record = run.worker_stage("run", worker_job(run, "run", **extra), limit)
    run.result["backend"].update((record.get("worker") or {}).get("backend") or {})


def engine_cache_path(run, version):
    options = run.spec.get("options") or {}
    key = "%s-%s-ws%s-v%s" % (run.spec["model"]["sha256"][:32], options.get("precision", "fp32"),
                              options.get("workspace_bytes") or "default", version)
    return os.path.join(run.base, "engines", key + ".engine")


def run_tensorrt(run):
    """TensorRT: build (or reuse) the engine in one child, then load-and-run in a fresh one."""
    options = run.spec.get("options") or {}
    timeouts = run.spec.get("timeouts") or {}
    if options.get("mode", "trtexec") == "python":
        return run_tensorrt_python(run, options, timeouts)
    trtexec = run.tool("trtexec", TRTEXEC_PATHS)
    if not trtexec:
        raise AgentFailure("backend_missing", "trtexec not found on PATH or in /usr/src/tensorrt/bin", "prepare")
    version = trtexec_version(trtexec)
    if version is None:
        raise AgentFailure("backend_missing", "%s --help printed no '[TensorRT vN]' banner" % trtexec, "prepare")
    run.result["backend"].update({"name": "tensorrt", "mode": "trtexec", "path": trtexec, "version_int": version})
    engine = engine_cache_path(run, version)
    os.makedirs(os.path.dirname(engine), exist_ok=True)
    if options.get("engine_cache", True) and os.path.isfile(engine):
        run.result["stages"]["build"] = {"cached": True, "engine": engine, "engine_bytes": os.path.getsize(engine)}
        run.progress("build", "cached")
    else:
        tmp = "%s.tmp.%d" % (engine, os.getpid())
        record = run.stage("build", trtexec_build_argv(trtexec, version, run.model_path, tmp, options,
                                                        os.path.join(run.base, "engines", "timing.cache"),
                                                        trtexec_shapes(run.spec)),
                           timeouts.get("build_s", 1800))
        record["cached"] = False
        check_trtexec(run, "build", record)
        os.rename(tmp, engine)
        record["engine_bytes"] = os.path.getsize(engine)
    argv = trtexec_run_argv(trtexec, version, engine, run.spec, run.path("times.json"))
    record = run.stage("run", argv, timeouts.get("run_s", 300))
    check_trtexec(run, "run", record)


def check_trtexec(run, stage, record):
    log = read_text(os.path.join(run.dir, record["log"]), 1 << 24) or ""
    record["passed_banner"] = "&&&& PASSED" in log
    if record["returncode"] == 0 and record["killed_by"] is None and "&&&& FAILED" not in log:
        return
    if record["killed_by"] is None and record["returncode"] != -signal.SIGKILL and OOM_PATTERNS.search(log):
        raise AgentFailure("out_of_memory", "trtexec %s ran out of memory (see %s)" % (stage, record["log"]), stage)
    if stage == "build" and "Failed to parse onnx file" in log:
        raise AgentFailure("model_invalid", "TensorRT's ONNX parser rejected the model (see %s)" % record["log"], stage)
    run.check_stage(stage, record)
    raise AgentFailure("build_failed" if stage == "build" else "run_failed",
                       "trtexec %s failed with status %s (see %s)" % (stage, record["returncode"], record["log"]), stage)


def trtexec_build_argv(trtexec, version, model, engine, options, timing_cache, shapes=""):
    """Flags by TensorRT version (memPoolSize from 8.4, skipInference from 8.6, buildOnly before)."""
    major_minor = version_tuple(version)[:2]
    argv = [trtexec, "--onnx=%s" % model, "--saveEngine=%s" % engine]
    precision = options.get("precision", "fp32")
    if precision in ("fp16", "int8"):
        argv.append("--%s" % precision)
    workspace = options.get("workspace_bytes")
    if workspace:
        mib = max(1, int(workspace) // (1 << 20))
        argv.append("--memPoolSize=workspace:%d" % mib if major_minor >= (8, 4) else "--workspace=%d" % mib)
    argv.append("--skipInference" if major_minor >= (8, 6) else "--buildOnly")
    if major_minor >= (8, 0):
        argv.append("--timingCacheFile=%s" % timing_cache)
    if shapes:
        argv.append("--shapes=%s" % shapes)
    return argv + list(options.get("extra_args") or [])


def trtexec_shapes(spec):
    """``--shapes=name:1x3x224x224,...`` from the spec's input shapes ('' when none were given)."""
    shapes = (spec.get("inputs") or {}).get("shapes") or {}
    return ",".join("%s:%s" % (name, "x".join(str(d) for d in shape)) for name, shape in sorted(shapes.items()))


def trtexec_run_argv(trtexec, version, engine, spec, times_path):
    warmup = spec.get("warmup") or {}
    measure = spec.get("measure") or {}
    options = spec.get("options") or {}
    argv = [trtexec, "--loadEngine=%s" % engine,
            "--warmUp=%d" % int(float(warmup.get("seconds", 0.2)) * 1000),
            "--duration=%d" % max(1, int(round(float(measure.get("seconds", 3.0))))),
            "--iterations=%d" % int(measure.get("runs", 10)),
            "--exportTimes=%s" % times_path, "--useSpinWait"]
    argv.append("--percentile=90,95,99" if version_tuple(version)[:2] >= (8, 5) else "--percentile=99")
    if trtexec_shapes(spec):
        argv.append("--shapes=%s" % trtexec_shapes(spec))
    return argv


def version_tuple(version_int):
    n = int(version_int)
    if n >= 100000:
        return (n // 10000, n // 100 % 100, n % 100)
    return (n // 1000, n // 100 % 10, n % 100)


def run_tensorrt_python(run, options, timeouts):
    """TensorRT through its Python API (JetPack's bindings): build child, then a fresh run child."""
    version = probe_python_module("tensorrt", 60)
    if not version.get("available"):
        raise AgentFailure("backend_missing", "import tensorrt failed: %s" % version.get("reason"), "prepare")
    run.result["backend"].update({"name": "tensorrt", "mode": "python", "version": version["version"]})
    engine = engine_cache_path(run, version["version"])
    os.makedirs(os.path.dirname(engine), exist_ok=True)
    if options.get("engine_cache", True) and os.path.isfile(engine):
        run.result["stages"]["build"] = {"cached": True, "engine": engine, "engine_bytes": os.path.getsize(engine)}
    else:
        tmp = "%s.tmp.%d" % (engine, os.getpid())
        run.worker_stage("build", worker_job(run, "build", engine_path=tmp), timeouts.get("build_s", 1800))
        os.rename(tmp, engine)
    run.worker_stage("run", worker_job(run, "run", engine_path=engine), timeouts.get("run_s", 300))


RUNNERS = {"onnxruntime": run_python_backend, "tvm": run_python_backend, "tensorrt": run_tensorrt}


# ---------------------------------------------------------------- the worker (child process)

class Worker(object):
    """The measuring child. Reports phases (with its own VmRSS/VmHWM) on stdout as it goes."""

    def __init__(self, job):
        self.job = job
        self.t0 = time.monotonic()
        self.result = {"backend": {"name": job["backend"]}, "phases": [], "latencies_ms": [], "error": None}

    def phase(self, name, **info):
        status = proc_status("self") or {}
        record = {"phase": name, "t_s": round(time.monotonic() - self.t0, 4), "rss_bytes": status.get("rss_bytes"),
                  "hwm_bytes": status.get("hwm_bytes"), "rss_file_bytes": status.get("rss_file_bytes")}
        if info:
            record["info"] = info
        self.result["phases"].append(record)
        emit(PHASE_PREFIX, record)

    def reset_peak(self):
        """Reset VmHWM to the current RSS (Linux >= 4.0), so the next peak is the inference peak."""
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            self.result["hwm_reset"] = True
        except (IOError, OSError):
            self.result["hwm_reset"] = False

    def timed_loop(self, call, settings, name):
        """Call until both the run count and the time are reached (or max_runs); latencies in ms."""
        runs = int(settings.get("runs", 10))
        seconds = float(settings.get("seconds", 0.0))
        max_runs = int(settings.get("max_runs", 100000))
        times = []
        start = time.perf_counter()
        while len(times) < max_runs and (len(times) < runs or time.perf_counter() - start < seconds):
            t = time.perf_counter()
            call()
            times.append(round((time.perf_counter() - t) * 1000.0, 6))
        self.phase(name, runs=len(times), seconds=round(time.perf_counter() - start, 4))
        return times

    def make_inputs(self, np, declared):
        """[(name, array)] for the declared inputs, shapes bound from the job; recorded in the result."""
        inputs = self.job.get("inputs") or {}
        specs = input_specs(declared, inputs.get("shapes") or {}, inputs.get("dims") or {})
        self.result["inputs"] = [{"name": n, "shape": shape, "dtype": d} for n, shape, d in specs]
        rng = np.random.RandomState(self.job.get("seed", 0))
        return [(n, make_array(np, shape, d, rng)) for n, shape, d in specs]

    def measure(self, call):
        self.reset_peak()
        self.phase("peak_reset")
        self.result["warmup_ms"] = self.timed_loop(call, self.job.get("warmup") or {}, "warmed_up")
        self.result["latencies_ms"] = self.timed_loop(call, self.job.get("measure") or {}, "measured")
        self.result["latency_source"] = "time.perf_counter around one synchronous inference call (host clock)"


def input_specs(declared, overrides, dims):
    """[(name, shape, dtype)] with symbolic dims bound from --dim / --input-shape; error when unbound."""
    specs = []
    for name, shape, dtype in declared:
        if name in overrides:
            shape = list(overrides[name])
        bound = []
        for dim in shape:
            if isinstance(dim, int) and dim >= 0:
                bound.append(dim)
            elif isinstance(dim, str) and dim in dims:
                bound.append(int(dims[dim]))
            else:
                raise AgentFailure("bad_spec", "input %r has unbound dimension %r; pass --dim %s=N or --input-shape "
                                   "%s=..." % (name, dim, dim if isinstance(dim, str) else "NAME", name), "run")
        specs.append((name, bound, dtype))
    return specs


def make_array(np, shape, dtype, rng):
    """Random floats (normal), random booleans, zeros for integers (safe as indices); rng is a
    numpy RandomState, which JetPack 4's numpy 1.13 also has."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.randint(0, 2, size=shape).astype(dtype)
    return np.zeros(shape, dtype)


ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
             "tensor(bool)": "bool", "tensor(int16)": "int16"}


def worker_onnxruntime(worker):
    job = worker.job
    options = job.get("options") or {}
    worker.phase("started")
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import onnxruntime: %s" % exc, "run")
    worker.phase("runtime_imported", version=ort.__version__)
    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = bool(options.get("cpu_arena", True))
    so.enable_mem_pattern = bool(options.get("mem_pattern", True))
    if options.get("threads"):
        so.intra_op_num_threads = int(options["threads"])
    levels = {"disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    so.graph_optimization_level = levels[options.get("graph_optimization", "all")]
    available = ort.get_available_providers()
    wanted = options.get("providers") or ["CPUExecutionProvider"]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise AgentFailure("backend_missing", "ONNX Runtime here lacks %s (it has %s)" % (", ".join(missing),
                                                                                          ", ".join(available)), "run")
    providers = [(p, ort_provider_options(p, options, job)) for p in wanted]
    try:
        session = ort.InferenceSession(job["model_path"], so, providers=providers)
    except Exception as exc:  # ORT raises its own exception types
        code = "out_of_memory" if OOM_PATTERNS.search(str(exc)) else "model_invalid"
        raise AgentFailure(code, "ONNX Runtime could not load the model: %s" % str(exc)[:500], "run")
    worker.result["backend"].update({
        "version": ort.__version__, "providers": session.get_providers(),
        "provider_options": dict((p, o) for p, o in providers),
        "arena": {"enable_cpu_mem_arena": so.enable_cpu_mem_arena, "enable_mem_pattern": so.enable_mem_pattern},
        "intra_op_num_threads": so.intra_op_num_threads,
        "graph_optimization": options.get("graph_optimization", "all")})
    worker.phase("loaded", providers=session.get_providers())
    declared = [(i.name, [d if isinstance(d, int) else str(d) for d in i.shape], ORT_TYPES.get(i.type, "float32"))
                for i in session.get_inputs()]
    feeds = dict(worker.make_inputs(np, declared))
    worker.phase("inputs_ready")
    run_options = ort.RunOptions()
    worker.measure(lambda: session.run(None, feeds, run_options))


def ort_provider_options(provider, options, job):
    """Provider options recorded with the result (arena settings included)."""
    if provider == "CUDAExecutionProvider":
        found = {"arena_extend_strategy": options.get("arena_extend_strategy", "kSameAsRequested"),
                 "cudnn_conv_algo_search": options.get("cudnn_conv_algo_search", "HEURISTIC")}
        if options.get("gpu_mem_limit"):
            found["gpu_mem_limit"] = str(int(options["gpu_mem_limit"]))
        return found
    if provider == "TensorrtExecutionProvider":
        found = {"trt_fp16_enable": "True" if options.get("precision") == "fp16" else "False",
                 "trt_int8_enable": "True" if options.get("precision") == "int8" else "False",
                 "trt_engine_cache_enable": "True",
                 "trt_engine_cache_path": os.path.join(os.path.dirname(os.path.dirname(job["model_path"])), "engines")}
        if options.get("workspace_bytes"):
            found["trt_max_workspace_size"] = str(int(options["workspace_bytes"]))
        return found
    return {}


def worker_tvm(worker):
    """A library compiled on the host (tvm.compile + export_library) run by the Relax VM here."""
    job = worker.job
    options = job.get("options") or {}
    worker.phase("started")
    try:
        import numpy as np
        import tvm
        from tvm import runtime
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import the TVM runtime: %s" % exc, "run")
    worker.phase("runtime_imported", version=tvm.__version__)
    device_kind = options.get("device", "cpu")
    dev = runtime.cuda(0) if device_kind == "cuda" else runtime.cpu(0)
    library = runtime.load_module(job["library_path"])
    vm = runtime.vm.VirtualMachine(library, dev)
    worker.result["backend"].update({"version": tvm.__version__, "device": device_kind,
                                     "allocator": "pooled (Relax VM default)", "target": options.get("target")})
    worker.phase("loaded")
    declared = [(i["name"], i["shape"], i["dtype"]) for i in options.get("input_signature") or []]
    args = [runtime.tensor(array, dev) for _, array in worker.make_inputs(np, declared)]
    main = vm["main"]
    worker.phase("inputs_ready")

    def call():
        main(*args)
        dev.sync()

    worker.measure(call)


TRT_ITEMSIZE = {"FLOAT": 4, "HALF": 2, "BF16": 2, "INT8": 1, "UINT8": 1, "FP8": 1, "INT32": 4, "INT64": 8,
                "BOOL": 1, "INT4": 1}


class CudaRuntime(object):
    """The few libcudart calls the TensorRT worker needs, through ctypes (no pycuda on the device)."""

    def __init__(self):
        import ctypes
        import ctypes.util
        self.ctypes = ctypes
        names = [ctypes.util.find_library("cudart"), "libcudart.so", "/usr/local/cuda/lib64/libcudart.so"]
        self.lib = None
        for name in names:
            if not name:
                continue
            try:
                self.lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if self.lib is None:
            raise AgentFailure("backend_missing", "libcudart.so not found", "run")

    def check(self, status, what):
        if status != 0:
            code = "out_of_memory" if status == 2 else "run_failed"  # 2 = cudaErrorMemoryAllocation
            raise AgentFailure(code, "%s failed with CUDA error %d" % (what, status), "run")

    def malloc(self, size):
        ptr = self.ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(self.ctypes.byref(ptr), self.ctypes.c_size_t(max(size, 1))), "cudaMalloc")
        return ptr.value

    def stream(self):
        handle = self.ctypes.c_void_p()
        self.check(self.lib.cudaStreamCreate(self.ctypes.byref(handle)), "cudaStreamCreate")
        return handle.value

    def event(self):
        handle = self.ctypes.c_void_p()
        self.check(self.lib.cudaEventCreate(self.ctypes.byref(handle)), "cudaEventCreate")
        return handle

    def elapsed_ms(self, start, end):
        ms = self.ctypes.c_float()
        self.check(self.lib.cudaEventSynchronize(end), "cudaEventSynchronize")
        self.check(self.lib.cudaEventElapsedTime(self.ctypes.byref(ms), start, end), "cudaEventElapsedTime")
        return ms.value


def trt_logger(trt):
    return trt.Logger(trt.Logger.INFO)


def worker_tensorrt(worker):
    job = worker.job
    worker.phase("started")
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import tensorrt: %s" % exc, job.get("step"))
    worker.phase("runtime_imported", version=trt.__version__)
    worker.result["backend"].update({"version": trt.__version__, "mode": "python"})
    if job["step"] == "build":
        return tensorrt_build(worker, trt)
    return tensorrt_run(worker, trt)


def tensorrt_build(worker, trt):
    """Parse the ONNX file and build a serialized engine (API differences 8.x/10.x/11.x handled)."""
    job = worker.job
    options = job.get("options") or {}
    logger = trt_logger(trt)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0
    if major < 10:
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(job["model_path"]):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise AgentFailure("model_invalid", "ONNX parser: %s" % "; ".join(errors)[:500], "build")
    config = builder.create_builder_config()
    workspace = options.get("workspace_bytes")
    if workspace:
        if hasattr(config, "set_memory_pool_limit"):
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace))
        else:
            config.max_workspace_size = int(workspace)
    precision = options.get("precision", "fp32")
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # needs an explicitly quantized (Q/DQ) model
    shapes = (job.get("inputs") or {}).get("shapes") or {}
    dynamic = [network.get_input(i) for i in range(network.num_inputs) if -1 in tuple(network.get_input(i).shape)]
    if dynamic:
        profile = builder.create_optimization_profile()
        for tensor in dynamic:
            if tensor.name not in shapes:
                raise AgentFailure("bad_spec", "input %r is dynamic; pass --input-shape %s=..." % (tensor.name, tensor.name),
                                   "build")
            shape = tuple(shapes[tensor.name])
            profile.set_shape(tensor.name, shape, shape, shape)
        config.add_optimization_profile(profile)
    worker.phase("parsed", layers=network.num_layers)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise AgentFailure("build_failed", "build_serialized_network returned None (see build.log)", "build")
    with open(job["engine_path"], "wb") as handle:
        handle.write(serialized)
    worker.result["engine_bytes"] = os.path.getsize(job["engine_path"])
    worker.phase("built", engine_bytes=worker.result["engine_bytes"])


def tensorrt_run(worker, trt):
    """Deserialize, create a context, bind device buffers, time with CUDA events."""
    job = worker.job
    cuda = CudaRuntime()
    runtime = trt.Runtime(trt_logger(trt))
    with open(job["engine_path"], "rb") as handle:
        engine = runtime.deserialize_cuda_engine(handle.read())
    if engine is None:
        raise AgentFailure("run_failed", "deserialize_cuda_engine returned None", "run")
    worker.phase("loaded")
    size_v2 = getattr(engine, "device_memory_size_v2", None)
    worker.result["context_device_memory_bytes"] = int(size_v2 if size_v2 is not None else engine.device_memory_size)
    context = engine.create_execution_context()
    if context is None:
        raise AgentFailure("out_of_memory", "create_execution_context returned None", "run")
    worker.phase("context_created", device_memory_bytes=worker.result["context_device_memory_bytes"])
    shapes = (worker.job.get("inputs") or {}).get("shapes") or {}
    if hasattr(engine, "num_io_tensors"):  # TensorRT >= 8.5: named tensors, execute_async_v3
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT and name in shapes:
                context.set_input_shape(name, tuple(shapes[name]))
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            shape = tuple(context.get_tensor_shape(name))
            size = TRT_ITEMSIZE.get(engine.get_tensor_dtype(name).name, 4)
            for dim in shape:
                size *= max(dim, 1)
            context.set_tensor_address(name, cuda.malloc(size))
        stream = cuda.stream()
        enqueue = lambda: context.execute_async_v3(stream)
    else:  # TensorRT 7.x/8.0-8.4: bindings
        bindings = []
        for i in range(engine.num_bindings):
            shape = tuple(engine.get_binding_shape(i))
            size = TRT_ITEMSIZE.get(engine.get_binding_dtype(i).name, 4)
            for dim in shape:
                size *= max(dim, 1)
            bindings.append(cuda.malloc(size))
        stream = cuda.stream()
        enqueue = lambda: context.execute_async_v2(bindings, stream)
    start, end = cuda.event(), cuda.event()
    gpu_ms = []

    def call():
        cuda.check(cuda.lib.cudaEventRecord(start, cuda.ctypes.c_void_p(stream)), "cudaEventRecord")
        if not enqueue():
            raise AgentFailure("run_failed", "TensorRT enqueue returned False", "run")
        cuda.check(cuda.lib.cudaEventRecord(end, cuda.ctypes.c_void_p(stream)), "cudaEventRecord")
        gpu_ms.append(cuda.elapsed_ms(start, end))

    worker.phase("inputs_ready")
    worker.measure(call)
    warm = len(worker.result["warmup_ms"])
    worker.result["gpu_compute_ms"] = gpu_ms[warm:]
    worker.result["latency_source"] = "time.perf_counter per query; GPU compute from CUDA events"


WORKERS = {"onnxruntime": worker_onnxruntime, "tvm": worker_tvm, "tensorrt": worker_tensorrt}


def worker_main(job_path):
    with open(job_path) as handle:
        job = json.load(handle)
    worker = Worker(job)
    status = 0
    try:
        WORKERS[job["backend"]](worker)
    except AgentFailure as exc:
        worker.result["error"] = {"code": exc.code, "message": exc.message}
        status = ERROR_EXIT.get(exc.code, 10)
    except MemoryError:
        worker.result["error"] = {"code": "out_of_memory", "message": "MemoryError in the worker"}
        status = ERROR_EXIT["out_of_memory"]
    except Exception as exc:  # a runtime's own exception: keep its text for the host
        code = "out_of_memory" if OOM_PATTERNS.search(str(exc)) else None
        worker.result["error"] = {"code": code, "message": "%s: %s" % (type(exc).__name__, str(exc)[:1000])}
        status = ERROR_EXIT.get(code, 1)
    worker.phase("finished")
    write_json_atomic(job["result_path"], worker.result)
    return status


# ---------------------------------------------------------------- commands

def prune_runs(base, keep=KEEP_RUNS):
    runs = os.path.join(base, "runs")
    if not os.path.isdir(runs):
        return
    entries = sorted((os.path.getmtime(os.path.join(runs, d)), d) for d in os.listdir(runs))
    for _, name in entries[:-keep] if len(entries) > keep else []:
        shutil.rmtree(os.path.join(runs, name), ignore_errors=True)


def read_spec(source):
    try:
        text = sys.stdin.read() if source == "-" else open(source).read()
        spec = json.loads(text)
    except (IOError, OSError, ValueError) as exc:
        raise AgentFailure("bad_spec", "cannot read the job spec: %s" % exc)
    if not isinstance(spec, dict) or spec.get("schema") != SPEC_SCHEMA:
        raise AgentFailure("bad_spec", "spec schema must be %s" % SPEC_SCHEMA)
    return spec


def command_run(args):
    spec = read_spec(args.spec)
    prune_runs(args.base)
    run = Run(args.base, spec)

    def on_signal(signum, frame):
        run.cancelled = True
        for pid in list(run.children):
            kill_group(pid)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        run.execute()
        run.result["status"] = "ok"
    except AgentFailure as exc:
        if run.cancelled and exc.code != "cancelled":
            exc = AgentFailure("cancelled", "cancelled by the host during %s" % (exc.stage or "the run"), exc.stage)
        run.result["status"] = "error"
        run.result["error"] = {"code": exc.code, "stage": exc.stage, "message": exc.message,
                               "retriable": exc.code in ("timeout", "cancelled")}
    except Exception as exc:  # a bug in the agent: still one result line
        run.result["status"] = "error"
        run.result["error"] = {"code": "internal", "stage": None, "message": "%s: %s" % (type(exc).__name__, exc),
                               "retriable": False}
    finally:
        for pid in list(run.children):
            kill_group(pid)
    run.result["elapsed_s"] = round(time.monotonic() - run.started, 4)
    times = os.times()
    run.result["agent"] = {"hwm_bytes": (proc_status("self") or {}).get("hwm_bytes"),
                           "cpu_s": round(times.user + times.system, 4),
                           "method": "the agent process's own VmHWM and user+system CPU time (children excluded)"}
    if os.path.isdir(run.dir):
        run.result["artifacts"] = sorted(n for n in os.listdir(run.dir) if not n.endswith(".pid") and ".tmp." not in n)
        write_json_atomic(run.path("result.json"), run.result)
    return run.result


def command_cancel(args):
    """Kill the run's agent and every stage group, then hand back its result (waits a little for it)."""
    run_dir = os.path.join(args.base, "runs", args.run_id)
    if not re.match(r"^[A-Za-z0-9._-]{1,80}$", args.run_id) or not os.path.isdir(run_dir):
        raise AgentFailure("bad_spec", "no run %r" % args.run_id)
    killed = []
    for name in sorted(os.listdir(run_dir)):
        if not name.endswith(".pid"):
            continue
        try:
            pid = int(open(os.path.join(run_dir, name)).read().strip())
        except (IOError, OSError, ValueError):
            continue
        if name == "agent.pid":
            try:
                os.kill(pid, signal.SIGTERM)
                killed.append(name)
            except OSError:
                pass
        elif kill_group(pid):
            killed.append(name)
    end = time.monotonic() + float(args.wait_s)
    result = None
    while time.monotonic() < end:
        text = read_text(os.path.join(run_dir, "result.json"), 1 << 24)
        if text:
            result = json.loads(text)
            break
        time.sleep(0.1)
    return {"schema": "edgemem.bench.cancel/1", "run_id": args.run_id, "killed": killed, "result": result}


def command_pack(args):
    run_dir = os.path.join(args.base, "runs", args.run_id)
    if not re.match(r"^[A-Za-z0-9._-]{1,80}$", args.run_id) or not os.path.isdir(run_dir):
        raise AgentFailure("bad_spec", "no run %r" % args.run_id)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in sorted(os.listdir(run_dir)):
            path = os.path.join(run_dir, name)
            if os.path.isfile(path) and not os.path.islink(path) and ".tmp." not in name and name != "library.so":
                archive.add(path, arcname=name, recursive=False)
    out = getattr(sys.stdout, "buffer", sys.stdout)
    out.write(buffer.getvalue())
    out.flush()


def parser():
    top = argparse.ArgumentParser(prog="edgemem-agent", description="edgemem device agent %s" % AGENT_VERSION)
    sub = top.add_subparsers(dest="command")
    for name in ("probe", "have", "put", "run", "cancel", "pack", "worker"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--base", default=os.path.join(os.path.expanduser("~"), ".cache", "edgemem"))
        if name == "have":
            cmd.add_argument("sha256", nargs="*")
        if name == "put":
            cmd.add_argument("--sha256", required=True)
        if name == "run":
            cmd.add_argument("--spec", default="-")
        if name in ("cancel", "pack"):
            cmd.add_argument("--run-id", required=True)
            cmd.add_argument("--wait-s", default=5.0, type=float)
        if name == "worker":
            cmd.add_argument("--job", required=True)
        if name == "probe":
            cmd.add_argument("--tools", default="{}", help="JSON object: tool name -> path")
            cmd.add_argument("--modules", default=None, help="comma-separated: onnxruntime,tensorrt,tvm,numpy,trtexec")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    if getattr(args, "base", None):
        args.base = os.path.abspath(os.path.expanduser(args.base))  # children run in their run folder
    if args.command == "worker":
        return worker_main(args.job)
    if args.command == "pack":
        try:
            command_pack(args)
            return 0
        except AgentFailure as exc:
            sys.stderr.write("edgemem-agent: %s\n" % exc.message)
            return ERROR_EXIT[exc.code]
    try:
        os.makedirs(args.base, exist_ok=True)
        if args.command == "probe":
            document = probe(json.loads(args.tools), modules=args.modules.split(",") if args.modules else None)
        elif args.command == "have":
            document = {"schema": "edgemem.bench.have/1",
                        "present": [s for s in args.sha256 if os.path.isfile(blob_path(args.base, s))]}
        elif args.command == "put":
            document = dict(put_blob(args.base, args.sha256, getattr(sys.stdin, "buffer", sys.stdin)),
                            schema="edgemem.bench.put/1")
        elif args.command == "run":
            document = command_run(args)
        elif args.command == "cancel":
            document = command_cancel(args)
        else:
            parser().print_help(sys.stderr)
            return ERROR_EXIT["bad_spec"]
    except AgentFailure as exc:
        document = {"schema": RESULT_SCHEMA, "agent_version": AGENT_VERSION, "status": "error",
                    "error": {"code": exc.code, "stage": exc.stage, "message": exc.message, "retriable": False}}
    emit(RESULT_PREFIX, document)
    if document.get("status") == "error":
        return ERROR_EXIT.get(document["error"]["code"], 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
