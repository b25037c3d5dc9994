"""``edgemem distill``: a student that fits a memory budget, distilled from a teacher (implemented in
edgemem.distill.run). Flags override the ``--config`` file; every flag has a key of the same
name there (dashes become underscores)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from edgemem.cli.app import app, handles_errors


@app.command(help="Derive a student that fits --budget (peak activation memory at --precision), distill it from the "
                  "teacher (trained first when no --teacher-weights are given), export student.onnx and report "
                  "accuracy and memory. Exit 3 when no student can fit or the trained student misses the budget.")
@handles_errors
def distill(
    task: Optional[str] = typer.Option(None, "--task", help="classify (default) or denoise (a DDPM noise predictor: --teacher ddpm-unet-small, ...)."),
    student_arch: Optional[str] = typer.Option(None, "--student-arch", help="Derive students of this zoo name or factory instead of the teacher's architecture (e.g. a vit-mini student of a resnet20 teacher)."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Memory budget, e.g. 64KiB (2^10) or 256MB (10^6): the student's arena must fit."),
    budget_scope: Optional[str] = typer.Option(None, "--budget-scope", help="What the budget covers: activations (default) or total (activations + weights)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="Count activations at fp32 (default), fp16 or int8."),
    weights_budget: Optional[str] = typer.Option(None, "--weights-budget", help="A separate budget for the weights (drives cheap convolutions)."),
    teacher: Optional[str] = typer.Option(None, "--teacher", help="Zoo name (e.g. resnet20, wrn-40-2, resnet1d) or package.module:factory."),
    teacher_weights: Optional[Path] = typer.Option(None, "--teacher-weights", help="Teacher state dict or checkpoint; without it the teacher is trained first (cached)."),
    teacher_epochs: Optional[int] = typer.Option(None, "--teacher-epochs", help="Epochs of the teacher's own training (default 30)."),
    teacher_cache: Optional[Path] = typer.Option(None, "--teacher-cache", help="Folder of the trained-teacher cache (default: OUT/teacher)."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="digits, mnist1d (generated locally), cifar10 or folder."),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="cifar10: a cifar-10-batches-py folder or an .npz; folder: ROOT with train/ and test/."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs of each student (default 30)."),
    method: Optional[str] = typer.Option(None, "--method", help="auto (RED+KD when the student has RED pairs, else KD), ce, kd, red, red_kd, at, kd_at, hint, online, blockwise."),
    workers: Optional[int] = typer.Option(None, "--workers", help="blockwise: worker processes on this machine; more than 1 starts torchrun (under your own torchrun, its process count decides)."),
    blocks: Optional[str] = typer.Option(None, "--blocks", help="blockwise: conv (every dense k x k convolution, default) or residual (every residual block)."),
    replacement: Optional[str] = typer.Option(None, "--replacement", help="blockwise: separable (the paper's depthwise-separable pair, default) or a cheap conv (DW, G(4), B(2), dw, shift ...)."),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML run config; flags given here override it."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run in --out from its last complete epoch."),
    baseline: bool = typer.Option(False, "--baseline", help="Also train the student without a teacher (CE only) for comparison."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Train a family for the memory-accuracy curve: k=1,2,4,8 (pool factors) or width=0.5,1."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder: student.onnx, student.pt, report.json, report.png, checkpoints (default ./edgemem-distill)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Where to draw the memory-accuracy plot (.png or .svg; default OUT/report.png)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (schema edgemem.distill_result/1) on stdout."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of initialisation, batch order and augmentation (default 0)."),
) -> int:
    from edgemem.distill.config import DistillConfig, apply_overrides, load_config
    from edgemem.output import Output

    from edgemem.errors import UsageError
    from edgemem.output.distill import PLOT_FORMATS

    base = load_config(config) if config is not None else DistillConfig()
    flags = {"task": task, "student_arch": student_arch, "budget": budget, "budget_scope": budget_scope, "precision": precision, "weights_budget": weights_budget,
             "teacher": teacher, "teacher_weights": _text(teacher_weights), "teacher_epochs": teacher_epochs,
             "teacher_cache": _text(teacher_cache), "dataset": dataset, "data_path": _text(data_path), "epochs": epochs,
             "method": method, "resume": resume or None, "baseline": baseline or None, "sweep": sweep, "out": _text(out),
             "json": json_out or None, "seed": seed, "plot": _text(plot),
             "workers": workers, "blocks": blocks, "replacement": replacement}
    settings = apply_overrides(base, flags)
    if settings.plot and Path(settings.plot).suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"plot {settings.plot}: unknown format {Path(settings.plot).suffix or '(none)'}",
                         hint="use a .png or .svg file name")
    out_ = Output(json_mode=settings.json)
    if settings.task == "denoise" or settings.method == "blockwise":  # their own runs: cli/denoise.py, cli/blockwise.py
        from edgemem.cli import blockwise, denoise

        return (denoise.run_denoise if settings.task == "denoise" else blockwise.run_blockwise)(settings, out_)

    from edgemem.distill.run import distill as run_distill
    from edgemem.output.distill import DistillProgress

    progress = DistillProgress(out_)
    try:
        result = run_distill(settings, progress)
    finally:
        progress.phase_end()
    return finish(result, settings, out_)


def finish(result, settings, out_) -> int:
    """Draw the plot, write report.json, print the table or the --json document; the result's exit code."""
    from dataclasses import replace

    from edgemem.distill.run import write_report
    from edgemem.errors import ExitCode
    from edgemem.output.distill import render_distill_result, write_distill_plot

    plot_path = Path(settings.plot) if settings.plot else settings.out_dir / "report.png"
    with out_.status(f"drawing {plot_path}"):
        result = replace(result, plot_path=str(write_distill_plot(result, plot_path)))
    write_report(result)
    if settings.json:
        out_.emit_json(result.to_json())
    else:
        render_distill_result(result, out_)
    return ExitCode.OK if result.fits else ExitCode.OVER_BUDGET


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)
