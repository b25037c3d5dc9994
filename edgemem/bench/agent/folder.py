"""One run's folder (``runs/<run id>/``): the durable record the host reads and re-reads.

    spec.json         the job, as the host sent it
    supervisor.pid    the detached supervisor; heartbeat.json is rewritten by it every second
    progress.jsonl    progress events, appended (the host resumes from a byte offset)
    state.json        the result so far and the current stage, rewritten at stage boundaries
    <stage>.*         each stage's log, checkpoint (phases, latencies) and worker result
    proc_samples.jsonl  /proc samples of the measuring children
    cancel.json       why the host asked to stop (read by the supervisor on SIGTERM)
    result.json       the final (or salvaged partial) result; kept until the host fetched it
    fetched           written when the host has saved the result; only then may it be pruned
    reserve           room set aside at start and freed when the disk fills, for result.json
"""

import os
import shutil
import time

from .common import AgentFailure, append_line, disk_full, is_disk_full, private_dir, read_json, read_text, write_json_atomic
from .procs import alive, has_marker, live_markers, pid_state
from .wire import RUN_ID

KEEP_FETCHED = 50  # finished and fetched runs kept for their logs
KEEP_UNFETCHED_S = 30 * 24 * 3600  # a result nobody fetched is kept this long


class RunFolder(object):
    def __init__(self, base, run_id):
        if not RUN_ID.match(run_id or ""):
            raise AgentFailure("bad_spec", "run_id may hold only letters, digits, '.', '_' and '-' (1-80 of them)")
        self.base = base
        self.run_id = run_id
        self.dir = os.path.join(base, "runs", run_id)
        self.marker = os.path.abspath(self.dir)

    @classmethod
    def existing(cls, base, run_id):
        folder = cls(base, run_id)
        if not os.path.isdir(folder.dir):
            raise AgentFailure("unknown_run", "no run %s on this device (under %s)" % (run_id, base))
        return folder

    def path(self, name):
        return os.path.join(self.dir, name)

    def create(self, spec):
        private_dir(os.path.dirname(self.dir))
        try:
            os.mkdir(self.dir, 0o700)
            write_json_atomic(self.path("spec.json"), spec)
        except (IOError, OSError) as exc:
            raise disk_full(exc, "the run folder %s" % self.dir, "prepare")

    def spec(self):
        return read_json(self.path("spec.json"))

    def reserve(self, size):
        """Set ``size`` bytes aside (real blocks) so that a full disk still leaves room for the result."""
        try:
            with open(self.path("reserve"), "wb") as handle:
                for _ in range(0, size, 1 << 16):
                    handle.write(b"\0" * (1 << 16))
        except (IOError, OSError) as exc:
            self.release_reserve()
            raise disk_full(exc, "the run's reserve of %d bytes" % size, "prepare")

    def release_reserve(self):
        try:
            os.unlink(self.path("reserve"))
            return True
        except OSError:
            return False

    # ---- events and state

    def event(self, document):
        append_line(self.path("progress.jsonl"), document)

    def events_from(self, offset):
        """[(document text, offset after it)] of the complete lines from byte ``offset`` on."""
        try:
            with open(self.path("progress.jsonl"), "rb") as handle:
                handle.seek(offset)
                data = handle.read(1 << 20)
        except (IOError, OSError):
            return []
        found = []
        for raw in data.splitlines(True):
            if not raw.endswith(b"\n"):
                break
            offset += len(raw)
            found.append((raw.decode("utf-8", "replace").rstrip("\n"), offset))
        return found

    def write_state(self, document):
        write_json_atomic(self.path("state.json"), document)

    def state(self):
        return read_json(self.path("state.json")) or {}

    def beat(self, stage):
        write_json_atomic(self.path("heartbeat.json"), {"pid": os.getpid(), "stage": stage, "utc_s": round(time.time(), 3)})

    def write_pid(self, pid):
        with open(self.path("supervisor.pid"), "w") as handle:
            handle.write(str(pid))

    def supervisor_pid(self):
        text = (read_text(self.path("supervisor.pid")) or "").strip()
        return int(text) if text.isdigit() else None

    # ---- the end of a run

    def write_result(self, result):
        """result.json; on a full disk the reserve is freed and the write tried again, at last
        without the per-run latency lists (they stay in the stage's checkpoint file)."""
        for attempt in (result, result, compact(result)):
            try:
                write_json_atomic(self.path("result.json"), attempt)
                break
            except (IOError, OSError) as exc:
                if not is_disk_full(exc) or attempt is not result:
                    raise
                self.release_reserve()
        self.release_reserve()

    def result(self):
        return read_json(self.path("result.json"))

    def request_cancel(self, code, message):
        write_json_atomic(self.path("cancel.json"), {"code": code, "message": message})

    def cancel_request(self):
        return read_json(self.path("cancel.json"))

    def mark_fetched(self):
        with open(self.path("fetched"), "w") as handle:
            handle.write(str(int(time.time())) + "\n")

    def fetched(self):
        return os.path.isfile(self.path("fetched"))

    def artifacts(self):
        skip = ("reserve", "library.so", "cancel.json")
        return sorted(n for n in os.listdir(self.dir) if ".tmp." not in n and n not in skip and not n.endswith(".pid"))

    # ---- liveness

    def supervisor_fault(self, stall_s):
        """Why the run's supervisor cannot finish it (gone, stopped, silent), or None while it works."""
        pid = self.supervisor_pid()
        if pid is None:
            return "the run has no supervisor (its start did not complete)"
        state = pid_state(pid)
        if state in (None, "Z", "X") or not has_marker(pid, self.marker):
            return "the agent's supervisor (pid %d) is gone: killed or crashed" % pid
        if state in ("T", "t"):
            return "the agent's supervisor (pid %d) is stopped (SIGSTOP or a debugger)" % pid
        beat = read_json(self.path("heartbeat.json")) or {}
        last = beat.get("utc_s") or os.path.getmtime(self.path("supervisor.pid"))
        if time.time() - last > stall_s:
            return "the agent's supervisor (pid %d) has not reported for %.0f s" % (pid, time.time() - last)
        return None

    def running(self):
        pid = self.supervisor_pid()
        return pid is not None and alive(pid) and has_marker(pid, self.marker)


def compact(result):
    """The result without its latency lists (what a nearly full disk can still take)."""
    small = dict(result, stages={})
    for name, stage in (result.get("stages") or {}).items():
        worker = dict(stage.get("worker") or {})
        for key in ("latencies_ms", "warmup_ms", "gpu_compute_ms"):
            if worker.get(key):
                worker[key + "_dropped"] = len(worker.pop(key))
        small["stages"][name] = dict(stage, worker=worker)
    small["warnings"] = list(result.get("warnings") or []) + [
        "the device's disk was full: per-run latencies were left out of result.json (see the checkpoint files)"]
    return small


def run_folders(base):
    runs = os.path.join(base, "runs")
    names = sorted(os.listdir(runs)) if os.path.isdir(runs) else []
    return [RunFolder(base, n) for n in names if RUN_ID.match(n) and os.path.isdir(os.path.join(runs, n))]


def prune(base, current, salvage, keep=KEEP_FETCHED):
    """Remove old finished runs; called with the device lock held (no other run can be starting).

    Never touched: the current run, a run any process of which still lives, a run without a
    result (``salvage`` writes one when nothing of it runs any more), a result nobody fetched
    (unless older than KEEP_UNFETCHED_S). Of the rest the newest ``keep`` stay.
    """
    removable = []
    live = live_markers()
    for folder in run_folders(base):
        if folder.run_id == current or folder.marker in live:
            continue
        if folder.result() is None:
            salvage(folder)
            continue
        finished = os.path.getmtime(folder.path("result.json"))
        if folder.fetched() or time.time() - finished > KEEP_UNFETCHED_S:
            removable.append((finished, folder))
    removable.sort(key=lambda item: item[0])
    for _, folder in removable[:max(0, len(removable) - keep)]:
        shutil.rmtree(folder.dir, ignore_errors=True)
