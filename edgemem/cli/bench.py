"""``edgemem bench MODEL.onnx --host user@jetson``: real peak memory and latency on a device.

Also ``--host local`` (this machine, no SSH), ``--hosts a,b`` / ``--inventory FILE`` (a fleet,
one table) and ``--compare`` (the stored history). The analyzer's prediction for the same
model and precision is joined here, next to the measurement, with the budget verdict.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import typer

from edgemem.cli.app import app, handles_errors


@app.command(help="Measure peak memory and latency of an ONNX model on a device over SSH (or --host local), next to "
                  "the analyzer's prediction and a budget. Exit 3 when a measured run exceeds the budget.")
@handles_errors
def bench(
    model: Optional[Path] = typer.Argument(None, help="The .onnx model (with --compare: an .onnx to filter by, or result files/folders)."),
    host: str = typer.Option("local", "--host", help="user@host, an ssh-config alias, or local (this machine, no SSH)."),
    hosts: Optional[List[str]] = typer.Option(None, "--hosts", help="Several hosts, comma-separated: run concurrently, one table."),
    inventory: Optional[Path] = typer.Option(None, "--inventory", help="Fleet inventory TOML (see docs/bench.md)."),
    compare: bool = typer.Option(False, "--compare", help="Tabulate stored results instead of running."),
    backend: Optional[str] = typer.Option(None, "--backend", help="onnxruntime (default), tvm or tensorrt."),
    precision: Optional[str] = typer.Option(None, "--precision", help="fp32 (default), fp16 or int8 (TensorRT; ORT's TensorRT provider)."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Memory budget, e.g. 256MB or 256MiB. Exit 3 when exceeded."),
    budget_metric: str = typer.Option("auto", "--budget-metric", help="What the budget covers: auto, process, model (weights+activations) or activations."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Device profile (profiles/*.toml): budget and flags."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", help="NAME=1x3x224x224 (repeatable)."),
    dim: Optional[List[str]] = typer.Option(None, "--dim", help="SYMBOL=N for symbolic dimensions (repeatable)."),
    warmup: str = typer.Option("0.5s", "--warmup", help="Warm-up time (and at least --warmup-runs runs)."),
    warmup_runs: int = typer.Option(10, "--warmup-runs", min=0),
    duration: str = typer.Option("3s", "--duration", help="Timed run length (and at least --runs runs)."),
    runs: int = typer.Option(50, "--runs", min=1),
    max_runs: int = typer.Option(10000, "--max-runs", min=1),
    timeout: str = typer.Option("10m", "--timeout", help="Deadline of the whole job on the device; killed and reported after it."),
    memory_limit: Optional[str] = typer.Option(None, "--memory-limit", help="Kill the measuring process above this (reported as out_of_memory)."),
    sample_interval: str = typer.Option("20ms", "--sample-interval", help="/proc sampling interval on the device."),
    baseline: str = typer.Option("1s", "--baseline", help="Idle sampling before the run (system-wide baseline)."),
    tegrastats: bool = typer.Option(True, "--tegrastats/--no-tegrastats", help="Run tegrastats alongside where present."),
    lock_clocks: bool = typer.Option(False, "--lock-clocks", help="jetson_clocks for the run, restored afterwards (needs root or sudo -n)."),
    ort_provider: str = typer.Option("cpu", "--ort-provider", help="ONNX Runtime providers: cpu, cuda, tensorrt (comma-separated)."),
    threads: int = typer.Option(0, "--threads", min=0, help="ONNX Runtime intra-op threads (0 = its default)."),
    cpu_arena: bool = typer.Option(True, "--cpu-arena/--no-cpu-arena", help="ONNX Runtime CPU memory arena."),
    trt_mode: str = typer.Option("trtexec", "--trt-mode", help="TensorRT through trtexec or the python API."),
    workspace: Optional[str] = typer.Option(None, "--workspace", help="TensorRT builder workspace limit, e.g. 512MiB."),
    engine_cache: bool = typer.Option(True, "--engine-cache/--no-engine-cache", help="Reuse a built engine on the device."),
    tvm_target: str = typer.Option("llvm", "--tvm-target", help="TVM target to compile for (e.g. nvidia/jetson-orin-nano)."),
    tvm_cc: Optional[str] = typer.Option(None, "--tvm-cc", help="Cross compiler for the TVM library (e.g. aarch64-linux-gnu-g++)."),
    trtexec: Optional[str] = typer.Option(None, "--trtexec", help="Path of trtexec on the device."),
    tegrastats_path: Optional[str] = typer.Option(None, "--tegrastats-path", help="Path of tegrastats on the device."),
    port: Optional[int] = typer.Option(None, "--port", help="SSH port."),
    identity: Optional[str] = typer.Option(None, "--identity", help="SSH private key."),
    ssh_config: Optional[str] = typer.Option(None, "--ssh-config", help="ssh config file instead of ~/.ssh/config."),
    known_hosts: Optional[str] = typer.Option(None, "--known-hosts", help="known_hosts file to check the host key against."),
    fingerprint: Optional[str] = typer.Option(None, "--fingerprint", help="Pinned host key fingerprint (SHA256:...)."),
    trust_on_first_use: bool = typer.Option(False, "--trust-on-first-use", help="Accept and record an unknown host key (never a changed one)."),
    connect_timeout: Optional[str] = typer.Option(None, "--connect-timeout", help="SSH connect timeout (default 10s)."),
    remote_python: Optional[str] = typer.Option(None, "--remote-python", help="Python on the device (default python3; profiles say /usr/bin/python3)."),
    remote_dir: Optional[str] = typer.Option(None, "--remote-dir", help="Cache folder on the device (default ~/.cache/edgemem)."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", envvar="EDGEMEM_RESULTS_DIR", help="Where results are stored."),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the result JSON and raw logs."),
    predict: bool = typer.Option(True, "--predict/--no-predict", help="Run the analyzer for the predicted activation peak."),
    parallel: int = typer.Option(8, "--parallel", min=1, help="Devices measured at once in a fleet."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (schema edgemem.bench_report/1, fleet/history variants) on stdout."),
    attach: Optional[str] = typer.Option(None, "--attach", help="Reattach to run RUN_ID on --host (running or finished) and save its result."),
    lock_wait: str = typer.Option("0s", "--lock-wait", help="Queue this long behind another bench on the device (0s: refuse at once)."),
    reconnect: str = typer.Option("2m", "--reconnect", help="How long a lost SSH connection is retried (with backoff) during a run."),
) -> int:
    from edgemem.bench.request import BenchRequest
    from edgemem.bench.settings import Settings, apply_profile, fleet_entries, ssh_defaults
    from edgemem.cli.options import parse_dims, parse_input_shapes, parse_list
    from edgemem.errors import UsageError
    from edgemem.output import Output
    from edgemem.units import parse_duration_s, parse_size

    out = Output(json_mode=json_out)
    if compare:
        return history(model, results_dir, out)
    from edgemem.bench.verdict import BUDGET_METRICS

    if budget_metric not in BUDGET_METRICS:  # before anything runs
        raise UsageError(f"--budget-metric {budget_metric!r}: choose {', '.join(BUDGET_METRICS)}")
    flags = Settings(backend=backend, precision=precision, budget=budget, workspace=workspace, remote_python=remote_python)
    settings = apply_profile(flags, profile)
    defaults = ssh_defaults(port, identity, ssh_config, known_hosts, fingerprint, trust_on_first_use,
                            parse_duration_s(connect_timeout) if connect_timeout else None, remote_dir, settings)
    policy = run_policy(parse_duration_s(lock_wait), parse_duration_s(reconnect))
    if attach is not None:
        if hosts or inventory is not None:
            raise UsageError("--attach takes one --host (the device the run is on)")
        entry = fleet_entries(host, (), None, defaults)[0]
        budget_bytes = parse_size(settings.budget) if settings.budget else None
        return attach_run(attach, entry, model if predict else None, budget_bytes, budget_metric, settings.profile,
                          results_dir if save else None, out, policy)
    if model is None:
        raise UsageError("missing MODEL", hint="edgemem bench model.onnx --host user@jetson (or --host local)")
    entries = fleet_entries(host, parse_list(hosts, ()), inventory, defaults)
    options = {"provider": ort_provider, "threads": threads, "cpu_arena": cpu_arena, "mode": trt_mode,
               "engine_cache": engine_cache, "target": tvm_target, "cc": tvm_cc}
    if settings.workspace:
        options["workspace_bytes"] = parse_size(settings.workspace)
    tools = {k: v for k, v in (("trtexec", trtexec), ("tegrastats", tegrastats_path)) if v}
    request = BenchRequest(
        model=model, backend=settings.backend or "onnxruntime", precision=settings.precision or "fp32",
        input_shapes=parse_input_shapes(input_shape), dims=parse_dims(dim), warmup_runs=warmup_runs,
        warmup_s=parse_duration_s(warmup), runs=runs, duration_s=parse_duration_s(duration), max_runs=max(max_runs, runs),
        timeout_s=parse_duration_s(timeout), memory_limit_bytes=parse_size(memory_limit) if memory_limit else None,
        sample_interval_ms=int(round(parse_duration_s(sample_interval) * 1000)), baseline_s=parse_duration_s(baseline),
        tegrastats=tegrastats, tegrastats_interval_ms=settings.tegrastats_interval_ms, lock_clocks=lock_clocks,
        options=options, tools=tools)
    if not model.is_file():
        from edgemem.errors import ModelLoadError

        raise ModelLoadError(f"{model}: no such file")
    from edgemem.bench.stop import StopRequest

    plans = device_plans(entries, request, flags, settings, model if predict else None, out)
    artifacts_root = (results_dir / "logs") if save else Path(tempfile.mkdtemp(prefix="edgemem-bench-logs-"))
    stop = StopRequest()
    try:
        outcomes = run_all(entries, plans, artifacts_root, parallel, out, stop, policy)
        return with_stop_exit(stop, lambda: report_for(outcomes, plans, budget_metric, results_dir if save else None, out,
                                                       fleet=len(entries) > 1 or inventory is not None))
    finally:
        if not save:
            shutil.rmtree(artifacts_root, ignore_errors=True)


def history(source: Path | None, results_dir: Path, out) -> int:
    """--compare: the stored runs as a table (or one JSON document)."""
    from dataclasses import asdict

    from edgemem.bench.compare import history_rows
    from edgemem.bench.run import sha256_file
    from edgemem.bench.store import load_reports
    from edgemem.output.bench import render_history

    paths, model_sha = [results_dir], None
    if source is not None and source.suffix == ".onnx":
        model_sha = sha256_file(source) if source.is_file() else None
        if model_sha is None:
            from edgemem.errors import ModelLoadError

            raise ModelLoadError(f"{source}: no such file")
    elif source is not None:
        paths = [source]
    if paths == [results_dir] and not results_dir.exists():
        reports, skipped = [], []
    else:
        reports, skipped = load_reports(paths)
    rows = history_rows(reports, model_sha256=model_sha)
    if out.json_mode:
        out.emit_json({"schema": "edgemem.bench_history/1", "rows": [asdict(r) for r in rows], "skipped": skipped})
    else:
        render_history(rows, out, skipped)
    return 0


def prediction_precision(request) -> str | None:
    """The precision the runtime really computes activations in (None: as stored in the file)."""
    providers = str(request.options.get("provider", "cpu"))
    if request.backend == "tensorrt" or (request.backend == "onnxruntime" and "tensorrt" in providers):
        return request.precision
    return None


def predict_for(model: Path, request, out) -> dict:
    """The analyzer's activation peak for this model and precision, or the reason there is none."""
    from edgemem.errors import EdgememError
    from edgemem.graph import LoadOptions, load_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze
    from edgemem.memory.convention import Convention

    precision = prediction_precision(request)
    try:
        with out.status(f"predicting the activation peak of {model.name}"):
            graph = load_graph(model, LoadOptions(input_shapes=dict(request.input_shapes), dims=dict(request.dims)))
            report = analyze(graph, AnalyzeOptions(convention=Convention(precision=precision), time_limit_s=5.0))
    except EdgememError as exc:
        return {"note": f"analyzer: {exc.one_line()}", "precision": precision}
    return {"arena_bytes": report.best.arena_bytes, "peak_bytes": report.best.peak_bytes,
            "weights_bytes": report.weights_bytes, "precision": precision or "as stored", "order": report.best.name}


@dataclass(frozen=True)
class DevicePlan:
    """What one device of the command is asked to do: its request (a device profile may change
    backend, precision and workspace), its budget and profile, and the prediction to compare with."""

    request: object
    budget_bytes: int | None
    profile: str | None
    prediction: dict | None


def device_plans(entries, request, flags, settings, model: Path | None, out) -> dict:
    """{entry name: DevicePlan}: an inventory device's own profile wins over --profile; explicit flags over both."""
    from dataclasses import replace

    from edgemem.bench.backends import get_backend
    from edgemem.bench.settings import apply_profile
    from edgemem.units import parse_size

    plans, predictions = {}, {}
    for entry in entries:
        chosen = apply_profile(flags, entry.profile) if entry.profile else settings
        options = dict(request.options)
        if chosen.workspace:
            options["workspace_bytes"] = parse_size(chosen.workspace)
        own = replace(request, backend=chosen.backend or "onnxruntime", precision=chosen.precision or "fp32",
                      tegrastats_interval_ms=chosen.tegrastats_interval_ms, options=options,
                      tools={**entry.tools, **request.tools})
        get_backend(own.backend).probe_modules(own)  # unknown backend or mode: a usage error before any connection
        key = (own.backend, own.precision, str(options.get("provider")))
        if model is not None and key not in predictions:
            predictions[key] = predict_for(model, own, out)
        plans[entry.name] = DevicePlan(own, parse_size(chosen.budget) if chosen.budget else None, chosen.profile,
                                       predictions.get(key))
    return plans


def run_policy(lock_wait_s: float, reconnect_s: float):
    from edgemem.bench.run import RunPolicy
    from edgemem.bench.watch import WatchPolicy

    return RunPolicy(lock_wait_s=lock_wait_s, watch=WatchPolicy(reconnect_s=reconnect_s))


def with_stop_exit(stop, report):
    """The report's exit code, or 130 / 143 when Ctrl-C / SIGTERM stopped the bench (results saved first)."""
    from edgemem.errors import EdgememError

    try:
        code = report()
    except EdgememError as exc:
        if stop.exit_code:
            exc.exit_code = stop.exit_code
        raise
    return stop.exit_code or code


def announcing(out, progress):
    """Progress updates; run ids, reconnects and cancels are also printed as lines on stderr."""
    def update(host: str, document: dict) -> None:
        if document.get("announce") and not out.quiet:
            out.err.print(document["announce"], markup=False, highlight=False, soft_wrap=True)
        progress(host, document)

    return update


def run_all(entries, plans, artifacts_root: Path, parallel: int, out, stop, policy) -> list:
    """Every device at once (a single one too), with progress on stderr; Ctrl-C/SIGTERM cancel them all."""
    from edgemem.bench.fleet import run_fleet
    from edgemem.output.bench import bench_progress

    jobs = [(entry, plans[entry.name].request) for entry in entries]
    with bench_progress(out) as update:
        return run_fleet(jobs, artifacts_root, parallel, announcing(out, update), stop, policy)


def attach_run(run_id: str, entry, model: Path | None, budget_bytes, metric: str, profile, results_dir: Path | None,
               out, policy) -> int:
    """--attach: follow a run already on the device to its result, then report and save it as usual."""
    from edgemem.bench.fleet import attach
    from edgemem.bench.stop import StopRequest
    from edgemem.output.bench import bench_progress

    artifacts_root = (results_dir / "logs") if results_dir is not None else Path(tempfile.mkdtemp(prefix="edgemem-bench-logs-"))
    stop = StopRequest()
    try:
        with bench_progress(out) as update:
            outcome = attach(run_id, entry, artifacts_root, announcing(out, update), stop, policy)
        prediction = prediction_for_run(model, outcome.result, out) if model is not None else None
        plans = {entry.name: DevicePlan(None, budget_bytes, profile, prediction)}
        return with_stop_exit(stop, lambda: report_for([outcome], plans, metric, results_dir, out, fleet=False))
    finally:
        if results_dir is None:
            shutil.rmtree(artifacts_root, ignore_errors=True)


def prediction_for_run(model: Path, result, out) -> dict | None:
    """The prediction for an attached run's model, precision and shapes (when MODEL is its model)."""
    from edgemem.bench.request import BenchRequest
    from edgemem.bench.run import sha256_file
    from edgemem.errors import ModelLoadError

    if result is None:
        return None
    if not model.is_file():
        raise ModelLoadError(f"{model}: no such file")
    if sha256_file(model) != result.model.get("sha256"):
        return {"note": f"{model.name} is not the model of run {result.run_id}; no prediction"}
    inputs = (result.request or {}).get("inputs") or {}
    providers = ((result.request or {}).get("options") or {}).get("providers") or []
    request = BenchRequest(model=model, backend=result.backend, precision=result.precision,
                           input_shapes={k: tuple(v) for k, v in (inputs.get("shapes") or {}).items()},
                           dims=dict(inputs.get("dims") or {}),
                           options={"provider": "tensorrt" if "TensorrtExecutionProvider" in providers else "cpu"})
    return predict_for(model, request, out)


def verdict_for(result, prediction: dict | None, budget_bytes: int | None, metric: str):
    from edgemem.bench.verdict import compare

    memory = result.memory
    prediction = prediction or {"note": "not requested (--no-predict)"}
    return compare(predicted_activation_bytes=prediction.get("arena_bytes"), predicted_peak_bytes=prediction.get("peak_bytes"),
                   predicted_weights_bytes=prediction.get("weights_bytes"), prediction_precision=prediction.get("precision"),
                   prediction_note=prediction.get("note"),
                   process_bytes=None if memory.process_peak.partial else memory.process_peak.value_bytes,
                   weights_bytes=memory.weights.value_bytes, activation_bytes=memory.activations.value_bytes,
                   budget_bytes=budget_bytes, budget_metric=metric)


def report_for(outcomes, plans: dict, metric, results_dir: Path | None, out, fleet: bool) -> int:
    """Join prediction and measurement, store, print; the exit code (1 failed, 3 over budget, 0)."""
    from edgemem.bench.errors import AgentError
    from edgemem.bench.protocol import ERROR_MEANING
    from edgemem.bench.store import REPORT_SCHEMA, save_report
    from edgemem.bench.verdict import BUDGET_METRICS
    from edgemem.errors import BenchError, ExitCode, UsageError
    from edgemem.output import print_error
    from edgemem.output.bench import render_fleet, render_report

    if metric not in BUDGET_METRICS:
        raise UsageError(f"--budget-metric {metric!r}: choose {', '.join(BUDGET_METRICS)}")
    rows = []
    for outcome in outcomes:
        plan = plans[outcome.entry.name]
        row = {"name": outcome.entry.name, "result": None, "verdict": None, "error": outcome.error, "saved_to": None}
        if outcome.result is not None:
            document = {"schema": REPORT_SCHEMA, "profile": plan.profile, "result": outcome.result.to_json(),
                        "verdict": verdict_for(outcome.result, plan.prediction, plan.budget_bytes, metric).to_json()}
            if results_dir is not None:
                row["saved_to"] = str(save_report(results_dir, document))
            row.update(result=document["result"], verdict=document["verdict"], document=document)
        rows.append(row)
    failed = [r for r in rows if r["result"] is None or r["result"]["status"] != "ok"]
    over = [r for r in rows if (r.get("verdict") or {}).get("verdict") == "fail"]
    if not fleet:
        row = rows[0]
        if row["result"] is None:
            raise BenchError(row["error"])
        if out.json_mode:
            out.emit_json({**row["document"], "saved_to": row["saved_to"]})
        else:
            render_report(row["document"], out, row["saved_to"])
        if failed:
            error = row["result"]["error"] or {}
            code = error.get("code", "internal")
            raise AgentError(f"{row['name']}: {code}: {error.get('message')}"
                             + (f" (partial result saved to {row['saved_to']})" if row["saved_to"] else ""),
                             code, error.get("stage"), hint=ERROR_MEANING.get(code))
    else:
        if out.json_mode:
            out.emit_json({"schema": "edgemem.bench_fleet/1", "devices": [
                {"name": r["name"], "error": r["error"], "saved_to": r["saved_to"], "report": r.get("document")} for r in rows]})
        else:
            render_fleet(rows, out)
        for r in failed:
            print_error(f"{r['name']}: {r['error'] or (r['result']['error'] or {}).get('message')}")
        if failed:
            return ExitCode.ERROR
    return ExitCode.OVER_BUDGET if over else ExitCode.OK
