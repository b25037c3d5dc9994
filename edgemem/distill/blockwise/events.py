"""Rank 0's progress, carried from a launched worker to the launching process as JSON lines.

A worker that edgemem's launcher started has no terminal of its own to draw on (and the
distill package never draws): its rank 0 writes every progress call to the file named by
``EDGEMEM_BLOCKWISE_EVENTS``, one JSON object per line, and the launcher replays each line on
its own progress sink (the live display of every worker's blocks). Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

from edgemem.distill.result import EpochMetrics

EVENTS = "EDGEMEM_BLOCKWISE_EVENTS"  # where a launched rank 0 writes its progress
CALLS = ("phase", "step", "epoch_end", "phase_end", "note", "blocks_planned", "workers_status", "blocks_finished")


class EventWriter:
    """A progress sink that appends each call to a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _write(self, name: str, *args) -> None:
        line = json.dumps({"call": name, "args": [dataclasses.asdict(a) if dataclasses.is_dataclass(a) else a for a in args]},
                          default=list)
        with self._lock, open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line + "\n")

    def phase(self, name, epochs, steps_per_epoch, start_epoch=0):
        self._write("phase", name, epochs, steps_per_epoch, start_epoch)

    def step(self, epoch, loss):
        self._write("step", epoch, float(loss))

    def epoch_end(self, metrics):
        self._write("epoch_end", metrics)

    def phase_end(self):
        self._write("phase_end")

    def note(self, text):
        self._write("note", text)

    def blocks_planned(self, keys, reused, assignment, estimates):
        self._write("blocks_planned", list(keys), list(reused), [list(a) for a in assignment], dict(estimates))

    def workers_status(self, statuses):
        self._write("workers_status", list(statuses))

    def blocks_finished(self):
        self._write("blocks_finished")


def writer_from_environment(environ=None) -> EventWriter | None:
    path = (os.environ if environ is None else environ).get(EVENTS)
    return EventWriter(Path(path)) if path else None


def replay(line: str, progress) -> None:
    """Call ``progress`` as the worker's progress was called; lines that do not parse are skipped."""
    try:
        event = json.loads(line)
        name, args = event["call"], list(event["args"])
    except (ValueError, KeyError, TypeError):
        return
    if name not in CALLS or not hasattr(progress, name):
        return
    if name == "epoch_end":
        args = [EpochMetrics(**args[0])]
    getattr(progress, name)(*args)


class Follower:
    """Replays a growing events file on ``progress`` from a thread until stopped (then reads the rest)."""

    def __init__(self, path: Path, progress, interval_s: float = 0.2) -> None:
        self.path, self.progress, self.interval_s = Path(path), progress, interval_s
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Follower:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.read()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.read()

    def read(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as stream:
                stream.seek(self._offset)
                while True:
                    line = stream.readline()
                    if not line.endswith("\n"):
                        break  # a line still being written: next time
                    self._offset = stream.tell()
                    replay(line, self.progress)
        except FileNotFoundError:
            return
