"""``edgemem distill --method blockwise``: start torchrun, or be one of its workers.

Called by the distill command once its flags and ``--config`` are merged and validated:

* not under torchrun and ``--workers N`` > 1: start ``torchrun`` with N workers on this machine
  (edgemem.distill.blockwise.launch) and return its exit code;
* under torchrun (started by edgemem or by the user, one node or several), or with one worker:
  run this process's share (edgemem.distill.blockwise.run). Rank 0 draws the workers' blocks,
  prints the final table (or the ``--json`` document) and writes the report and plot; the other
  workers print nothing.
"""

from __future__ import annotations

from edgemem.distill.config import DistillConfig
from edgemem.errors import ExitCode
from edgemem.output import Output


def run_blockwise(settings: DistillConfig, out: Output) -> int:
    from edgemem.distill.blockwise.comm import under_torchrun
    from edgemem.distill.blockwise.launch import launch, record_exit_code

    if not under_torchrun() and settings.blockwise.workers > 1:
        return launch(settings)
    from edgemem.cli.distill import finish
    from edgemem.distill.blockwise.run import distill_blockwise
    from edgemem.output.blockwise import BlockwiseDisplay

    progress = BlockwiseDisplay(out)
    try:
        result = distill_blockwise(settings, progress)
    finally:
        progress.blocks_finished()
        progress.phase_end()
    if result is None:  # a worker other than rank 0
        return ExitCode.OK
    return record_exit_code(settings, finish(result, settings, out))
