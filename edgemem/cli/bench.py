"""``edgemem bench MODEL.onnx --host user@jetson``: real peak memory and latency on a device.

Also ``--host local`` (this machine, no SSH), ``--hosts a,b`` / ``--inventory FILE`` (a fleet,
one table) and ``--compare`` (the stored history). The flags come in groups (bench_options.py);
the analyzer's prediction for the same model and precision is made here (bench never imports
memory) and joined with the measurement and the budget by edgemem.bench.report.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgemem.bench.backends import get_backend
from edgemem.bench.compare import history_rows
from edgemem.bench.errors import AgentError
from edgemem.bench.fleet import attach, run_fleet
from edgemem.bench.protocol import ERROR_MEANING
from edgemem.bench.report import DevicePlan, FleetReport, report_devices
from edgemem.bench.request import BenchRequest
from edgemem.bench.run import sha256_file
from edgemem.bench.stop import StopRequest
from edgemem.bench.store import load_reports
from edgemem.bench.verdict import Prediction
from edgemem.budget import Budget, Precision, Scope
from edgemem.cli import bench_options as opt
from edgemem.cli import params
from edgemem.cli.choices import Backend
from edgemem.cli.errors import handles_errors
from edgemem.errors import BenchError, ConfigError, EdgememError, ExitCode, ModelLoadError, UsageError
from edgemem.graph import LoadOptions, load_graph
from edgemem.graph.load import load_model
from edgemem.memory.analyze import AnalyzeOptions, analyze
from edgemem.memory.convention import Convention
from edgemem.output import Output, print_error
from edgemem.output.bench import bench_progress, render_fleet, render_history, render_report

HELP = ("Measure peak memory and latency of an ONNX model on a device over SSH (or --host local), next to the "
        "analyzer's prediction and a budget. Exit 3 when a measured run exceeds the budget.")


@handles_errors
def bench(
    model: Annotated[Optional[Path], typer.Argument(metavar="[MODEL.onnx]", help="The .onnx model (with --compare: an .onnx to filter by, or result files/folders).")] = None,
    host: Annotated[str, typer.Option("--host", metavar="HOST", help="user@host, an ssh-config alias, or local (this machine, no SSH).")] = "local",
    hosts: Annotated[Optional[List[str]], typer.Option("--hosts", metavar="HOST,...", help="Several hosts, comma-separated: run concurrently, one table.")] = None,
    inventory: Annotated[Optional[Path], typer.Option("--inventory", metavar="FILE", help="Fleet inventory TOML (see docs/bench.md).")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Tabulate stored results instead of running.")] = False,
    backend: Annotated[Optional[Backend], typer.Option("--backend", case_sensitive=False, help="Runtime on the device (default onnxruntime).")] = None,
    precision: Annotated[Optional[Precision], typer.Option("--precision", case_sensitive=False, help="Default fp32; fp16 and int8 need TensorRT (or ORT's TensorRT provider).")] = None,
    budget: Annotated[Optional[int], typer.Option("--budget", metavar="SIZE", parser=params.budget_size, help="Memory budget, e.g. 256MB or 256MiB. Exit 3 when exceeded.")] = None,
    budget_scope: Annotated[Optional[Scope], typer.Option("--budget-scope", "--budget-metric", case_sensitive=False, help="What the budget covers (default: process where measured, else model = weights + activations).")] = None,
    profile: Annotated[Optional[str], typer.Option("--profile", metavar="DEVICE", help="Device profile (profiles/*.toml): budget and flags.")] = None,
    input_shape: Annotated[Optional[List[str]], typer.Option("--input-shape", metavar="NAME=1x3x224x224", parser=params.shape_binding, help="Bind a graph input's shape (repeatable).")] = None,
    dim: Annotated[Optional[List[str]], typer.Option("--dim", metavar="SYMBOL=N", parser=params.dim_binding, help="Bind a symbolic dimension (repeatable).")] = None,
    warmup: opt.Warmup = "0.5s", warmup_runs: opt.WarmupRuns = 10, duration: opt.Duration = "3s", runs: opt.Runs = 50,
    max_runs: opt.MaxRuns = 10000, timeout: opt.Timeout = "10m", memory_limit: opt.MemoryLimit = None,
    sample_interval: opt.SampleInterval = "20ms", baseline: opt.Baseline = "1s",
    tegrastats: Annotated[bool, typer.Option("--tegrastats/--no-tegrastats", help="Run tegrastats alongside where present.")] = True,
    lock_clocks: Annotated[bool, typer.Option("--lock-clocks", help="jetson_clocks for the run, restored afterwards (needs root or sudo -n).")] = False,
    ort_provider: opt.OrtProviders = None, threads: opt.Threads = 0, cpu_arena: opt.CpuArena = True,
    trt_mode: opt.TrtModeOpt = "trtexec", workspace: opt.Workspace = None, engine_cache: opt.EngineCache = True,
    tvm_target: opt.TvmTarget = "llvm", tvm_cc: opt.TvmCc = None, trtexec: opt.Trtexec = None,
    tegrastats_path: Annotated[Optional[str], typer.Option("--tegrastats-path", metavar="PATH", help="Path of tegrastats on the device.")] = None,
    port: opt.Port = None, identity: opt.Identity = None, ssh_config: opt.SshConfig = None, known_hosts: opt.KnownHosts = None,
    fingerprint: opt.Fingerprint = None, trust_on_first_use: opt.TrustOnFirstUse = False, connect_timeout: opt.ConnectTimeout = "10s",
    remote_python: opt.RemotePython = None, remote_dir: opt.RemoteDir = None,
    results_dir: Annotated[Path, typer.Option("--results-dir", metavar="DIR", envvar="EDGEMEM_RESULTS_DIR", help="Where results are stored.")] = Path("results"),
    save: Annotated[bool, typer.Option("--save/--no-save", help="Store the result JSON and raw logs.")] = True,
    predict: Annotated[bool, typer.Option("--predict/--no-predict", help="Run the analyzer for the predicted activation peak.")] = True,
    parallel: Annotated[int, typer.Option("--parallel", metavar="N", min=1, help="Devices measured at once in a fleet.")] = 8,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema edgemem.bench_report/1, fleet/history variants) on stdout.")] = False,
    attach: opt.Attach = None, lock_wait: opt.LockWait = "0s", reconnect: opt.Reconnect = "2m",
) -> int:
    out = Output(json_mode=json_out)
    if compare:
        return history(model, results_dir, out)
    defaults = opt.profile_defaults(profile, backend, precision, budget, workspace)
    if budget_scope is not None and defaults.budget_bytes is None:
        raise UsageError("--budget-scope says what a budget covers, and no --budget (or --profile) was given")
    ssh = opt.ssh_defaults(port, identity, ssh_config, known_hosts, fingerprint, trust_on_first_use, connect_timeout,
                           remote_python, remote_dir, defaults)
    if attach is not None:
        return attach_run(attach, host, bool(hosts or inventory), ssh, model if predict else None, DevicePlan(
            budget_for(defaults, budget_scope), defaults.profile), results_dir if save else None, out, opt.run_policy(lock_wait, reconnect))
    check_model(model)
    entries = opt.fleet_entries(host, tuple(h.strip() for h in ",".join(hosts or ()).split(",") if h.strip()), inventory, ssh)
    request = BenchRequest(
        model=model, backend=defaults.backend, precision=defaults.precision,
        input_shapes=params.bindings(input_shape, "--input-shape"), dims=params.bindings(dim, "--dim"),
        **opt.timing(warmup, warmup_runs, duration, runs, max_runs, timeout, memory_limit, sample_interval, baseline),
        tegrastats=tegrastats, tegrastats_interval_ms=defaults.tegrastats_interval_ms, lock_clocks=lock_clocks,
        options=opt.backend_options(ort_provider, threads, cpu_arena, trt_mode, defaults.workspace_bytes, engine_cache,
                                    tvm_target, tvm_cc),
        tools={k: v for k, v in (("trtexec", trtexec), ("tegrastats", tegrastats_path)) if v})
    chosen = {e.name: opt.profile_defaults(e.profile or profile, backend, precision, budget, workspace) for e in entries}
    requests, plans = device_plans(request, model if predict else None, chosen, budget_scope, out)
    stop = StopRequest()
    fleet = measure(entries, requests, plans, results_dir if save else None, parallel, out,
                    len(entries) > 1 or inventory is not None, stop, opt.run_policy(lock_wait, reconnect))
    return with_stop_exit(stop, lambda: emit(fleet, out))


def check_model(model: Path | None) -> None:
    if model is None:
        raise UsageError("missing MODEL", hint="edgemem bench model.onnx --host user@jetson (or --host local)")
    load_model(model)  # missing, a folder, empty, corrupt, weights missing: one line before any connection


def device_request(request: BenchRequest, d: opt.ProfileDefaults) -> BenchRequest:
    """The request one device gets: its profile's backend, precision and workspace (flags still win)."""
    options = dict(request.options)
    if d.workspace_bytes:
        options["workspace_bytes"] = d.workspace_bytes
    return replace(request, backend=d.backend, precision=d.precision, tegrastats_interval_ms=d.tegrastats_interval_ms,
                   options=options)


def budget_for(d: opt.ProfileDefaults, scope: Scope | None) -> Budget | None:
    return None if d.budget_bytes is None else Budget(d.budget_bytes, scope)


def device_plans(request: BenchRequest, model: Path | None, chosen: dict, scope: Scope | None, out: Output) -> tuple[dict, dict]:
    """Per device name: its request and its DevicePlan (prediction, one per distinct precision; budget; profile).
    ``chosen`` holds each device's ProfileDefaults: an inventory device's own profile wins over --profile,
    explicit flags over both."""
    predictions, requests, plans = {}, {}, {}
    for name, d in chosen.items():
        own = requests[name] = device_request(request, d)
        get_backend(own.backend).probe_modules(own)  # unknown backend or mode: a usage error before any connection
        key = (own.backend, own.precision, str(own.options.get("provider")))
        if model is not None and key not in predictions:
            predictions[key] = predict_for(model, own, out)
        plans[name] = DevicePlan(budget_for(d, scope), d.profile, predictions.get(key))
    return requests, plans


def measure(entries, requests: dict, plans: dict, results_dir: Path | None, parallel: int, out: Output, fleet: bool,
            stop: StopRequest, policy) -> FleetReport:
    """Run on every device (raw logs under results_dir/logs, or a temporary folder when nothing is saved)."""
    artifacts_root = (results_dir / "logs") if results_dir is not None else Path(tempfile.mkdtemp(prefix="edgemem-bench-logs-"))
    try:
        jobs = [(entry, replace(requests[entry.name], tools={**entry.tools, **requests[entry.name].tools})) for entry in entries]
        with bench_progress(out) as update:
            outcomes = run_fleet(jobs, artifacts_root, parallel, announcing(out, update), stop, policy)
        return report_devices(outcomes, None, None, None, results_dir, fleet, plans)
    finally:
        if results_dir is None:
            shutil.rmtree(artifacts_root, ignore_errors=True)


def attach_run(run_id: str, host: str, several: bool, ssh, model: Path | None, plan: DevicePlan, results_dir: Path | None,
               out: Output, policy) -> int:
    """--attach: follow a run already on the device to its result, then report and save it as usual."""
    if several:
        raise UsageError("--attach takes one --host (the device the run is on)")
    entry = opt.fleet_entries(host, (), None, ssh)[0]
    artifacts_root = (results_dir / "logs") if results_dir is not None else Path(tempfile.mkdtemp(prefix="edgemem-bench-logs-"))
    stop = StopRequest()
    try:
        with bench_progress(out) as update:
            outcome = attach(run_id, entry, artifacts_root, announcing(out, update), stop, policy)
        plan = replace(plan, prediction=prediction_for_run(model, outcome.result, out) if model is not None else None)
        return with_stop_exit(stop, lambda: emit(report_devices([outcome], None, None, None, results_dir, False,
                                                                {entry.name: plan}), out))
    finally:
        if results_dir is None:
            shutil.rmtree(artifacts_root, ignore_errors=True)


def prediction_for_run(model: Path, result, out: Output) -> Prediction | None:
    """The prediction for an attached run's model, precision and shapes (when MODEL is that run's model)."""
    if result is None:
        return None
    if not model.is_file():
        raise ModelLoadError(f"{model}: no such file")
    if sha256_file(model) != result.model.get("sha256"):
        return Prediction(note=f"{model.name} is not the model of run {result.run_id}; no prediction")
    inputs = (result.request or {}).get("inputs") or {}
    providers = ((result.request or {}).get("options") or {}).get("providers") or []
    request = BenchRequest(model=model, backend=result.backend, precision=result.precision,
                           input_shapes={k: tuple(v) for k, v in (inputs.get("shapes") or {}).items()},
                           dims=dict(inputs.get("dims") or {}),
                           options={"provider": "tensorrt" if "TensorrtExecutionProvider" in providers else "cpu"})
    return predict_for(model, request, out)


def with_stop_exit(stop: StopRequest, report) -> int:
    """The report's exit code, or 130 / 143 when Ctrl-C / SIGTERM stopped the bench (results saved first)."""
    try:
        code = report()
    except EdgememError as exc:
        if stop.exit_code:
            exc.exit_code = stop.exit_code
        raise
    return stop.exit_code or code


def announcing(out: Output, progress):
    """Progress updates; run ids, reconnects and cancels are also printed as lines on stderr."""
    def update(host: str, document: dict) -> None:
        if document.get("announce") and not out.quiet:
            out.err.print(document["announce"], markup=False, highlight=False, soft_wrap=True)
        progress(host, document)

    return update


def emit(fleet: FleetReport, out: Output) -> int:
    """Print the report (or its --json document); the exit code (1 failed, 3 over budget, 0)."""
    if not fleet.fleet:
        device = fleet.devices[0]
        if device.result is None:
            raise BenchError(device.error)
        out.emit_json(fleet.to_json()) if out.json_mode else render_report(device, out)
        if device.failed:
            error = device.result.error or {}
            code = error.get("code", "internal")
            raise AgentError(f"{device.name}: {code}: {error.get('message')}"
                             + (f" (partial result saved to {device.saved_to})" if device.saved_to else ""),
                             code, error.get("stage"), hint=ERROR_MEANING.get(code))
    else:
        out.emit_json(fleet.to_json()) if out.json_mode else render_fleet(fleet, out)
        for device in fleet.failed:
            print_error(f"{device.name}: {device.error or (device.result.error or {}).get('message')}")
        if fleet.failed:
            return ExitCode.ERROR
    return ExitCode.OVER_BUDGET if fleet.over_budget else ExitCode.OK


def history(source: Path | None, results_dir: Path, out: Output) -> int:
    """--compare: the stored runs as a table (or one JSON document)."""
    paths, model_sha = [results_dir], None
    if source is not None and source.suffix == ".onnx":
        if not source.is_file():
            raise ModelLoadError(f"{source}: no such file")
        model_sha = sha256_file(source)
    elif source is not None:
        paths = [source]
    if paths == [results_dir] and not results_dir.is_dir():
        raise ConfigError(f"--results-dir {results_dir}: no such folder, so no stored results",
                          hint="run edgemem bench first, or point --results-dir (EDGEMEM_RESULTS_DIR) at the results")
    reports, skipped = load_reports(paths)
    rows = history_rows(reports, model_sha256=model_sha)
    if out.json_mode:
        out.emit_json({"schema": "edgemem.bench_history/1", "rows": [asdict(r) for r in rows], "skipped": skipped})
    else:
        render_history(rows, out, skipped)
    return ExitCode.OK


def prediction_precision(request: BenchRequest) -> Precision | None:
    """The precision the runtime really computes activations in (None: as stored in the file)."""
    providers = str(request.options.get("provider", "cpu"))
    if request.backend == "tensorrt" or (request.backend == "onnxruntime" and "tensorrt" in providers):
        return Precision.parse(request.precision)
    return None


def predict_for(model: Path, request: BenchRequest, out: Output) -> Prediction:
    """The analyzer's activation peak for this model and precision, or the reason there is none."""
    precision = prediction_precision(request)
    try:
        with out.status(f"predicting the activation peak of {model.name}"):
            graph = load_graph(model, LoadOptions(input_shapes=dict(request.input_shapes), dims=dict(request.dims)))
            report = analyze(graph, AnalyzeOptions(convention=Convention(precision=precision), time_limit_s=5.0))
    except EdgememError as exc:
        return Prediction(note=f"analyzer: {exc.one_line()}", precision=precision.value if precision else None)
    return Prediction(report.best.arena_bytes, report.best.peak_bytes, report.weights_bytes,
                      precision.value if precision else "as stored", report.best.name)
