"""Runtime-aware prediction against the measured memory of ONNX Runtime and TVM, model by model.

    .venv/bin/python benchmarks/fidelity.py                       # every model, ONNX Runtime and TVM
    .venv/bin/python benchmarks/fidelity.py --runtimes onnxruntime --models resnet18-224,unet-128

For each runtime the baseline is first calibrated on this machine (edgemem.verify.calibrate: three
tiny models, fresh processes). For each model: the runtime-aware prediction (ONNX Runtime: replay
of its order, planner, kernel scratch and BFC arena; TVM: replay of the compiled module's VM
program on its allocators) and the median of ``--repeats`` fresh measuring processes
(the bench agent's worker for the runtime on this machine, as ``edgemem verify --host local`` runs
it: edgemem.verify.device). Printed per model and runtime:

* the analyzer's theoretical figure (stored order, edgemem's own arena plan) for scale;
* the runtime-aware predicted activation figure (tensors + scratch + allocator bookkeeping that one
  inference adds to the loaded session) and the measured one (VmHWM over the runs, median), the
  error and the spread of the measurements;
* the predicted and measured process peak, and whether the predicted verdict agrees with the
  measured one at budgets 10% above and 10% below the measured peak.

Memory does not depend on CPU load (checked: identical figures on an idle and a loaded machine);
the load average is printed anyway. Models come from benchmarks/fidelity_models.py (exported once
to ~/.cache/edgemem/fidelity-models).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fidelity_models  # noqa: E402

from edgemem.errors import EdgememError  # noqa: E402
from edgemem.graph import load_graph  # noqa: E402
from edgemem.memory.analyze import AnalyzeOptions, analyze  # noqa: E402
from edgemem.memory.runtime import OrtSettings, TvmSettings  # noqa: E402
from edgemem.bench.run import RunPolicy, Target  # noqa: E402
from edgemem.verify.calibration import CALIBRATORS  # noqa: E402
from edgemem.verify.device import Measuring, measure_on  # noqa: E402
from edgemem.verify.predictors import plan  # noqa: E402

TOLERANCE = 0.15
MARGIN = 0.10


def theoretical(graph) -> int:
    return analyze(graph, AnalyzeOptions(orders=("stored",), time_limit_s=5.0)).best.arena_bytes


def predict(runtime: str, graph, path: str, baseline, args):
    planned = plan(runtime, graph, Path(path), baseline, threads=args.threads, execution_order=args.order)
    return planned.prediction, planned.job


def measuring(args) -> Measuring:
    """Fresh processes on this machine through the bench agent (what verify --host local does)."""
    return Measuring(Target("local"), repeats=args.repeats, runs=3, policy=RunPolicy(lock_wait_s=3600.0))


def verdicts(predicted_peak: int, measured_peak: int) -> list[bool]:
    """Does the prediction give the measured verdict at budgets 10% above and below the measured peak?"""
    agree = []
    for factor in (1 + MARGIN, 1 - MARGIN):
        budget = int(measured_peak * factor)
        agree.append((predicted_peak <= budget) == (measured_peak <= budget))
    return agree


def one(runtime: str, name: str, baseline, args) -> dict:
    path = str(fidelity_models.export(name))
    graph = load_graph(path)
    try:
        prediction, job = predict(runtime, graph, path, baseline, args)
        measured = measure_on(measuring(args), job).summary
    except EdgememError as exc:  # TvmCompileError, MeasureError: the runtime rejected the model
        return {"model": name, "runtime": runtime, "rejected": exc.one_line()[:200]}
    predicted_run, measured_run = prediction.run_bytes, measured["activations"]["median_bytes"]
    peak = measured["process_peak"]["median_bytes"]
    return {"model": name, "runtime": runtime, "theoretical_bytes": theoretical(graph),
            "predicted_bytes": predicted_run, "measured_bytes": measured_run,
            "spread_bytes": measured["activations"]["spread_bytes"],
            "error": (predicted_run - measured_run) / measured_run if measured_run else None,
            "predicted_peak_bytes": prediction.peak_bytes, "measured_peak_bytes": peak,
            "verdicts_agree": verdicts(prediction.peak_bytes, peak), "source": measured["activations"]["source"]}


def kib(value) -> str:
    return "?" if value is None else f"{value / 1024:,.0f}"


def row(r: dict) -> str:
    if "rejected" in r:
        return f"| {r['model']} | {r['runtime']} | rejected by the runtime: {r['rejected']} |||||||| "
    agree = "yes" if all(r["verdicts_agree"]) else "NO"
    return (f"| {r['model']} | {r['runtime']} | {kib(r['theoretical_bytes'])} | {kib(r['predicted_bytes'])} | "
            f"{kib(r['measured_bytes'])} | {kib(r['spread_bytes'])} | {r['error'] * 100:+.1f}% | "
            f"{kib(r['predicted_peak_bytes'])} | {kib(r['measured_peak_bytes'])} | {agree} |")


HEADER = ("| model | runtime | theoretical KiB | predicted KiB | measured KiB (median) | spread KiB | error | "
          "predicted peak KiB | measured peak KiB | verdict ±10% agrees |\n|---|---|---|---|---|---|---|---|---|---|")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(fidelity_models.MODELS))
    parser.add_argument("--runtimes", default="onnxruntime,tvm")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--order", default="priority", choices=("priority", "default"))
    parser.add_argument("--json", help="write the rows here as well")
    args = parser.parse_args(argv)
    started, rows = time.time(), []
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    for runtime in args.runtimes.split(","):
        settings = OrtSettings(execution_order=args.order, threads=args.threads) if runtime == "onnxruntime" else TvmSettings()
        baseline = CALIBRATORS[runtime](lambda job: measure_on(measuring(args), job), settings, "calibrated in this run")
        print(f"{runtime} baseline: {baseline}", flush=True)
        print(HEADER, flush=True)
        for name in args.models.split(","):
            rows.append(one(runtime, name, baseline, args))
            print(row(rows[-1]), flush=True)
    done = [r for r in rows if "rejected" not in r]
    worst = max(abs(r["error"]) for r in done)
    agree = sum(all(r["verdicts_agree"]) for r in done)
    print(f"\n{len(rows) - len(done)} model-runtime pair(s) rejected by the runtime; worst activation error "
          f"{worst * 100:.1f}% (target {TOLERANCE * 100:.0f}%); verdicts agree on {agree}/{len(done)} "
          f"model-runtime pairs at budgets ±{MARGIN * 100:.0f}% of the measured peak; load average at end "
          f"{os.getloadavg()[0]:.2f}; {time.time() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if worst <= TOLERANCE and agree == len(done) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
