"""``edgemem verify MODEL.onnx --budget SIZE``: analyze, compile, predict, measure, one verdict.

The runtime-aware prediction (edgemem.memory.runtime) next to the median of fresh measuring
processes (edgemem.verify), part by part, with a reason for every gap over 10% and one verdict
against the budget (edgemem.budget). Exit 0 fits, 3 over (or not fully measured), 1 errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgemem.budget import Scope
from edgemem.cli import params
from edgemem.cli.choices import Backend
from edgemem.cli.errors import handles_errors
from edgemem.errors import ModelLoadError, UsageError
from edgemem.output import Output
from edgemem.output.verify import render_verify
from edgemem.output.verify_html import write_report
from edgemem.verify.request import VerifyRequest

HELP = ("Compile and run an ONNX model on a device (or --host local), measure it in fresh processes and judge it "
        "against a budget, next to the runtime-aware prediction. Exit 3 when it does not fit.")


@handles_errors
def verify(
    model: Annotated[Path, typer.Argument(metavar="MODEL.onnx", help="The .onnx model.")],
    budget: Annotated[int, typer.Option("--budget", metavar="SIZE", parser=params.budget_size, help="Memory budget, e.g. 256MB or 256MiB.")],
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="user@host, an ssh-config alias, or local (this machine).")] = "local",
    budget_scope: Annotated[Scope, typer.Option("--budget-scope", case_sensitive=False, help="What the budget covers (default process: the whole measured process).")] = Scope.PROCESS,
    backend: Annotated[Backend, typer.Option("--backend", case_sensitive=False, help="Runtime (default onnxruntime).")] = Backend("onnxruntime"),
    profile: Annotated[Optional[str], typer.Option("--profile", metavar="DEVICE", help="Device profile (profiles/*.toml): its measured runtime baseline.")] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, help="ONNX Runtime intra-op threads (each takes its own scratch).")] = 1,
    order: Annotated[str, typer.Option("--order", metavar="priority|default", help="ONNX Runtime execution order: the file's (priority) or its own (default).")] = "priority",
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Fresh measuring processes (median and spread).")] = 3,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Inferences per measuring process.")] = 5,
    input_shape: Annotated[Optional[List[str]], typer.Option("--input-shape", metavar="NAME=1x3x224x224", parser=params.shape_binding, help="Bind a graph input's shape (repeatable).")] = None,
    dim: Annotated[Optional[List[str]], typer.Option("--dim", metavar="SYMBOL=N", parser=params.dim_binding, help="Bind a symbolic dimension (repeatable).")] = None,
    tvm_target: Annotated[str, typer.Option("--tvm-target", metavar="TARGET", help="TVM target to compile for.")] = "llvm",
    report: Annotated[Optional[Path], typer.Option("--report", metavar="FILE.html", help="Write an HTML report (works offline).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema edgemem.verify_report/1) on stdout.")] = False,
) -> int:
    out = Output(json_mode=json_out)
    if not model.is_file():
        raise ModelLoadError(f"{model}: no such file")
    params.output_file(report, "--report")
    request = VerifyRequest(model, host, budget, budget_scope, backend.value, profile, threads, order, repeats, runs,
                            params.bindings(input_shape, "--input-shape"), params.bindings(dim, "--dim"), tvm_target)
    if not request.local:
        raise UsageError(f"--host {host}: verify over SSH runs through the bench agent", hint="use --host local here")
    from edgemem.verify.run import verify_local

    with out.status(f"verifying {model.name} with {request.backend} on this machine"):
        result = verify_local(request)
    render_verify(result, out)
    if report is not None:
        write_report(result, report)
        out.info(f"report written to {report}")
    return int(result.verdict.exit_code)
