"""What a blockwise run reports (standard library only, so edgemem.output renders it without torch).

``BlockwiseReport`` is the ``blockwise`` entry of the ``edgemem.distill_result/1`` document.
Accuracies are fractions; times are seconds (``*_s``). ``BlockwiseProgress`` is what the run
tells the display on rank 0 while it works (implemented by edgemem.output.blockwise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol


@dataclass(frozen=True)
class CostEstimate:
    """Measured cost of training one block, from ``profile_steps`` timed steps (seconds)."""

    key: str
    prefix_s: float  # truncated teacher up to the block's output, one batch
    train_step_s: float  # replacement forward + MSE + backward + RMSprop step, one batch
    write_s: float  # writing one batch of (input, output) activations to the disk cache
    read_s: float  # reading one shuffled batch back from the cache
    eval_s: float  # the splice evaluation at the end (teacher with this replacement, evaluation split)
    steps: int  # batches per epoch
    epochs: int
    cache_bytes: int  # size of the block's activation cache
    cache_allowed: bool  # no augmentation and room on disk
    profile_s: float = 0.0  # how long measuring this estimate took

    @property
    def on_the_fly_s(self) -> float:
        return self.steps * self.epochs * (self.prefix_s + self.train_step_s) + self.eval_s

    @property
    def cache_s(self) -> float:
        return self.steps * (self.prefix_s + self.write_s) + self.steps * self.epochs * (self.read_s + self.train_step_s) + self.eval_s

    def choose(self, mode: str) -> str:
        """``on_the_fly`` or ``cache`` for the configured mode (auto: the cheaper allowed one)."""
        if mode != "auto":
            return mode
        return "cache" if self.cache_allowed and self.cache_s < self.on_the_fly_s else "on_the_fly"

    def cost_s(self, mode: str) -> float:
        return self.cache_s if self.choose(mode) == "cache" else self.on_the_fly_s


@dataclass(frozen=True)
class BlockRecord:
    """One block: what replaced it, who trained it, how long, how well, and whether it was kept."""

    index: int  # execution order in the teacher
    key: str  # "<index>-<path>": names its folder under OUT/blockwise/blocks
    path: str  # module path in the teacher
    kind: str  # conv | residual
    replacement: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    teacher_parameters: int
    replacement_parameters: int
    worker: int  # rank that trained it
    activations: str  # on_the_fly | cache
    estimated_s: float  # the load balancer's cost for it
    time_s: float  # measured wall time of its training (cache, epochs, evaluation)
    train_loss: float  # mean MSE of the last epoch
    eval_loss: float  # MSE on the evaluation split
    spliced_accuracy: float  # the teacher with only this block replaced
    epochs: int
    resumed_from_epoch: int = 0  # continued from a per-epoch checkpoint of an interrupted run
    reused: bool = False  # finished by an earlier run (not trained now)
    kept: bool | None = None  # set by the reassembly
    accuracy_after: float | None = None  # student accuracy when the reassembly decided on this block (None: on the record)
    relative_error: float = float("nan")  # eval MSE / mean square of the teacher block's output (acceptance rule 1)
    reason: str = ""  # why the acceptance rule kept or dropped it

    def decided(self, kept: bool, accuracy: float | None, reason: str = "") -> "BlockRecord":
        return replace(self, kept=kept, accuracy_after=accuracy, reason=reason)


@dataclass(frozen=True)
class BlockwiseReport:
    granularity: str  # conv | residual
    replacement: str
    workers: int  # world size of the blockwise phase
    backend: str  # gloo | nccl | local
    scheduler: str
    blocks: tuple[BlockRecord, ...]
    assignment: tuple[tuple[str, ...], ...]  # block keys per worker (blocks trained in this run)
    predicted_makespan_s: float  # the scheduler's makespan on the measured costs
    round_robin_makespan_s: float  # round robin's on the same costs
    profile_time_s: float  # measuring the costs (all workers)
    phase_time_s: float  # wall time of the blockwise phase: profiling + training, until the last worker finished
    serial_cost_s: float  # sum over the blocks trained now of their measured profiling + training times
    threshold: float  # acceptance rule 3: end-to-end accuracy drop of the reassembled student
    teacher_accuracy: float
    reassembled_accuracy: float  # after splicing the kept replacements, before fine-tuning
    finetuned_accuracy: float | None  # after the KD fine-tune (None when it was off)
    kept_blocks: int  # replacements kept by the reassembly
    reused_blocks: int  # blocks finished by an earlier run (not trained now)
    speedup: float | None  # serial_cost_s / phase_time_s (None when no block was trained now)
    finetune_time_s: float = 0.0
    max_error: float = float("nan")  # acceptance rule 1: relative output error of a block
    max_block_drop: float = float("nan")  # acceptance rule 2: accuracy drop with only that block replaced
    skipped: tuple[str, ...] = ()  # blocks without a smaller replacement, left as the teacher's (with why)


def speedup_of(serial_cost_s: float, phase_time_s: float) -> float | None:
    """Measured serial cost of the blocks trained now / wall time of the phase that trained them."""
    if phase_time_s <= 0 or serial_cost_s <= 0:
        return None
    return serial_cost_s / phase_time_s


class BlockwiseProgress(Protocol):
    """What the run reports on rank 0 beyond the training phases (edgemem.output.blockwise draws it)."""

    def note(self, text: str) -> None: ...

    def blocks_planned(self, keys: list[str], reused: list[str], assignment: tuple[tuple[str, ...], ...],
                       estimates: dict[str, float]) -> None: ...

    def workers_status(self, statuses: list[dict]) -> None: ...

    def blocks_finished(self) -> None: ...
