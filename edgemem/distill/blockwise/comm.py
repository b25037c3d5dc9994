"""The workers of a blockwise run and how they talk: ``torch.distributed`` under ``torchrun``, or
one local worker.

``connect`` looks at the environment ``torchrun`` gives each process (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Under it, the process joins the default process group --
NCCL when the run trains on CUDA (each process on ``cuda:LOCAL_RANK``), gloo on the CPU -- with
a timeout long enough for the slowest worker's blocks; small Python objects (costs, records,
decisions) travel through a gloo group either way. Without it the run is rank 0 of 1.

Status board: every worker publishes a small JSON status (current block, epoch, loss, finished
blocks) under its own key of the rendezvous store (a ``TCPStore`` client of torchrun's store at
MASTER_ADDR:MASTER_PORT); rank 0 reads all of them from a background thread to draw one display.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from datetime import timedelta
from typing import Callable, Iterator

ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def under_torchrun(environ=None) -> bool:
    """True in a process started by torchrun (or any launcher that sets the env:// variables)."""
    environ = os.environ if environ is None else environ
    return all(environ.get(key) for key in ENV_KEYS)


def restart_count(environ=None) -> int:
    """How many times torchrun's elastic agent has restarted this run's workers."""
    environ = os.environ if environ is None else environ
    try:
        return int(environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    except ValueError:
        return 0


class LocalComm:
    """One worker: every collective is the identity."""

    backend = "local"

    def __init__(self) -> None:
        self.rank, self.world, self.local_rank = 0, 1, 0
        self._statuses: dict[int, dict] = {}

    def barrier(self) -> None:
        pass

    def all_gather(self, obj) -> list:
        return [obj]

    def broadcast(self, obj, src: int = 0):
        return obj

    def gather(self, obj, dst: int = 0) -> list | None:
        return [obj]

    def publish(self, status: dict) -> None:
        self._statuses[self.rank] = dict(status)

    def reader(self) -> Callable[[], list[dict]]:
        return lambda: [dict(self._statuses.get(0, {}))]

    def close(self) -> None:
        pass


class TorchComm:
    """A torch.distributed process group (the default group) plus a gloo group for Python objects."""

    def __init__(self, cuda: bool, timeout_s: float) -> None:
        import torch
        import torch.distributed as dist

        self.rank, self.world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ["LOCAL_RANK"])
        self.backend = "nccl" if cuda else "gloo"
        timeout = timedelta(seconds=timeout_s)
        if cuda:
            torch.cuda.set_device(self.local_rank)
        dist.init_process_group(self.backend, timeout=timeout)
        self._dist = dist
        self.meta = dist.new_group(backend="gloo", timeout=timeout) if cuda else None
        self._prefix = (f"edgemem/blockwise/{os.environ.get('TORCHELASTIC_RUN_ID', 'run')}/"
                        f"{restart_count()}/status/")
        self._store = self._client()

    def _client(self):
        return self._dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                                   timeout=timedelta(seconds=60))

    def barrier(self) -> None:
        self._dist.barrier(group=self.meta)

    def all_gather(self, obj) -> list:
        out = [None] * self.world
        self._dist.all_gather_object(out, obj, group=self.meta)
        return out

    def broadcast(self, obj, src: int = 0):
        box = [obj if self.rank == src else None]
        self._dist.broadcast_object_list(box, src=src, group=self.meta)
        return box[0]

    def gather(self, obj, dst: int = 0) -> list | None:
        out = [None] * self.world if self.rank == dst else None
        self._dist.gather_object(obj, out, dst=dst, group=self.meta)
        return out

    def publish(self, status: dict) -> None:
        self._store.set(f"{self._prefix}{self.rank}", json.dumps(status))

    def reader(self) -> Callable[[], list[dict]]:
        """A function reading every worker's status, with its own store client (for another thread)."""
        client = self._client()
        keys = [f"{self._prefix}{rank}" for rank in range(self.world)]
        return lambda: [json.loads(client.get(key)) for key in keys]

    def close(self) -> None:
        if self._dist.is_initialized():
            self._dist.destroy_process_group()


def connect(cuda: bool, timeout_s: float):
    """TorchComm under torchrun, else LocalComm."""
    return TorchComm(cuda, timeout_s) if under_torchrun() else LocalComm()


@contextlib.contextmanager
def watching(read: Callable[[], list[dict]], show: Callable[[list[dict]], None], interval_s: float = 0.5) -> Iterator[None]:
    """Call ``show(read())`` every ``interval_s`` from a background thread until the block ends (and once at the end)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            try:
                show(read())
            except Exception:  # a display hiccup (store timeout, closed terminal) must not stop training
                pass

    thread = threading.Thread(target=loop, name="edgemem-blockwise-status", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(Exception):
            show(read())
