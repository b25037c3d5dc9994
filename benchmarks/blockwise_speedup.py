"""Parallel blockwise distillation: the blockwise phase with 1 and with 2 workers (one thread each),
and the speedup as a ratio of the two, measured in the same run.

    nice .venv/bin/python benchmarks/blockwise_speedup.py [--data ../shared/data/cifar10-subset.npz]
        [--teacher resnet20] [--train-size 2000] [--test-size 500] [--block-epochs 2] [--batch-size 128]
        [--augment none] [--blocks conv] [--workers 1,2] [--repeats 1] [--out DIR] [--json FILE]

Every measurement is one ``edgemem distill --method blockwise --workers N --json`` command in a
fresh output folder (so no block is reused), with ``[train] threads = 1`` (one thread per worker;
N = 2 starts torchrun with gloo), the fine-tune off and the acceptance rule open (every
replacement kept: only the phase is timed, and a run keeping nothing would be an error). The
phase time is the run's own ``blockwise.phase_time_s``: measuring every block's cost, then
training all blocks, until the
last worker is done (teacher loading, data loading and process start-up are outside it; the
command's wall time is printed too). The teacher is trained first for ``--teacher-epochs`` in a
shared teacher cache, outside every measurement. Runs alternate 1, 2, 1, 2 ... workers over
``--repeats`` and the medians are compared. The machine's load average is printed next to every
run: on a shared machine the ratio is only meaningful when nothing else runs.

Next to the ratio it prints the machine's own ceiling, measured in the same run: N independent
one-thread processes doing plain convolutions at once against one alone (no edgemem code).

Data: the CIFAR-10 subset (``x_train``/``x_val``) when the file exists, else MNIST-1D generated
locally (``--teacher resnet1d``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cifar10-subset.npz"


def write_config(folder: Path, args, dataset: dict) -> Path:
    lines = [f'method = "blockwise"', f'teacher = {json.dumps(args.teacher)}', f'teacher_epochs = {args.teacher_epochs}',
             f'teacher_cache = {json.dumps(str(folder / "teacher"))}', f'blocks = {json.dumps(args.blocks)}',
             *(f"{k} = {json.dumps(v)}" for k, v in dataset.items()),
             "[train]", "threads = 1", f"batch_size = {args.batch_size}",
             "[teacher_train]", "threads = 1", f"batch_size = {args.batch_size}", "lr = 0.05",
             "[data]", f"train_size = {args.train_size}", f"test_size = {args.test_size}", f'augment = {json.dumps(args.augment)}',
             "[blockwise]", f"epochs = {args.block_epochs}", "finetune = false", "threshold = 1.0", "max_error = 1e9",
             "max_block_drop = 1.0"]
    path = folder / "run.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare_teacher_once(config: Path) -> None:
    """Train (or reuse) the teacher in the shared cache, with part B's own teacher step."""
    sys.path.insert(0, str(ROOT))
    import torch

    from edgemem.distill.config import load_config
    from edgemem.distill.data import load_dataset
    from edgemem.distill.run import Context, SilentProgress, prepare_teacher

    torch.set_num_threads(1)
    settings = load_config(config)
    prepare_teacher(Context(settings, load_dataset(settings.dataset, settings.data_path, settings.data), SilentProgress(), []))


CEILING_WORK = """
import time, torch
torch.set_num_threads(1)
conv = torch.nn.Conv2d(32, 32, 3, padding=1)
x = torch.randn(64, 32, 32, 32)
with torch.no_grad():
    conv(x)
    began = time.perf_counter()
    for _ in range({steps}):
        conv(x)
print(time.perf_counter() - began)
"""


def machine_ceiling(workers: int, steps: int = 150) -> float:
    """The machine's own ratio for ``workers`` independent one-thread processes doing the same
    convolutions at once: workers x (compute time of one alone) / (the slowest one's compute time
    among all at once). No distillation code: the best the blockwise phase could reach here."""
    code = CEILING_WORK.format(steps=steps)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def compute_times(n: int) -> list[float]:
        processes = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(n)]
        return [float(process.communicate()[0]) for process in processes]

    alone = statistics.median(compute_times(1)[0] for _ in range(2))
    return workers * alone / max(compute_times(workers))


def run_once(config: Path, out: Path, workers: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "EDGEMEM_NO_PROGRESS": "1"}
    load = os.getloadavg()[0]
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edgemem", "distill", "--config", str(config), "--out", str(out),
                           "--workers", str(workers), "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"blockwise_speedup: the {workers}-worker run failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout)["blockwise"]
    return {"workers": workers, "phase_s": report["phase_time_s"], "profile_s": report["profile_time_s"],
            "serial_cost_s": report["serial_cost_s"], "in_run_speedup": report["speedup"], "wall_s": wall,
            "predicted_makespan_s": report["predicted_makespan_s"], "round_robin_makespan_s": report["round_robin_makespan_s"],
            "blocks": len(report["blocks"]), "cache_blocks": sum(b["activations"] == "cache" for b in report["blocks"]),
            "load_before": load, "load_after": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--teacher", default=None, help="default: resnet20 on CIFAR-10, resnet1d on MNIST-1D")
    parser.add_argument("--teacher-epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=500)
    parser.add_argument("--block-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--augment", default="none", help="none lets the measured costs choose the disk cache")
    parser.add_argument("--blocks", default="conv", choices=("conv", "residual"))
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.data.is_file():
        dataset, args.teacher = {"dataset": "cifar10", "data_path": str(args.data)}, args.teacher or "resnet20"
    else:
        print(f"{args.data} is absent: MNIST-1D generated locally instead")
        dataset, args.teacher = {"dataset": "mnist1d"}, args.teacher or "resnet1d"
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="edgemem-blockwise-bench-") as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config = write_config(folder, args, dataset)
        print(f"{args.teacher} on {dataset['dataset']}: {args.train_size} training examples, {args.block_epochs} epochs per "
              f"block, batch {args.batch_size}, augment {args.augment}, {args.blocks} blocks; one thread per worker")
        ceiling = {n: machine_ceiling(n) for n in workers[1:]}
        print("machine ceiling (plain convolutions, one thread per process): " +
              ", ".join(f"{n} processes {c:.2f}x" for n, c in ceiling.items()) + f" (load {os.getloadavg()[0]:.2f})")
        started = time.perf_counter()
        prepare_teacher_once(config)
        print(f"teacher ready ({time.perf_counter() - started:.0f} s, outside the measurements)")
        rows = []
        for repeat in range(args.repeats):
            for n in workers:
                row = run_once(config, folder / f"run-{repeat}-w{n}", n)
                rows.append(row)
                print(f"  {n} worker(s): phase {row['phase_s']:.1f} s (profiling {row['profile_s']:.1f} s), command "
                      f"{row['wall_s']:.1f} s, {row['blocks']} blocks ({row['cache_blocks']} from the disk cache), "
                      f"predicted makespan {row['predicted_makespan_s']:.1f} s (round robin {row['round_robin_makespan_s']:.1f} s), "
                      f"load {row['load_before']:.2f} -> {row['load_after']:.2f}")
    medians = {n: statistics.median(r["phase_s"] for r in rows if r["workers"] == n) for n in workers}
    base = medians[workers[0]]
    for n in workers[1:]:
        ratio = base / medians[n]
        print(f"speedup of the blockwise phase, {n} workers vs {workers[0]}: {ratio:.2f}x "
              f"({base:.1f} s -> {medians[n]:.1f} s, efficiency {ratio / (n / workers[0]):.2f}; target >= 1.7x at 2 workers); "
              f"the machine's ceiling measured first: {ceiling[n]:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "median_phase_s": medians, "ceiling": ceiling}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
