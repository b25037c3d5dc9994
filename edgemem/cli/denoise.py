"""``edgemem distill --task denoise``: a DDPM noise predictor distilled into a pooled student.

Called by the distill command once its flags and ``--config`` are merged and validated; the run is
``edgemem.distill.run.distill`` (which hands it to ``edgemem.distill.denoise.run``), the table and progress bars ``edgemem.output.denoise``.
"""

from __future__ import annotations

from edgemem.distill.config import DistillConfig
from edgemem.errors import ExitCode
from edgemem.output import Output


def run_denoise(settings: DistillConfig, out: Output) -> int:
    from edgemem.distill.run import distill
    from edgemem.output.denoise import DenoiseProgress, render_denoise_result

    progress = DenoiseProgress(out)
    try:
        result = distill(settings, progress)
    finally:
        progress.phase_end()
    if settings.json:
        out.emit_json(result.to_json())
    else:
        render_denoise_result(result, out)
    return ExitCode.OK if result.fits else ExitCode.OVER_BUDGET
