"""``edgemem analyze MODEL.onnx``: peak activation memory per execution order, arena, budget."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from edgemem.cli.app import app, handles_errors
from edgemem.memory.schedule.result import DEFAULT_WORK_LIMIT


@app.command(help="Peak activation memory of an ONNX model under the stored, greedy and optimal orders, "
                  "its arena plan and a budget check. Exit 3 when the best plan exceeds --budget.")
@handles_errors
def analyze(
    model: Path = typer.Argument(..., help="The .onnx file (external data is read from beside it)."),
    input_shape: Optional[List[str]] = typer.Option(None, "--input-shape", help="Bind a graph input: NAME=1x3x224x224 (repeatable)."),
    dim: Optional[List[str]] = typer.Option(None, "--dim", help="Bind a symbolic dimension: SYMBOL=N, e.g. batch=1 (repeatable)."),
    probe: bool = typer.Option(False, "--probe", help="Run the model once under ONNX Runtime with generated inputs to size what static inference cannot."),
    fold: bool = typer.Option(True, "--fold/--no-fold", help="Try constant folding (onnxslim) when shape inference leaves tensors unsized."),
    order: Optional[List[str]] = typer.Option(None, "--order", help="Orders to evaluate, comma-separated: stored, greedy, optimal (default: all)."),
    time_limit: str = typer.Option("60s", "--time-limit", help="Guard on the optimal order search's time (e.g. 10s, 2m); when it fires the answer may depend on the machine, and the method says so."),
    work_limit: int = typer.Option(DEFAULT_WORK_LIMIT, "--work-limit", min=0, help="Work budget of the optimal order search, in search steps: the same answer on any machine."),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace", help="Let elementwise ops write over an input that dies there."),
    alias: bool = typer.Option(True, "--alias/--no-alias", help="Let view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share their input's buffer."),
    alignment: int = typer.Option(64, "--alignment", min=1, help="Arena offset alignment in bytes (1 = no padding)."),
    precision: Optional[str] = typer.Option(None, "--precision", help="Count floating-point activations at fp32, fp16 or int8 width."),
    placement: str = typer.Option("portfolio", "--placement", help="Arena placement: portfolio (the best verified plan of all the others), greedy_by_size, greedy_by_conflicts, first_fit_by_start, hill_climb, exact, tflite, onnxsim, tvm_by_size, tvm_by_conflicts."),
    inplace_rules: Optional[str] = typer.Option(None, "--inplace-rules", help="Opt-in in-place rules a kernel library must support, comma-separated: concat, depthwise (or all); the report compares the best plan with each."),
    write_order: Optional[Path] = typer.Option(None, "--write-order", help="Write the model with its nodes in the best order found to this .onnx file."),
    ort: bool = typer.Option(True, "--ort/--no-ort", help="With --write-order: measure ONNX Runtime's peak on the original and the reordered file (when onnxruntime is installed)."),
    budget: Optional[str] = typer.Option(None, "--budget", help="Memory budget, e.g. 256MB (10^6) or 256MiB (2^20). Exit 3 when the best plan does not fit."),
    budget_scope: str = typer.Option("activations", "--budget-scope", help="What the budget covers: activations (arena) or total (arena + weights)."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Device profile (profiles/*.toml name or path): its budget and precision apply unless --budget/--precision are given."),
    top: int = typer.Option(5, "--top", min=1, help="Largest buffers to list at each peak."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Write the live-memory timeline and arena plot (.png, .svg or .html)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document (schema edgemem.memory_report/1) on stdout."),
    detail: bool = typer.Option(False, "--detail", help="With --json: add per-step profiles, orders and arena offsets."),
) -> int:
    from edgemem.cli.options import parse_dims, parse_input_shapes, parse_list
    from edgemem.errors import ExitCode, UsageError
    from edgemem.graph import LoadOptions, load_graph
    from edgemem.memory.analyze import AnalyzeOptions, analyze as run_analysis
    from edgemem.memory.convention import INPLACE_RULES, PRECISION_BITS, Convention
    from edgemem.output import Output
    from edgemem.units import parse_duration_s, parse_size

    if profile is not None:
        from edgemem.profiles import load_profile

        device = load_profile(profile)
        budget = budget if budget is not None else str(device.budget_bytes)
        precision = precision if precision is not None else device.precision
    if precision is not None and precision not in PRECISION_BITS:
        raise UsageError(f"--precision {precision!r}: choose fp32, fp16 or int8")
    rules = tuple(INPLACE_RULES) if inplace_rules == "all" else parse_list([inplace_rules] if inplace_rules else None, ())
    load_options = LoadOptions(input_shapes=parse_input_shapes(input_shape), dims=parse_dims(dim), probe=probe, fold_constants=fold)
    options = AnalyzeOptions(
        orders=parse_list(order, ("stored", "greedy", "optimal")),
        convention=Convention(inplace=inplace, alias_views=alias, alignment_bytes=alignment, precision=precision, inplace_rules=rules),
        placement=placement,
        time_limit_s=parse_duration_s(time_limit),
        work_limit=work_limit,
        budget_bytes=parse_size(budget) if budget is not None else None,
        budget_scope=budget_scope,
        peak_tensors=top,
    )
    if write_order is not None:
        from edgemem.graph.write_order import check_target

        check_target(model, write_order)
    out = Output(json_mode=json_out)
    with out.status(f"loading and sizing {model.name}"):
        graph = load_graph(model, load_options)
    with out.status(f"analyzing {len(graph.nodes)} nodes"):
        report = run_analysis(graph, options)
    report = _planner_extras(report, graph, options, model, write_order, ort, out)
    if plot is not None:
        from edgemem.output.plot import write_plot

        with out.status(f"drawing {plot}"):
            write_plot(report, plot)
    if json_out:
        out.emit_json(report.to_json(detail=detail))
    else:
        from edgemem.output.analyze import render_memory_report

        render_memory_report(report, out)
        if plot is not None:
            out.info(f"plot written to {plot}")
    if report.budget is not None and not report.budget.fits:
        return ExitCode.OVER_BUDGET
    return ExitCode.OK


def _planner_extras(report, graph, options, model: Path, write_order: Optional[Path], ort: bool, out):
    """Opt-in in-place rules compared, the model written in the best order, ONNX Runtime's peaks."""
    from dataclasses import replace

    if options.convention.inplace_rules:
        from edgemem.memory.capabilities import compare_rules

        with out.status("comparing the opt-in in-place rules"):
            rows = compare_rules(graph, options, report)
        report = replace(report, capabilities=rows,
                         convention=replace(report.convention, inplace_rules=options.convention.inplace_rules))
    if write_order is None:
        return report
    from edgemem.graph.write_order import write_in_order

    written = write_in_order(model, report.best.order, write_order)
    report = replace(report, written_order=str(written))
    if ort:
        from edgemem.graph import ort_peak
        from edgemem.memory.report import OrtPeak

        with out.status("measuring ONNX Runtime's peak on both files"):
            shapes = {name: graph.tensors[name].shape for name in graph.inputs}
            compared = ort_peak.compare_files(model, written, shapes)
        if compared is not None:
            peaks = tuple(OrtPeak(label, run.execution_order, run.requested_peak_bytes, run.arena_peak_bytes, len(run.executed))
                          for label, run in compared.runs)
            notes = report.notes if compared.identical else report.notes + (
                "ONNX Runtime's outputs of the reordered file differ from the original's",)
            report = replace(report, ort_peaks=peaks, notes=notes)
    return report
