"""A resumable row queue for long benchmark tables: finished rows live in a JSON-lines results
file and are never run again; a row in progress is claimed by one process, so two processes
started on the same folder share the work (one row each at a time).

    queue = RowQueue(out / "results.jsonl", out / "claims")
    for row in queue.take(rows, depends):   # rows: keys in priority order; depends(key) -> keys it needs
        queue.finish(row, {"accuracy": ...})

A claim is a file ``claims/<key>.pid`` created exclusively and holding the claimant's process id;
one whose process is gone (killed, crashed) is stale and taken over, and the row's own training
checkpoints let the next claimant continue it. ``take`` waits (polling) while every remaining row
depends on a row another process is running, and stops when nothing is left to do.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator


class RowQueue:
    def __init__(self, results: Path, claims: Path, poll_s: float = 30.0) -> None:
        self.results, self.claims, self.poll_s = Path(results), Path(claims), poll_s
        self.results.parent.mkdir(parents=True, exist_ok=True)
        self.claims.mkdir(parents=True, exist_ok=True)

    def done(self) -> dict[str, dict]:
        """Finished rows by key (the last record of a key wins)."""
        rows: dict[str, dict] = {}
        if self.results.is_file():
            for line in self.results.read_text().splitlines():
                line = line.strip()
                if line:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a kill mid-write
                    rows[record["key"]] = record
        return rows

    def finish(self, key: str, record: dict) -> None:
        """Append the row's record (one write of one line) and drop its claim."""
        line = json.dumps({"key": key, **record}, default=str) + "\n"
        with open(self.results, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.release(key)

    def claim(self, key: str) -> bool:
        path = self._claim_path(key)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._alive(path):
                    return False
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            return True
        return False

    def release(self, key: str) -> None:
        path = self._claim_path(key)
        if path.is_file() and path.read_text().strip() == str(os.getpid()):
            path.unlink(missing_ok=True)

    def running(self) -> list[str]:
        """Keys claimed by a live process."""
        return sorted(p.name[: -len(".pid")] for p in self.claims.glob("*.pid") if self._alive(p))

    def take(self, keys: Iterable[str], depends: Callable[[str], list[str]]) -> Iterator[str]:
        """Yield claimed keys, highest priority first, each once its dependencies are finished."""
        keys = list(keys)
        while True:
            finished = self.done()
            todo = [k for k in keys if k not in finished]
            if not todo:
                return
            ready = [k for k in todo if all(d in finished for d in depends(k))]
            for key in ready:
                if self.claim(key):
                    if key in self.done():  # finished by another process meanwhile
                        self.release(key)
                        break
                    yield key
                    break
            else:
                if not self.running():
                    blocked = [k for k in todo if k not in ready]
                    if blocked and not ready:
                        raise RuntimeError(f"rows {blocked[:3]} wait for rows that no process runs")
                    if not ready:
                        return
                time.sleep(self.poll_s)

    def _claim_path(self, key: str) -> Path:
        return self.claims / f"{key.replace('/', '__')}.pid"

    @staticmethod
    def _alive(path: Path) -> bool:
        try:
            pid = int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            return False
        if pid <= 0:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
