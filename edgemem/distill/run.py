"""``distill(config, progress) -> DistillResult``: one ``edgemem distill`` run, the one place where
the run is chosen.

1. Check the config can lead anywhere; open the run (output folder, dataset; nothing downloaded).
2. The standard methods: the student is decided FIRST, before any training: forced by
   ``[student]``, or the least aggressive one that fits ``--budget`` (``students/search.py``, on
   the teacher's architecture with fresh weights: memory does not depend on the weights). When
   nothing fits, NoStudentFits (exit 3) comes before the teacher trains. Then ``standard.py``:
   teacher (loaded, or trained and cached), student, ``--baseline``, ``--sweep``; every model
   exported to ONNX, checked under ONNX Runtime and analyzed with the budget (the analyzer's
   verdict is the result's).
3. ``--method blockwise``: ``blockwise/run.py`` (its own torchrun launch for ``--workers N``).
4. ``--task denoise``: ``denoise/run.py`` (a DDPM noise predictor and its pooled student; its own
   result, ``DenoiseResult``).

Every training phase checkpoints after each epoch into its own folder under ``--out``;
``--resume`` continues each from its last complete epoch (finished phases are not retrained).

``--budget`` hops (distill): cli/distill parses it into ``DistillConfig.budget`` -> ``distill`` ->
``students.search.search_student`` -> ``distill.budget`` (``measure_memory``/``analyze_graph``) ->
``memory.analyze.analyze``, where ``edgemem.budget.check_budget`` compares; the verdict travels
back only as data (``ModelMemory.budget``).
"""

from __future__ import annotations

import time
from dataclasses import replace

from edgemem.distill.blockwise.entry import distill_blockwise
from edgemem.distill.common import (Context, SilentProgress, check_nothing_to_distill, open_run, prepare_teacher,
                                    run_training, summarize, untrained_teacher, versions, write_report)
from edgemem.distill.config import DistillConfig
from edgemem.distill.recipe import resolve_stem, trains_red
from edgemem.distill.result import DistillResult
from edgemem.distill.standard import (build_student, export_student, resolve_method, run_standard, run_sweep, student_init,
                                      train_student)
from edgemem.distill.students.spec import StudentSpec

BLOCKWISE = "blockwise"
DENOISE = "denoise"

__all__ = ["distill", "choose_spec", "Context", "SilentProgress", "prepare_teacher", "run_training", "summarize",
           "versions", "write_report", "build_student", "export_student", "resolve_method", "run_sweep", "train_student",
           "student_init"]


def distill(config: DistillConfig, progress=None) -> DistillResult | None:
    """Run ``config`` and return its result (None on a blockwise worker other than rank 0; a DenoiseResult
    for ``--task denoise``); ``report.json`` is written to ``config.out``."""
    progress = progress or SilentProgress()
    if config.task == DENOISE:
        from edgemem.distill.denoise.run import distill_denoise  # torch

        return distill_denoise(config, progress)
    if config.method == BLOCKWISE:  # blocks trained on torchrun workers, then a DDP fine-tune
        return distill_blockwise(config, progress)
    started = time.perf_counter()
    check_nothing_to_distill(config)
    ctx = open_run(config, progress)
    progress.note(ctx.dataset.describe())
    spec = choose_spec(ctx)
    return run_standard(ctx, spec, started)


def choose_spec(ctx: Context) -> StudentSpec | None:
    """The StudentSpec to train: forced by [student], else the budget search's pick, else None (sweep only)."""
    s, config = ctx.config.student, ctx.config
    if s.forced:
        return StudentSpec(s.pool_factor or 1, s.conv or "standard", s.width or 1.0, s.red, resolve_stem(s.stem))
    if config.budget is None:
        return None
    from edgemem.distill.students.search import search_student  # torch

    ctx.progress.note("searching the least aggressive student that fits the budget (before any training)")
    space = {name: getattr(s, name) for name in ("pool_factors", "convs", "widths") if getattr(s, name) is not None}
    from edgemem.distill.students.arch import student_source

    base = student_source(config, None, ctx.dataset.num_classes, ctx.dataset.in_channels)
    found = search_student(base or untrained_teacher(ctx), ctx.input_shape, config.budget, config.precision,
                           weights_budget=config.weights_budget, red=s.red and trains_red(config.method), **space)
    spec = replace(found.spec, stem=resolve_stem(s.stem)) if found.spec.pool_factor > 1 else found.spec
    ctx.note(f"budget search picked: {spec.label()}")
    return spec
