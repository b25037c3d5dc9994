"""``edgemem verify MODEL.onnx --host H|local --budget SIZE``: compile, measure and judge in one step.

The runtime-aware prediction (edgemem.memory.runtime) next to the median of fresh measuring
processes on the device (the bench agent's worker for the runtime), part by part, with a reason
for every gap over 10% and one verdict against the budget (edgemem.budget). Exit 0 fits, 3 over
(or not fully measured: partial), 1 errors, 2 usage.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgemem.bench.fleet import SshDefaults, target_for
from edgemem.bench.run import RunPolicy, Target
from edgemem.bench.stop import StopRequest, stop_on_signals
from edgemem.budget import Precision, Scope
from edgemem.cli import bench_options as opt
from edgemem.cli import params
from edgemem.cli.choices import Backend, ExecutionOrder, TrtMode
from edgemem.cli.errors import handles_errors
from edgemem.errors import EdgememError, ModelLoadError, UsageError
from edgemem.output import Output
from edgemem.output.verify import render_verify
from edgemem.output.verify_html import write_report
from edgemem.verify.request import VerifyRequest

HELP = ("Compile and run an ONNX model on a device (or --host local), measure it in fresh processes and judge it "
        "against a budget, next to the runtime-aware prediction. Exit 3 when it does not fit.")

Budget = Annotated[Optional[int], typer.Option("--budget", metavar="SIZE", parser=params.budget_size, help="Memory budget, e.g. 256MB or 256MiB (default: the profile's).")]
BudgetScope = Annotated[Scope, typer.Option("--budget-scope", case_sensitive=False, help="What the budget covers (default process: the whole measured process).")]
BackendOpt = Annotated[Optional[Backend], typer.Option("--backend", case_sensitive=False, help="Runtime (default onnxruntime, or the profile's).")]
PrecisionOpt = Annotated[Optional[Precision], typer.Option("--precision", case_sensitive=False, help="TensorRT build precision (default the profile's, else fp16).")]
Profile = Annotated[Optional[str], typer.Option("--profile", metavar="DEVICE", help="Device profile (profiles/*.toml): backend, budget, measured runtime baseline.")]
Threads = Annotated[int, typer.Option("--threads", min=1, help="ONNX Runtime intra-op threads (each takes its own scratch).")]
Order = Annotated[ExecutionOrder, typer.Option("--order", case_sensitive=False, help="ONNX Runtime execution order: the file's (priority) or its own (default).")]
Repeats = Annotated[int, typer.Option("--repeats", min=1, max=20, help="Fresh measuring processes (median and spread).")]
Runs = Annotated[int, typer.Option("--runs", min=1, help="Inferences per measuring process.")]
InputShape = Annotated[Optional[List[str]], typer.Option("--input-shape", metavar="NAME=1x3x224x224", parser=params.shape_binding, help="Bind a graph input's shape (repeatable).")]
Dim = Annotated[Optional[List[str]], typer.Option("--dim", metavar="SYMBOL=N", parser=params.dim_binding, help="Bind a symbolic dimension (repeatable).")]
Recalibrate = Annotated[bool, typer.Option("--recalibrate", help="Measure the runtime baseline again (not the cached calibration).")]
Report = Annotated[Optional[Path], typer.Option("--report", metavar="FILE.html", help="Write an HTML report (works offline).")]
Logs = Annotated[Optional[Path], typer.Option("--logs", metavar="DIR", help="Keep the device's raw logs in DIR (default: removed).")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document (schema edgemem.verify_report/1) on stdout.")]


@dataclass(frozen=True)
class Device:
    """Where verify measures: the target, its tools, timeout and run policy."""

    target: Target
    tools: dict
    timeout_s: float
    policy: RunPolicy


@handles_errors
def verify(
    model: Annotated[Path, typer.Argument(metavar="MODEL.onnx", help="The .onnx model.")],
    budget: Budget = None,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="user@host, an ssh-config alias, or local (this machine).")] = "local",
    budget_scope: BudgetScope = Scope.PROCESS,
    backend: BackendOpt = None,
    profile: Profile = None,
    precision: PrecisionOpt = None,
    threads: Threads = 1,
    order: Order = ExecutionOrder("priority"),
    repeats: Repeats = 3,
    runs: Runs = 5,
    input_shape: InputShape = None,
    dim: Dim = None,
    trt_mode: opt.TrtModeOpt = TrtMode("trtexec"),
    workspace: opt.Workspace = None,
    trtexec: opt.Trtexec = None,
    tvm_target: opt.TvmTarget = "llvm",
    tvm_cc: opt.TvmCc = None,
    recalibrate: Recalibrate = False,
    timeout: opt.Timeout = 1800.0,
    lock_wait: opt.LockWait = 0.0,
    port: opt.Port = None, identity: opt.Identity = None, ssh_config: opt.SshConfig = None, known_hosts: opt.KnownHosts = None,
    fingerprint: opt.Fingerprint = None, trust_on_first_use: opt.TrustOnFirstUse = False, connect_timeout: opt.ConnectTimeout = 10.0,
    remote_python: opt.RemotePython = None, remote_dir: opt.RemoteDir = None,
    report: Report = None,
    logs: Logs = None,
    json_out: Json = False,
) -> int:
    out = Output(json_mode=json_out)
    if not model.is_file():
        raise ModelLoadError(f"{model}: no such file")
    params.output_file(report, "--report")
    defaults = opt.profile_defaults(profile, backend, precision, budget, workspace)
    if defaults.budget_bytes is None:
        raise UsageError("verify needs a budget", hint="pass --budget SIZE (or a --profile that has one)")
    chosen = defaults.precision if (precision or profile) else Precision.FP16
    request = VerifyRequest(model, host, defaults.budget_bytes, budget_scope, defaults.backend, profile, threads=threads,
                            execution_order=ExecutionOrder(order).value, repeats=repeats, runs=runs,
                            input_shapes=params.bindings(input_shape, "--input-shape"), dims=params.bindings(dim, "--dim"),
                            tvm_target=tvm_target, tvm_cc=tvm_cc, precision=chosen.value, trt_mode=TrtMode(trt_mode).value,
                            workspace_bytes=defaults.workspace_bytes, recalibrate=recalibrate)
    ssh = opt.ssh_defaults(port, identity, ssh_config, known_hosts, fingerprint, trust_on_first_use, connect_timeout,
                           remote_python, remote_dir, defaults)
    device = Device(target_for(host, ssh), {"trtexec": trtexec} if trtexec else {}, timeout, opt.run_policy(lock_wait, 30.0))
    result = run_verify(request, device, logs, out)
    render_verify(result, out)
    if report is not None:
        write_report(result, report)
        out.info(f"report written to {report}")
    return int(result.verdict.exit_code)


def run_verify(request: VerifyRequest, device: Device, logs: Path | None, out: Output):
    """The pipeline under a stop request (Ctrl-C cancels the device's run), raw logs kept or removed."""
    from edgemem.verify.device import Measuring
    from edgemem.verify.run import verify as verify_model

    root = logs if logs is not None else Path(tempfile.mkdtemp(prefix="edgemem-verify-logs-"))
    stop = StopRequest()
    measuring = Measuring(device.target, request.repeats, request.runs, device.timeout_s, device.policy, None, stop, root,
                          device.tools)
    where = "this machine" if request.local else request.host
    try:
        with stop_on_signals(stop), out.status(f"verifying {request.model.name} with {request.backend} on {where}"):
            return verify_model(request, measuring)
    finally:
        if logs is None:
            shutil.rmtree(root, ignore_errors=True)


def verify_student(model: Path, host: str, backend: str, budget_bytes: int, scope: Scope, out: Output) -> dict:
    """``distill --verify-on``: the student verified on ``host``; a failure to verify is a verdict too
    (status "error", never a pass), so the distilled student is still reported and saved."""
    from edgemem.verify.report import summary

    try:
        request = VerifyRequest(model, host, budget_bytes, scope, backend)
        device = Device(target_for(host, SshDefaults()), {}, 1800.0, RunPolicy())
        return summary(run_verify(request, device, None, out))
    except EdgememError as exc:
        return {"schema": "edgemem.verify_report/1", "model": str(model), "host": host, "backend": backend,
                "verdict": {"status": "error", "reason": exc.one_line(), "exit_code": int(exc.exit_code)}}
