"""End-to-end fine-tune of the reassembled student with KD under DistributedDataParallel.

Every worker draws the same global batches (order and augmentation depend only on (seed, epoch))
and trains on its own interleaved shard (``x[rank::world]``), so the global batch is
``[train] batch_size`` whatever the worker count; DDP averages the gradients. Global batches too
small to give every worker two examples are skipped on all workers alike (DDP needs the same
number of steps everywhere; BatchNorm needs two examples). The loss is part B's KD mix (method
``kd`` weights, ``[loss]`` overrides) and the epoch loop, checkpoints, resume and divergence
checks are part B's trainer; this subclass only adds the DDP wrapper. BatchNorm statistics are
per worker (no SyncBatchNorm), and the wrapper broadcasts rank 0's buffers at every forward.
"""

from __future__ import annotations

from typing import Iterator

import torch

from edgemem.distill.data.loader import BatchSource
from edgemem.distill.losses import LossInputs, combined_loss
from edgemem.distill.trainers.base import resolve_device
from edgemem.distill.trainers.standard import StandardTrainer
from edgemem.errors import TrainingError


class ShardedBatches:
    """A BatchSource whose training batches are this worker's shard of every global batch."""

    def __init__(self, source: BatchSource, rank: int, world: int) -> None:
        self.source, self.rank, self.world = source, rank, world

    def __getattr__(self, name):  # evaluation batches, sizes and the dataset come from the source
        return getattr(self.source, name)

    @property
    def steps_per_epoch(self) -> int:
        return self.source.steps_per_epoch

    def train_batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.source.train_batches(epoch):
            if len(y) < 2 * self.world:
                continue
            yield x[self.rank::self.world], y[self.rank::self.world]


class DDPKDTrainer(StandardTrainer):
    """KD from the frozen teacher, the student wrapped in DistributedDataParallel when world > 1."""

    def build(self) -> None:
        super().build()
        if self.job.teacher is None:
            raise TrainingError(f"{self.job.name}: the blockwise fine-tune needs the teacher")
        import torch.distributed as dist

        model = self.job.model
        self.wrapped = model
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            from torch.nn.parallel import DistributedDataParallel

            device = resolve_device(self.job.train.device)
            if device.type == "cuda":
                device = torch.device("cuda", torch.cuda.current_device())
                model.to(device)
                self.wrapped = DistributedDataParallel(model, device_ids=[device.index])
            else:
                self.wrapped = DistributedDataParallel(model)

    def step_loss(self, x: torch.Tensor, y: torch.Tensor):
        logits = self.wrapped(x)
        with torch.no_grad():
            teacher_logits = self.job.teacher(x)
        try:
            loss, parts = combined_loss(LossInputs(logits, y, teacher_logits), self.weights)
        except ValueError as exc:
            raise TrainingError(f"{self.job.name}: {exc}") from None
        return loss, parts, logits
