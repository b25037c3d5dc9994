"""The ``[blockwise]`` settings of a run config (standard library only, validated in milliseconds).

Top-level keys / flags ``workers`` (``--workers``), ``blocks`` (``--blocks``) and ``replacement``
(``--replacement``) land here too; ``[train]`` (``--epochs``) drives the end-to-end fine-tune.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.errors import ConfigError

GRANULARITIES = ("conv", "residual")
ACTIVATION_SOURCES = ("auto", "on_the_fly", "cache")


@dataclass(frozen=True)
class BlockwiseOptions:
    workers: int = 1  # processes on this node when edgemem starts torchrun itself (--nproc-per-node)
    blocks: str = "conv"  # conv: every dense k x k convolution; residual: every residual block
    replacement: str = "separable"  # the paper's depthwise-separable pair, or a cheap conv name (DW, G(4), B(2), ...)
    epochs: int = 10  # training epochs of each block
    batch_size: int | None = None  # batch of the block training (None: [train] batch_size)
    lr: float = 2e-3  # RMSprop learning rate of the block training (the paper's)
    lr_decay: float = 0.96  # learning rate x this after every block epoch
    threshold: float = 0.05  # acceptance: keep while teacher accuracy - reassembled student accuracy <= this
    max_error: float = 0.5  # acceptance: relative output error of the block (eval MSE / mean square of its output)
    max_block_drop: float = 0.05  # acceptance: teacher accuracy - accuracy with only this block replaced
    activations: str = "auto"  # auto (measured: cache when cheaper), on_the_fly (truncated teacher), cache (disk)
    scheduler: str = "lpt"  # lpt | round_robin (edgemem.distill.blockwise.schedule.SCHEDULERS)
    profile_steps: int = 2  # timed training steps per block for the cost estimates (after one warm-up step)
    finetune: bool = True  # fine-tune the reassembled student end to end with KD ([train], --epochs)
    max_restarts: int = 0  # torchrun --max-restarts when edgemem starts torchrun (elastic restarts)
    timeout_s: float = 21600.0  # how long a worker waits for the others at a synchronisation point


def validate_blockwise(options: BlockwiseOptions) -> BlockwiseOptions:
    """Check the values types alone do not catch (the replacement name is checked when the run starts)."""
    from edgemem.distill.blockwise.schedule import SCHEDULERS

    checks = [
        (options.workers >= 1, "workers must be >= 1"),
        (options.blocks in GRANULARITIES, f"blocks {options.blocks!r}: choose {' or '.join(GRANULARITIES)}"),
        (bool(options.replacement.strip()), "replacement must not be empty"),
        (options.epochs >= 1, "epochs must be >= 1"),
        (options.batch_size is None or options.batch_size >= 2, "batch_size must be >= 2"),
        (options.lr > 0, "lr must be positive"),
        (0 < options.lr_decay <= 1, "lr_decay must be in (0, 1]"),
        (0 <= options.threshold <= 1, "threshold must be in [0, 1] (an accuracy drop, as a fraction)"),
        (options.max_error > 0, "max_error must be positive (a relative output error)"),
        (0 <= options.max_block_drop <= 1, "max_block_drop must be in [0, 1] (an accuracy drop, as a fraction)"),
        (options.activations in ACTIVATION_SOURCES, f"activations {options.activations!r}: choose {', '.join(ACTIVATION_SOURCES)}"),
        (options.scheduler in SCHEDULERS, f"scheduler {options.scheduler!r}: choose {', '.join(SCHEDULERS)}"),
        (options.profile_steps >= 1, "profile_steps must be >= 1"),
        (options.max_restarts >= 0, "max_restarts must be >= 0"),
        (options.timeout_s > 0, "timeout_s must be positive"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"[blockwise] {message}")
    return options
