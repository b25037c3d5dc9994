"""``edgemem distill``: a student that fits a memory budget, distilled from a teacher (the library
call is edgemem.distill.run.distill). Flags override the ``--config`` file; every flag has a key of
the same name there (dashes become underscores). A bad flag value is a usage error (exit 2); a bad
config file is a config error (exit 1).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemem.budget import Precision, Scope
from edgemem.cli import params
from edgemem.cli.choices import Backend, Blocks, Dataset, Method
from edgemem.cli.errors import handles_errors
from edgemem.distill.common import write_report
from edgemem.distill.config import DistillConfig, apply_overrides, load_config
from edgemem.distill.result import DistillResult
from edgemem.distill.run import distill as run_distill
from edgemem.errors import ExitCode, UsageError
from edgemem.output import Output
from edgemem.output.blockwise import BlockwiseDisplay
from edgemem.output.distill import PLOT_FORMATS, render_distill_result, write_distill_plot
from edgemem.output.training import DistillProgress

HELP = ("Derive a student that fits --budget (peak activation memory at --precision), distill it from the teacher "
        "(trained first when no --teacher-weights are given), export student.onnx and report accuracy and memory. "
        "The budget search runs before any training. Exit 3 when no student can fit or the trained student misses "
        "the budget.")

@handles_errors
def distill(
    budget: Annotated[Optional[int], typer.Option("--budget", metavar="SIZE", parser=params.budget_size, help="Memory budget, e.g. 64KiB (2^10) or 256MB (10^6): the student's arena must fit.")] = None,
    budget_scope: Annotated[Optional[Scope], typer.Option("--budget-scope", case_sensitive=False, help="What the budget covers: activations (default), weights, or model (activations + weights). Needs a budget.")] = None,
    precision: Annotated[Optional[Precision], typer.Option("--precision", case_sensitive=False, help="Count activations at this width (default fp32).")] = None,
    weights_budget: Annotated[Optional[int], typer.Option("--weights-budget", metavar="SIZE", parser=params.budget_size, help="A separate budget for the weights (drives cheap convolutions).")] = None,
    teacher: Annotated[Optional[str], typer.Option("--teacher", metavar="NAME", help="Zoo name (e.g. resnet20, wrn-40-2, resnet1d) or package.module:factory.")] = None,
    teacher_weights: Annotated[Optional[Path], typer.Option("--teacher-weights", metavar="FILE", help="Teacher state dict or checkpoint; without it the teacher is trained first (cached).")] = None,
    teacher_epochs: Annotated[Optional[int], typer.Option("--teacher-epochs", metavar="N", min=1, help="Epochs of the teacher's own training (default 30).")] = None,
    teacher_cache: Annotated[Optional[Path], typer.Option("--teacher-cache", metavar="DIR", help="Folder of the trained-teacher cache (default: OUT/teacher).")] = None,
    dataset: Annotated[Optional[Dataset], typer.Option("--dataset", case_sensitive=False, help="digits and mnist1d are generated locally; cifar10 and folder read --data-path.")] = None,
    data_path: Annotated[Optional[Path], typer.Option("--data-path", metavar="PATH", help="cifar10: a cifar-10-batches-py folder or an .npz; folder: ROOT with train/ and test/.")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", min=1, help="Training epochs of each student (default 30).")] = None,
    method: Annotated[Optional[Method], typer.Option("--method", case_sensitive=False, help="auto: RED+KD when the student has RED pairs, else KD.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", metavar="N", min=1, help="blockwise: worker processes on this machine; more than 1 starts torchrun (under your own torchrun, its process count decides).")] = None,
    blocks: Annotated[Optional[Blocks], typer.Option("--blocks", case_sensitive=False, help="blockwise: every dense k x k convolution (conv, default) or every residual block.")] = None,
    replacement: Annotated[Optional[str], typer.Option("--replacement", metavar="NAME", help="blockwise: separable (the paper's depthwise-separable pair, default) or a cheap conv (DW, G(4), B(2), dw, shift ...).")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", metavar="RUN.toml", help="TOML run config; flags given here override it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue a killed run in --out from its last complete epoch.")] = False,
    baseline: Annotated[bool, typer.Option("--baseline", help="Also train the student without a teacher (CE only) for comparison.")] = False,
    sweep: Annotated[Optional[str], typer.Option("--sweep", metavar="k=1,2,4|width=0.5,1", help="Train a family for the memory-accuracy curve: pool factors or widths.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Output folder: student.onnx, student.pt, report.json, report.png, checkpoints (default ./edgemem-distill).")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE", help="Where to draw the memory-accuracy plot (.png or .svg; default OUT/report.png).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema edgemem.distill_result/1) on stdout.")] = False,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", min=0, help="Seed of initialisation, batch order and augmentation (default 0).")] = None,
    verify_on: Annotated[Optional[str], typer.Option("--verify-on", metavar="HOST|local", help="Verify the student on this device (edgemem verify, against --budget); a student the device does not confirm is reported as failed.")] = None,
    verify_backend: Annotated[Optional[Backend], typer.Option("--verify-backend", case_sensitive=False, help="Runtime for --verify-on (default onnxruntime).")] = None,
) -> int:
    flags = {"budget": budget, "budget_scope": budget_scope, "precision": precision, "weights_budget": weights_budget,
             "teacher": teacher, "teacher_weights": _text(teacher_weights), "teacher_epochs": teacher_epochs,
             "teacher_cache": _text(teacher_cache), "dataset": _value(dataset), "data_path": _text(data_path),
             "epochs": epochs, "method": _value(method), "resume": resume or None, "baseline": baseline or None,
             "sweep": sweep, "out": _text(out), "json": json_out or None, "seed": seed, "plot": _text(plot),
             "workers": workers, "blocks": _value(blocks), "replacement": replacement, "verify_on": verify_on,
             "verify_backend": _value(verify_backend)}
    settings = apply_overrides(load_config(config) if config is not None else DistillConfig(), flags)
    check_flags(settings, budget_scope)
    out_ = Output(json_mode=settings.json)
    progress = BlockwiseDisplay(out_) if settings.method == "blockwise" else DistillProgress(out_)
    try:
        result = run_distill(settings, progress)
    finally:
        if isinstance(progress, BlockwiseDisplay):
            progress.blocks_finished()
        progress.phase_end()
    if result is None:  # a blockwise torchrun worker other than rank 0: rank 0 reports
        return ExitCode.OK
    return finish(result, settings, out_)


def check_flags(settings: DistillConfig, budget_scope: Scope | None) -> None:
    """What the flags say together, and where the run writes, checked before any work."""
    if budget_scope is not None and settings.budget_bytes is None:
        raise UsageError("--budget-scope says what a budget covers, and no --budget (flag or config) was given")
    if settings.budget_scope is Scope.PROCESS:
        raise UsageError("budget scope process: the analyzer knows no runtime baseline",
                         hint="use activations, weights or model; measure the process with edgemem bench")
    if settings.verify_on and settings.budget_bytes is None:
        raise UsageError("--verify-on checks the student against the budget, and no --budget (flag or config) was given")
    params.output_dir(settings.out_dir, "--out")
    if settings.plot:
        plot = params.output_file(Path(settings.plot), "--plot")
        if plot.suffix.lower() not in PLOT_FORMATS:
            raise UsageError(f"plot {plot}: unknown format {plot.suffix or '(none)'}", hint="use a .png or .svg file name")


def finish(result: DistillResult, settings: DistillConfig, out_: Output) -> int:
    """Draw the plot, write report.json, print the table or the --json document; the result's exit code."""
    plot_path = Path(settings.plot) if settings.plot else settings.out_dir / "report.png"
    with out_.status(f"drawing {plot_path}"):
        result = replace(result, plot_path=str(write_distill_plot(result, plot_path)))
    if settings.verify_on:
        result = replace(result, device=on_device(result, settings, out_))
    write_report(result)
    if settings.json:
        out_.emit_json(result.to_json())
    else:
        render_distill_result(result, out_)
    if ((result.device or {}).get("verdict") or {}).get("status") == "error":
        return ExitCode.ERROR  # the student is saved and reported; verifying it failed
    return ExitCode.OK if result.fits else ExitCode.OVER_BUDGET


def on_device(result: DistillResult, settings: DistillConfig, out_: Output) -> dict:
    """--verify-on: the exported student verified on the device against the run's budget."""
    from edgemem.cli.verify import verify_student

    student = result.student
    if student is None or not student.onnx_path:
        return {"host": settings.verify_on, "verdict": {"status": "error", "reason": "no student was exported to verify"}}
    return verify_student(Path(student.onnx_path), settings.verify_on, settings.verify_backend, settings.budget_bytes,
                          settings.budget_scope, out_)


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _value(choice) -> str | None:
    return None if choice is None else choice.value
