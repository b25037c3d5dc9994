"""What a measuring child streams to disk as it goes, so that a kill keeps what it measured.

One JSON line per event in ``<stage>.checkpoint.jsonl``: a phase (with the child's VmRSS and
VmHWM), a fact for the result (backend, inputs, ...), or a batch of latencies. The child writes
a batch about every quarter second outside the timed calls; ``load_checkpoint`` rebuilds the
worker result from these lines, marked partial.
"""

from .common import append_line, read_json_lines

LOOPS = {"warmup": "warmup_ms", "measure": "latencies_ms"}


class Checkpoint(object):
    """Appends events; the first failed write (a full disk) is kept in ``error`` and stops writing."""

    def __init__(self, path):
        self.path = path
        self.error = None

    def write(self, document):
        if self.error is not None:
            return False
        try:
            append_line(self.path, document)
        except (IOError, OSError) as exc:
            self.error = exc
            return False
        return True

    def phase(self, record):
        return self.write({"kind": "phase", "record": record})

    def fact(self, key, value):
        return self.write({"kind": "fact", "key": key, "value": value})

    def latencies(self, loop, values):
        return self.write({"kind": "latencies", "loop": loop, "ms": values}) if values else True


def load_checkpoint(path):
    """A worker result rebuilt from the checkpoint lines (partial: the child did not finish it)."""
    result = {"backend": {}, "phases": [], "warmup_ms": [], "latencies_ms": [], "error": None, "partial": True}
    for line in read_json_lines(path):
        kind = line.get("kind")
        if kind == "phase":
            result["phases"].append(line.get("record") or {})
        elif kind == "fact" and line.get("key"):
            result[line["key"]] = line.get("value")
        elif kind == "latencies" and line.get("loop") in LOOPS:
            result[LOOPS[line["loop"]]].extend(line.get("ms") or [])
    return result
