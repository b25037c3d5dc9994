"""Train one block's replacement alone on the teacher's (input, output) of that block, with MSE.

As in the paper's ``train_layer``: RMSprop (``[blockwise] lr``, default 2e-3), the learning rate
decayed by ``lr_decay`` after every epoch (the paper: 0.96 every 3000 steps), ``epochs`` epochs
over the training split. A checkpoint after every epoch lets a killed worker's block continue;
when the block is done, its MSE on the evaluation split and the *spliced* accuracy (the teacher
with only this block replaced, the paper's per-block evaluation) are measured, and the weights
and record are stored as a finished block. The replacement is initialised from (seed, block
index) and batches depend only on (seed, epoch), so a block trains to the same weights on
whichever worker runs it.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from edgemem.distill.blockwise.activations import TruncatedTeacher, make_source
from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.blockwise.options import BlockwiseOptions
from edgemem.distill.blockwise.replacements import build_replacement, parameter_count
from edgemem.distill.blockwise.result import BlockRecord
from edgemem.distill.blockwise.store import BlockStore
from edgemem.distill.checkpoint import restore_rng
from edgemem.distill.data.loader import BatchSource
from edgemem.distill.losses import hint as mse
from edgemem.distill.students.convs import replace_module
from edgemem.distill.trainers.base import accuracy
from edgemem.errors import TrainingError


@dataclass
class BlockJob:
    block: Block
    teacher: nn.Module  # in eval mode, on ``device``
    replacement: str
    final_relu: bool
    batches: BatchSource  # at the block batch size
    options: BlockwiseOptions
    mode: str  # on_the_fly | cache
    estimated_s: float
    store: BlockStore
    fingerprint: str
    seed: int
    rank: int
    device: torch.device
    on_epoch: Callable[[int, float], None] | None = None  # (epochs done, mean loss) after every epoch


def block_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def new_replacement(job: BlockJob) -> nn.Module:
    return build_replacement(job.replacement, job.teacher, job.block, job.final_relu, block_seed(job.seed, job.block.index))


def train_block(job: BlockJob) -> tuple[BlockRecord, dict]:
    """Train (or continue) one block; returns its record and its trained weights (on the CPU)."""
    began = time.perf_counter()
    block, options = job.block, job.options
    replacement = new_replacement(job)
    optimizer = torch.optim.RMSprop(replacement.parameters(), lr=options.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=options.lr_decay)
    checkpoint = job.store.checkpoint(block.key)
    history, start = _resume(job, checkpoint, replacement, optimizer, scheduler)
    source = make_source(job.mode, TruncatedTeacher(job.teacher, block.path), job.batches, job.device,
                         job.store.cache_folder(block.key))
    source.prepare()
    for epoch in range(start, options.epochs):
        history.append(_epoch(job, replacement, optimizer, source, epoch))
        scheduler.step()
        checkpoint.save(fingerprint=job.fingerprint, epoch=epoch + 1, models={"replacement": replacement.state_dict()},
                        optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                        history=[{"train_loss": h} for h in history], finished=epoch + 1 == options.epochs)
        if job.on_epoch is not None:
            job.on_epoch(epoch + 1, history[-1])
    source.remove()
    replacement.eval()
    eval_loss, relative_error = evaluation_loss(job.teacher, block.path, replacement, job.batches, job.device)
    spliced = spliced_accuracy(job.teacher, block.path, replacement, job.batches)
    state = {k: v.detach().cpu() for k, v in replacement.state_dict().items()}
    record = BlockRecord(
        index=block.index, key=block.key, path=block.path, kind=block.kind, replacement=job.replacement,
        in_shape=block.in_shape, out_shape=block.out_shape,
        teacher_parameters=parameter_count(job.teacher.get_submodule(block.path)),
        replacement_parameters=parameter_count(replacement), worker=job.rank, activations=job.mode,
        estimated_s=job.estimated_s, time_s=time.perf_counter() - began, train_loss=history[-1] if history else math.nan,
        eval_loss=eval_loss, spliced_accuracy=spliced, epochs=options.epochs, resumed_from_epoch=start,
        relative_error=relative_error)
    job.store.save_done(block.key, job.fingerprint, state, record)
    job.store.clear_progress(block.key)
    return record, state


def _resume(job: BlockJob, checkpoint, replacement, optimizer, scheduler) -> tuple[list[float], int]:
    """Continue from the block's last complete epoch when a checkpoint of the same settings exists."""
    if not checkpoint.exists():
        return [], 0
    try:
        state = checkpoint.load(job.fingerprint)
        replacement.load_state_dict(state["models"]["replacement"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
    except (TrainingError, KeyError, RuntimeError, ValueError):
        return [], 0  # written by other settings (or unreadable): the block starts over
    return [float(h["train_loss"]) for h in state["history"]], int(state["epoch"])


def _epoch(job: BlockJob, replacement: nn.Module, optimizer, source, epoch: int) -> float:
    replacement.train()
    total, seen = 0.0, 0
    for step, (inputs, targets) in enumerate(source.epoch(epoch)):
        loss = mse(replacement(inputs), targets)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(f"block {job.block.path}: the MSE became {value} in epoch {epoch + 1}, step {step + 1}",
                                hint="lower [blockwise] lr")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += value * len(inputs)
        seen += len(inputs)
    if not seen:
        raise TrainingError(f"block {job.block.path}: the training split gave no batch")
    return total / seen


@torch.no_grad()
def evaluation_loss(teacher: nn.Module, path: str, replacement: nn.Module, batches: BatchSource, device) -> tuple[float, float]:
    """(MSE, relative error) of the replacement against the teacher's block output on the evaluation
    split; relative error = MSE / mean square of the teacher's output (0: exact, 1: as far as zeros)."""
    truncated = TruncatedTeacher(teacher, path)
    total, energy, seen = 0.0, 0.0, 0
    for x, _ in batches.eval_batches():
        inputs, targets = truncated(x.to(device))
        total += float(mse(replacement(inputs), targets)) * len(x)
        energy += float(targets.pow(2).mean()) * len(x)
        seen += len(x)
    mse_value, mean_square = total / max(seen, 1), energy / max(seen, 1)
    if mean_square > 0:
        return mse_value, mse_value / mean_square
    return mse_value, 0.0 if mse_value == 0 else float("inf")


@contextlib.contextmanager
def spliced(model: nn.Module, path: str, replacement: nn.Module):
    """``model`` with the module at ``path`` swapped for ``replacement``, restored afterwards."""
    original = model.get_submodule(path)
    replace_module(model, path, replacement)
    try:
        yield model
    finally:
        replace_module(model, path, original)


def spliced_accuracy(teacher: nn.Module, path: str, replacement: nn.Module, batches: BatchSource) -> float:
    with spliced(teacher, path, replacement):
        return accuracy(teacher, batches)
