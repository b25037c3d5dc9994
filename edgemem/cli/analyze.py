"""``edgemem analyze MODEL.onnx``: peak activation memory per execution order, arena, budget.

``--budget`` hops: this module parses it into ``AnalyzeOptions.budget`` (a ``Budget``) ->
``memory.analyze.analyze`` -> ``memory.analyze.budget_check`` -> ``edgemem.budget.check_budget``.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgemem.budget import Budget, Precision, Scope
from edgemem.cli import params
from edgemem.cli.choices import InplaceRule, Order, Placement
from edgemem.cli.errors import handles_errors
from edgemem.errors import ExitCode, UsageError
from edgemem.graph import LoadOptions, load_graph, ort_peak
from edgemem.graph.write_order import check_target, write_in_order
from edgemem.memory.analyze import AnalyzeOptions, analyze as run_analysis
from edgemem.memory.capabilities import compare_rules
from edgemem.memory.convention import INPLACE_RULES, Convention
from edgemem.memory.report import MemoryReport, OrtPeak
from edgemem.memory.schedule.result import DEFAULT_WORK_LIMIT
from edgemem.output import Output
from edgemem.output.analyze import render_memory_report
from edgemem.output.plot import FORMATS as PLOT_FORMATS, write_plot
from edgemem.profiles import load_profile

HELP = ("Peak activation memory of an ONNX model under the stored, greedy and optimal orders, its arena plan and a "
        "budget check. Exit 3 when the best plan exceeds --budget.")

ModelArg = Annotated[Path, typer.Argument(metavar="MODEL.onnx", help="The .onnx file (external data is read from beside it).")]
InputShapes = Annotated[Optional[List[str]], typer.Option(
    "--input-shape", metavar="NAME=1x3x224x224", parser=params.shape_binding,
    help="Bind a graph input's whole shape (repeatable). Excludes --dim.")]
Dims = Annotated[Optional[List[str]], typer.Option(
    "--dim", metavar="SYMBOL=N", parser=params.dim_binding,
    help="Bind a symbolic dimension, e.g. batch=1 (repeatable). Excludes --input-shape.")]
BudgetOpt = Annotated[Optional[int], typer.Option(
    "--budget", metavar="SIZE", parser=params.budget_size,
    help="Memory budget, e.g. 256MB (10^6) or 256MiB (2^20). Exit 3 when the best plan does not fit.")]
PrecisionOpt = Annotated[Optional[Precision], typer.Option(
    "--precision", case_sensitive=False, help="Count floating-point activations at this width (default: as stored).")]
ProfileOpt = Annotated[Optional[str], typer.Option(
    "--profile", metavar="DEVICE", help="Device profile (profiles/*.toml name or path): its budget and precision apply "
                                        "unless --budget/--precision are given.")]


@handles_errors
def analyze(
    model: ModelArg,
    input_shape: InputShapes = None,
    dim: Dims = None,
    probe: Annotated[bool, typer.Option("--probe", help="Run the model once under ONNX Runtime with generated inputs to size what static inference cannot.")] = False,
    fold: Annotated[bool, typer.Option("--fold/--no-fold", help="Try constant folding (onnxslim) when shape inference leaves tensors unsized.")] = True,
    order: Annotated[Optional[List[str]], typer.Option("--order", metavar=params.metavar(Order, many=True), parser=params.choice_list(Order, "order"), help="Orders to evaluate (comma-separated or repeated; default: all).")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", metavar="DURATION", parser=params.duration_s, help="Guard on the optimal order search's time (e.g. 60s, 2m); when it fires the answer may depend on the machine, and the method says so.")] = "60s",
    work_limit: Annotated[int, typer.Option("--work-limit", metavar="UNITS", min=0, help="Work budget of the optimal order search, in search steps: the same answer on any machine.")] = DEFAULT_WORK_LIMIT,
    inplace: Annotated[bool, typer.Option("--inplace/--no-inplace", help="Let elementwise ops write over an input that dies there.")] = True,
    alias: Annotated[bool, typer.Option("--alias/--no-alias", help="Let view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) share their input's buffer.")] = True,
    alignment: Annotated[int, typer.Option("--alignment", metavar="BYTES", min=1, help="Arena offset alignment in bytes (1 = no padding).")] = 64,
    precision: PrecisionOpt = None,
    placement: Annotated[Placement, typer.Option("--placement", case_sensitive=False, help="Arena placement: portfolio is the best verified plan of all the others.")] = "portfolio",
    place_every_order: Annotated[bool, typer.Option("--place-every-order", help="Run --placement on every order; by default an order whose live bound shows it cannot hold the smallest arena is placed by greedy_by_size alone.")] = False,
    inplace_rules: Annotated[Optional[List[str]], typer.Option("--inplace-rules", metavar=params.metavar(InplaceRule, many=True), parser=params.choice_list(InplaceRule, "in-place rule"), help="Opt-in in-place rules a kernel library must support (or all); the report compares the best plan with each.")] = None,
    write_order: Annotated[Optional[Path], typer.Option("--write-order", metavar="FILE.onnx", help="Write the model with its nodes in the best order found to this .onnx file.")] = None,
    ort: Annotated[bool, typer.Option("--ort/--no-ort", help="With --write-order: measure ONNX Runtime's peak on the original and the reordered file.")] = True,
    budget: BudgetOpt = None,
    budget_scope: Annotated[Optional[Scope], typer.Option("--budget-scope", case_sensitive=False, help="What the budget covers: activations (the arena, default), weights, or model (arena + weights). Needs a budget.")] = None,
    profile: ProfileOpt = None,
    top: Annotated[int, typer.Option("--top", metavar="N", min=1, help="Largest buffers to list at each peak.")] = 5,
    plot: Annotated[Optional[Path], typer.Option("--plot", metavar="FILE", help="Write the live-memory timeline and arena plot (.png, .svg or .html).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema edgemem.memory_report/1) on stdout.")] = False,
    detail: Annotated[bool, typer.Option("--detail", help="With --json: add per-step profiles, orders and arena offsets.")] = False,
) -> int:
    if detail and not json_out:
        raise UsageError("--detail adds to the --json document", hint="give --json too")
    if input_shape and dim:
        raise UsageError("--input-shape and --dim exclude each other",
                         hint="give every input's whole shape with --input-shape, or bind its symbols with --dim")
    if profile is not None:
        device = load_profile(profile)
        budget = budget if budget is not None else device.budget_bytes
        precision = precision if precision is not None else device.precision
    if budget_scope is not None and budget is None:
        raise UsageError("--budget-scope says what a budget covers, and no --budget (or --profile) was given")
    rules = flatten_rules(params.flatten(inplace_rules))
    options = AnalyzeOptions(
        orders=tuple(o.value for o in params.flatten(order)) or AnalyzeOptions.orders,
        convention=Convention(inplace=inplace, alias_views=alias, alignment_bytes=alignment, precision=precision, inplace_rules=rules),
        placement=Placement(placement).value, place_every_order=place_every_order, time_limit_s=time_limit, work_limit=work_limit, peak_tensors=top,
        budget=None if budget is None else Budget(budget, budget_scope or Scope.ACTIVATIONS),
    )
    load_options = LoadOptions(input_shapes=params.bindings(input_shape, "--input-shape"),
                               dims=params.bindings(dim, "--dim"), probe=probe, fold_constants=fold)
    if params.output_file(plot, "--plot") is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot {plot}: unknown format {plot.suffix or '(none)'}", hint="use a .png, .svg or .html file name")
    if write_order is not None:
        check_target(model, params.output_file(write_order, "--write-order"))
    out = Output(json_mode=json_out)
    with paused_gc():
        with out.status(f"loading and sizing {model.name}"):
            graph = load_graph(model, load_options)
        with out.status(f"analyzing {len(graph.nodes)} nodes"):
            report = run_analysis(graph, options)
    report = _planner_extras(report, graph, options, model, write_order, ort, out)
    _emit(report, out, plot, detail)
    return ExitCode.OVER_BUDGET if report.budget is not None and report.budget.over else ExitCode.OK


@contextmanager
def paused_gc():
    """Python's cyclic garbage collector off while the graph is loaded and analysed.

    Those passes allocate hundreds of thousands of acyclic records (freed by reference counting
    alone) and the collector's scans of them grow with the heap: on 100,000-node graphs they
    cost about a third of the analysis. It is switched back on (as it was) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def flatten_rules(rules: tuple) -> tuple[str, ...]:
    names = tuple(r.value for r in rules)
    return tuple(INPLACE_RULES) if "all" in names else names


def _emit(report: MemoryReport, out: Output, plot: Path | None, detail: bool) -> None:
    if plot is not None:
        with out.status(f"drawing {plot}"):
            write_plot(report, plot)
    if out.json_mode:
        out.emit_json(report.to_json(detail=detail))
        return
    render_memory_report(report, out)
    if plot is not None:
        out.info(f"plot written to {plot}")


def _planner_extras(report, graph, options, model: Path, write_order: Optional[Path], ort: bool, out):
    """Opt-in in-place rules compared, the model written in the best order, ONNX Runtime's peaks."""
    if options.convention.inplace_rules:
        with out.status("comparing the opt-in in-place rules"):
            rows = compare_rules(graph, options, report)
        report = replace(report, capabilities=rows,
                         convention=replace(report.convention, inplace_rules=options.convention.inplace_rules))
    if write_order is None:
        return report
    written = write_in_order(model, report.best.order, write_order)
    report = replace(report, written_order=str(written))
    if ort:
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
