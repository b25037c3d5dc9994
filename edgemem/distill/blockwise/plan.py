"""The blocks of one blockwise run: found in the teacher, filtered for the replacement, checked
(only replacements smaller than their block; every one builds before any training) and fingerprinted (a finished block is reused
only while everything that shaped it is the same)."""

from __future__ import annotations

import dataclasses
import hashlib

from edgemem.distill.blockwise.blocks import Block, find_blocks
from edgemem.distill.blockwise.replacements import SEPARABLE, cheap_applies, smaller_replacements
from edgemem.distill.common import Context, digest
from edgemem.distill.data.loader import BatchSource
from edgemem.errors import ConfigError


@dataclasses.dataclass
class Plan:
    blocks: list[Block]
    final_relu: dict[str, bool]
    fingerprints: dict[str, str]
    batches: object  # BatchSource at the block batch size
    skipped: tuple[str, ...] = ()  # blocks left as the teacher's: no smaller replacement


def make_plan(ctx: Context, teacher, device) -> Plan:

    config, opts = ctx.config, ctx.config.blockwise
    blocks = find_blocks(teacher, ctx.input_shape, opts.blocks, config.teacher)
    if opts.replacement != SEPARABLE:
        skipped = [b.path for b in blocks if not cheap_applies(teacher, b)]
        blocks = [Block(i, b.path, b.kind, b.type_name, b.in_shape, b.out_shape)
                  for i, b in enumerate(b for b in blocks if b.path not in skipped)]
        if skipped:
            ctx.note(f"blocks without a dense k x k convolution for {opts.replacement} stay as they are: {', '.join(skipped)}")
        if not blocks:
            raise ConfigError(f"{config.teacher}: no block has a dense k x k convolution for {opts.replacement!r} to replace",
                              hint="use --replacement separable")
    batches = BatchSource(ctx.dataset, opts.batch_size or config.train.batch_size, config.data.augment, config.seed,
                          config.train.eval_batch_size)
    if opts.activations == "cache" and batches.augment != "none":
        raise ConfigError(f"[blockwise] activations = \"cache\" needs augmentation off (the data uses {batches.augment!r})",
                          hint="set [data] augment = \"none\", or activations = \"auto\" / \"on_the_fly\"")
    final_relu = _nonnegative_outputs(teacher, blocks, batches, device)
    blocks, final_relu, skipped = smaller_replacements(opts.replacement, teacher, blocks, final_relu)
    if skipped:
        ctx.note(f"{len(skipped)} block(s) without a smaller {opts.replacement} replacement stay the teacher's: {'; '.join(skipped)}")
    if not blocks:
        raise ConfigError(f"{config.teacher}: no block has a {opts.replacement} replacement with fewer parameters than itself",
                          hint="choose another --replacement (e.g. DW) or --blocks")
    teacher_digest = _teacher_digest(teacher)
    fingerprints = {b.key: digest({"teacher": teacher_digest, "block": dataclasses.asdict(b), "replacement": opts.replacement,
                                    "final_relu": final_relu[b.key], "epochs": opts.epochs, "lr": opts.lr,
                                    "lr_decay": opts.lr_decay, "batch_size": batches.batch_size, "dataset": config.dataset,
                                    "data_path": config.data_path, "data": dataclasses.asdict(config.data),
                                    "seed": config.seed}) for b in blocks}
    ctx.note(f"{len(blocks)} {opts.blocks} blocks of {config.teacher}, each replaced by {opts.replacement}")
    return Plan(blocks, final_relu, fingerprints, batches, tuple(skipped))


def _nonnegative_outputs(teacher, blocks: list[Block], batches, device) -> dict[str, bool]:
    """Whether each block's teacher output is >= 0 on a real batch (then the separable pair ends in ReLU)."""
    import torch

    found: dict[str, bool] = {}

    def check(key):
        def hook(module, args, output):
            found[key] = bool((output >= 0).all())
        return hook

    handles = [teacher.get_submodule(b.path).register_forward_hook(check(b.key)) for b in blocks]
    try:
        with torch.no_grad():
            teacher(batches.x_train[: batches.batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
    return found


def _teacher_digest(teacher) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
