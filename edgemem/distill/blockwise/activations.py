"""The training pairs of one block: the teacher's own input and output of that block.

Two sources, chosen per block by measured cost (``CostEstimate.choose``):

* ``on_the_fly`` -- a *truncated teacher*: the teacher runs on each (augmented) batch only as far
  as the block (a forward hook on the block raises once the block's output exists, so nothing
  after it runs), as the paper's ``LayerBatch`` generator does.
* ``cache`` -- the truncated teacher runs once over the training split and the (input, output)
  pairs are written to two ``.npy`` files under the block's folder; every epoch then reads
  shuffled batches back (memory-mapped). Batches come in the same order as on the fly (the
  permutation of epoch e depends only on (seed, e)). A cache stores one view of each example,
  so it is only allowed without augmentation, and only when it takes at most half the free disk.

``measure_prefixes`` times the truncated teacher of every block from one forward pass with
hooks; ``measure_cost`` times a replacement training step on the block's real activations;
``measure_machine`` measures once per worker what every block shares (disk write and read
throughput, the splice evaluation).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.blockwise.result import CostEstimate
from edgemem.distill.data.loader import BatchSource
from edgemem.distill.losses import hint as mse
from edgemem.errors import TrainingError

SOURCES = ("on_the_fly", "cache")


class _Stop(Exception):
    """Raised by the forward hook once the block's output exists: the rest of the teacher never runs."""


class TruncatedTeacher:
    """``(input, output)`` of the block at ``path``, computed by running the teacher only that far."""

    def __init__(self, teacher: nn.Module, path: str) -> None:
        self.teacher = teacher
        self.path = path
        self.module = teacher.get_submodule(path)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        captured: dict = {}

        def pre_hook(module, args):
            captured["input"], captured["version"] = args[0], args[0]._version

        def post_hook(module, args, output):
            captured["output"] = output
            raise _Stop

        handles = [self.module.register_forward_pre_hook(pre_hook), self.module.register_forward_hook(post_hook)]
        try:
            self.teacher(x)
        except _Stop:
            pass
        finally:
            for handle in handles:
                handle.remove()
        if "output" not in captured:
            raise TrainingError(f"block {self.path} did not run in the teacher's forward pass")
        if captured["input"]._version != captured["version"]:
            raise TrainingError(f"block {self.path} changes its input in place; its input cannot be a training target",
                                hint="use the other --blocks granularity")
        return captured["input"], captured["output"]


class OnTheFly:
    """Pairs computed by the truncated teacher on every training batch."""

    mode = "on_the_fly"

    def __init__(self, truncated: TruncatedTeacher, batches: BatchSource, device: torch.device) -> None:
        self.truncated, self.batches, self.device = truncated, batches, device

    def prepare(self) -> None:
        pass

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, _ in self.batches.train_batches(epoch):
            yield self.truncated(x.to(self.device, non_blocking=True))

    def remove(self) -> None:
        pass


class Cached:
    """Pairs computed once, stored as ``inputs.npy`` / ``targets.npy`` in ``folder``, read back each epoch."""

    mode = "cache"

    def __init__(self, truncated: TruncatedTeacher, batches: BatchSource, device: torch.device, folder: Path) -> None:
        if batches.augment != "none":
            raise TrainingError(f"block {truncated.path}: a disk cache of teacher activations needs augmentation off "
                                f"(the data uses {batches.augment!r})", hint="set [data] augment = \"none\" or [blockwise] activations = \"auto\"")
        self.truncated, self.batches, self.device, self.folder = truncated, batches, device, Path(folder)
        self.inputs: np.ndarray | None = None
        self.targets: np.ndarray | None = None

    def prepare(self) -> None:
        """Build the cache unless a complete one is there (a half-written one is rebuilt)."""
        marker = self.folder / "complete.json"
        x = self.batches.x_train
        if not marker.is_file():
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True, exist_ok=True)
            inputs = targets = None
            step = max(self.batches.eval_batch_size, 1)
            for start in range(0, len(x), step):
                a, b = self.truncated(x[start:start + step].to(self.device))
                if inputs is None:
                    inputs = _open(self.folder / "inputs.npy", (len(x), *a.shape[1:]))
                    targets = _open(self.folder / "targets.npy", (len(x), *b.shape[1:]))
                inputs[start:start + len(a)] = a.float().cpu().numpy()
                targets[start:start + len(b)] = b.float().cpu().numpy()
            for array in (inputs, targets):
                array.flush()
            del inputs, targets
            marker.write_text(json.dumps({"examples": len(x)}))
        self.inputs = np.load(self.folder / "inputs.npy", mmap_mode="r")
        self.targets = np.load(self.folder / "targets.npy", mmap_mode="r")

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, size = len(self.batches.y_train), self.batches.batch_size
        order = torch.randperm(n, generator=self.batches.epoch_generator(epoch)).numpy()
        for start in range(0, n, size):
            index = order[start:start + size]
            if len(index) < 2 < n:
                break  # as BatchSource: no batch of one
            yield (torch.from_numpy(np.ascontiguousarray(self.inputs[index])).to(self.device),
                   torch.from_numpy(np.ascontiguousarray(self.targets[index])).to(self.device))

    def remove(self) -> None:
        self.inputs = self.targets = None
        shutil.rmtree(self.folder, ignore_errors=True)


def _open(path: Path, shape) -> np.ndarray:
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=tuple(shape))


def make_source(mode: str, truncated: TruncatedTeacher, batches: BatchSource, device: torch.device, folder: Path):
    if mode == "cache":
        return Cached(truncated, batches, device, folder)
    return OnTheFly(truncated, batches, device)


# ---- measured costs --------------------------------------------------------------------------

def _timed(function: Callable[[], object], steps: int, device: torch.device) -> float:
    """Median seconds of ``function`` over ``steps`` runs after one warm-up run."""
    times = []
    for i in range(steps + 1):
        _sync(device)
        began = time.perf_counter()
        function()
        _sync(device)
        if i:
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class MachineCosts:
    """Costs every block shares on this worker, measured once."""

    write_s_per_byte: float  # writing activations to a memory-mapped .npy file
    read_s_per_byte: float  # reading them back in shuffled order
    eval_s: float  # the splice evaluation: two teacher passes over the evaluation split
    free_bytes: int  # free disk under the cache folder


def measure_machine(teacher: nn.Module, batches: BatchSource, scratch: Path, device: torch.device, steps: int) -> MachineCosts:
    """Disk throughput (a 4 MiB batch of activations) and the splice evaluation's cost."""
    sample = torch.randn(1024, 1024)
    write_s, read_s = _io_times(sample, sample, scratch / f"probe-{socket.gethostname()}-{os.getpid()}", steps)
    eval_x = batches.x_test[: batches.eval_batch_size].to(device)
    with torch.no_grad():
        forward_s = _timed(lambda: teacher(eval_x), 1, device)
    eval_batches = -(-len(batches.y_test) // batches.eval_batch_size)
    nbytes = 2 * sample.numel() * 4
    return MachineCosts(write_s / nbytes, read_s / nbytes, 2 * eval_batches * forward_s, _free_bytes(scratch))


def measure_prefixes(teacher: nn.Module, blocks: list[Block], batches: BatchSource, device: torch.device) -> dict[str, float]:
    """Seconds from the start of one teacher forward to each block's output: every block's truncated-teacher
    cost from a single timed pass (after a warm-up pass), with forward hooks stamping the time."""
    x = batches.x_train[: batches.batch_size].to(device)
    stamps: dict[str, float] = {}

    def stamp(key):
        def hook(module, args, output):
            _sync(device)
            stamps[key] = time.perf_counter()
        return hook

    handles = [teacher.get_submodule(b.path).register_forward_hook(stamp(b.key)) for b in blocks]
    try:
        with torch.no_grad():
            teacher(x)
            _sync(device)
            began = time.perf_counter()
            teacher(x)
    finally:
        for handle in handles:
            handle.remove()
    return {b.key: stamps[b.key] - began for b in blocks}


def measure_cost(teacher: nn.Module, block: Block, make_replacement: Callable[[], nn.Module], batches: BatchSource,
                 epochs: int, lr: float, steps: int, machine: MachineCosts, prefix_s: float, device: torch.device) -> CostEstimate:
    """Time one replacement training step on the block's real teacher activations (nothing is trained for real)."""
    x = batches.x_train[: batches.batch_size].to(device)
    inputs, targets = TruncatedTeacher(teacher, block.path)(x)
    replacement = make_replacement().train()
    optimizer = torch.optim.RMSprop(replacement.parameters(), lr=lr)

    def train_step():
        loss = mse(replacement(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_step_s = _timed(train_step, steps, device)
    batch_bytes = (inputs.numel() + targets.numel()) * 4
    cache_bytes = len(batches.y_train) * batch_bytes // max(len(x), 1)
    cache_allowed = batches.augment == "none" and cache_bytes <= machine.free_bytes // 2
    return CostEstimate(block.key, prefix_s, train_step_s, batch_bytes * machine.write_s_per_byte,
                        batch_bytes * machine.read_s_per_byte, machine.eval_s, batches.steps_per_epoch, epochs,
                        cache_bytes, cache_allowed)


def _io_times(inputs: torch.Tensor, targets: torch.Tensor, folder: Path, steps: int) -> tuple[float, float]:
    """Seconds to write one batch of pairs to .npy files and to read it back shuffled (memory-mapped)."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b = inputs.float().cpu().numpy(), targets.float().cpu().numpy()
    order = np.random.default_rng(0).permutation(len(a))
    try:
        def write():
            for name, array in (("i.npy", a), ("t.npy", b)):
                mm = _open(folder / name, array.shape)
                mm[:] = array
                mm.flush()
                del mm

        def read():
            for name in ("i.npy", "t.npy"):
                torch.from_numpy(np.ascontiguousarray(np.load(folder / name, mmap_mode="r")[order]))

        cpu = torch.device("cpu")
        return _timed(write, steps, cpu), _timed(read, steps, cpu)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _free_bytes(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(folder).free
