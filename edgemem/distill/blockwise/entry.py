"""How this process takes part in a blockwise run (standard library only: no torch until it trains).

* not under torchrun and ``--workers N`` > 1: start torchrun with N workers on this machine
  (``launch.py``) and return the result rank 0 wrote, its progress replayed here;
* under torchrun (started by edgemem or by the user, one node or several), or with one worker:
  run this process's share (``run.py``); rank 0 returns the result, the others None.
"""

from __future__ import annotations

from edgemem.distill.blockwise.comm import under_torchrun
from edgemem.distill.blockwise.launch import launch
from edgemem.distill.config import DistillConfig
from edgemem.distill.result import DistillResult
from edgemem.errors import ConfigError


def distill_blockwise(config: DistillConfig, progress) -> DistillResult | None:
    check_config(config)
    from edgemem.distill.blockwise.replacements import replacement_builder  # torch

    replacement_builder(config.blockwise.replacement)  # an unknown name fails before any work
    if not under_torchrun() and config.blockwise.workers > 1:
        return launch(config, progress)
    from edgemem.distill.blockwise.run import run_worker

    return run_worker(config, progress)


def check_config(config: DistillConfig) -> None:
    """Settings of other methods that blockwise would silently ignore are errors."""
    if config.sweep or config.baseline:
        raise ConfigError("--sweep and --baseline do not apply to --method blockwise", hint="drop them, or use another --method")
    if config.student.forced:
        raise ConfigError("[student] pool_factor/conv/width do not apply to --method blockwise: its student is the teacher "
                          "with replaced blocks", hint="choose the replacement with --replacement (separable, DW, G(4), ...)")
