"""The analyzer at scale: the time of every stage of `edgemem analyze` on graph families that grow
to 100,000 nodes, and each stage's growth exponent fitted from the sizes.

    .venv/bin/python benchmarks/analyze_scale.py [--sizes 1000,3000,10000,30000,100000]
                                                 [--families elementwise_chain,residual,random_dag,nas,transformer]
                                                 [--repeat 3] [--work-limit N]

Families (tests/fixtures/scale_graphs.py, built in code): a chain of elementwise ops, a residual
MLP, a random DAG with bounded lifetimes, stacked DARTS cells and a transformer encoder stack.
Stages, timed one by one with the library's own functions (best of ``--repeat``; wall clock and
CPU time of this process): load (parse the file), shapes (structure check and shape inference),
problem (buffers and in-place groups), stored, greedy and optimal orders, placement (every
distinct order, as ``analyze`` places them: the portfolio where an order could hold the best
arena, each plan verified), verify (the best plan's check alone), render (the --json document),
with the cyclic garbage collector paused as `edgemem analyze` pauses it. ``command`` is the whole
`edgemem analyze FILE --json` in a fresh process (Python start-up and imports included), best of
``--repeat``: its wall clock, and its CPU time (user + system, which load beside it disturbs less).

The growth exponent of a stage is the slope of log(CPU time) against log(nodes), fitted by least
squares over the sizes where the stage takes at least 20 ms (below that, fixed costs dominate);
"-" when fewer than two sizes qualify. Targets (issue 15): every 10,000-node family's command
<= 2 s, every 100,000-node graph's <= 20 s, every stage's exponent <= 1.2. The machine is shared:
the script prints the load average before and after; compare runs made under the same load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures.scale_graphs import FAMILIES  # noqa: E402

from edgemem.cli.analyze import paused_gc  # noqa: E402
from edgemem.graph.build import graph_from_model  # noqa: E402
from edgemem.graph.load import load_model  # noqa: E402
from edgemem.graph.types import LoadOptions  # noqa: E402
from edgemem.memory import bounds  # noqa: E402
from edgemem.memory.analyze import AnalyzeOptions, analyze, place_orders  # noqa: E402
from edgemem.memory.problem import problem_from_graph  # noqa: E402
from edgemem.memory.schedule import STRATEGIES, ScheduleContext  # noqa: E402
from edgemem.memory.schedule.result import DEFAULT_WORK_LIMIT  # noqa: E402
from edgemem.memory.verify import check_plan  # noqa: E402
from edgemem.output import _json_default  # noqa: E402

STAGES = ("load", "shapes", "problem", "stored", "greedy", "optimal", "placement", "verify", "render")
MIN_FIT_S = 0.02
EDGEMEM = str(Path(sys.executable).with_name("edgemem"))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def stages_once(path: Path, work_limit: int) -> tuple[dict[str, tuple[float, float]], int]:
    """(wall, cpu) seconds of every stage, and the node count."""
    times = {}
    times["load"], model = _split(timed(lambda: load_model(path)))
    times["shapes"], graph = _split(timed(lambda: graph_from_model(model, LoadOptions(), path.parent, path.name, str(path))))
    options = AnalyzeOptions(work_limit=work_limit, time_limit_s=600)
    times["problem"], problem = _split(timed(lambda: problem_from_graph(graph, options.convention)))
    bound = bounds.order_lower_bound(problem)
    results, incumbent = [], None
    for name in ("stored", "greedy", "optimal"):
        context = ScheduleContext(lower_bound_bytes=bound, incumbent=incumbent, time_limit_s=600, work_limit=work_limit)
        times[name], result = _split(timed(lambda: STRATEGIES[name](problem, context)))
        results.append(result)
        if incumbent is None or result.peak_bytes < incumbent.peak_bytes:
            incumbent = result
    times["placement"], plans = _split(timed(lambda: place_orders(problem, results, options)))
    lifetimes, plan, _, _ = plans[incumbent.order]
    align = options.convention.alignment_bytes
    times["verify"], check = _split(timed(lambda: check_plan(lifetimes, plan, align)))
    assert check.ok
    report = analyze(graph, options)
    times["render"], _ = _split(timed(lambda: json.dumps(report.to_json(), indent=2, default=_json_default)))
    return times, len(graph.nodes)


def _split(measured):
    wall, cpu, value = measured
    return (wall, cpu), value


def command_s(path: Path, work_limit: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh `edgemem analyze FILE --json`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([EDGEMEM, "analyze", str(path), "--json", "--work-limit", str(work_limit), "--time-limit", "600s"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"edgemem analyze {path} failed: {done.stderr.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)



def exponent(sizes: list[int], seconds: list[float]) -> float | None:
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds) if t >= MIN_FIT_S]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def measure(family: str, size: int, folder: Path, repeat: int, work_limit: int) -> dict:
    path = folder / f"{family}_{size}.onnx"
    onnx.save(FAMILIES[family](size), path)
    runs = []
    for _ in range(repeat):
        with paused_gc():  # as `edgemem analyze` runs them
            runs.append(stages_once(path, work_limit))
    nodes = runs[0][1]
    row = {"family": family, "nodes": nodes}
    for stage in STAGES:
        row[stage] = (min(r[0][stage][0] for r in runs), min(r[0][stage][1] for r in runs))
    commands = [command_s(path, work_limit) for _ in range(repeat)]
    row["command"] = (min(c[0] for c in commands), min(c[1] for c in commands))
    path.unlink()
    return row


def print_rows(rows: list[dict]) -> None:
    print("seconds, best of the repeats: wall / CPU; stages in this process, command = a fresh `edgemem analyze FILE --json`")
    print(f"{'family':18} {'nodes':>7} " + " ".join(f"{s:>12}" for s in (*STAGES, "command")))
    for r in rows:
        cells = " ".join(f"{r[s][0]:>5.2f}/{r[s][1]:<6.2f}" for s in (*STAGES, "command"))
        print(f"{r['family']:18} {r['nodes']:>7} {cells}")


def print_exponents(rows: list[dict]) -> None:
    print(f"\ngrowth exponent of CPU time (fit over sizes where a stage takes >= {MIN_FIT_S * 1000:.0f} ms):")
    print(f"{'family':18} " + " ".join(f"{s:>9}" for s in STAGES) + f" {'command':>9}")
    worst = 0.0
    for family in dict.fromkeys(r["family"] for r in rows):
        mine = [r for r in rows if r["family"] == family]
        sizes = [r["nodes"] for r in mine]
        cells = []
        for stage in STAGES:
            k = exponent(sizes, [r[stage][1] for r in mine])
            worst = max(worst, k or 0.0)
            cells.append(f"{k:>9.2f}" if k is not None else f"{'-':>9}")
        k = exponent(sizes, [r["command"][1] for r in mine])
        print(f"{family:18} " + " ".join(cells) + (f" {k:>9.2f}" if k is not None else f" {'-':>9}"))
    print(f"largest stage exponent: {worst:.2f} (target <= 1.2)")


def print_targets(rows: list[dict]) -> None:
    for r in rows:
        if 9000 <= r["nodes"] <= 11000 or 90000 <= r["nodes"] <= 110000:
            limit = 2.0 if r["nodes"] <= 11000 else 20.0
            wall, cpu = r["command"]
            verdict = "met" if wall <= limit else ("NOT met (wall); CPU within" if cpu <= limit else "NOT met")
            print(f"target: {r['family']} {r['nodes']} nodes, command <= {limit:.0f} s: {wall:.2f} s wall, {cpu:.2f} s CPU ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,3000,10000,30000,100000")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-limit", type=int, default=DEFAULT_WORK_LIMIT)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgemem-scale-") as tmp:
        for family in args.families.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                print(f"measuring {family} {size} ...", file=sys.stderr, flush=True)
                rows.append(measure(family, size, Path(tmp), args.repeat, args.work_limit))  # the same best-of at every size
    print_rows(rows)
    print_exponents(rows)
    print_targets(rows)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
