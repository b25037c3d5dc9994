"""CIFAR-10 subset: every distillation method of the seeds, two seeds, mean and spread; resumable.

    nice -n 19 .venv/bin/python benchmarks/distill_cifar.py --out runs/distill-cifar        # run (or continue) the table
    nice -n 19 .venv/bin/python benchmarks/distill_cifar.py --out runs/distill-cifar &      # a second process shares it
    .venv/bin/python benchmarks/distill_cifar.py --out runs/distill-cifar --report          # print what is finished

Protocol (the anchor of shared/reference/distill-methods.md): train on ``x_train`` (20,000 images) of
the subset, report on ``x_val`` (2,000); 24 epochs for teachers and students; SGD nesterov lr 0.05,
momentum 0.9, weight decay 5e-4, cosine, batch 128, random crop + flip; one torch thread per
process; seeds 0 and 1 (each seed trains its own teacher). The WRN families train with bfloat16
autocast (``[train] autocast = "bf16"``, evaluation in fp32): a WRN-40-2 epoch takes about 10
minutes of one core in fp32 here. Every model goes through ``edgemem.distill.run`` (ONNX export,
parity under ONNX Runtime, the analyzer's peak on the exported file).

Rows (``ROWS``): the ResNet-20 teacher; its 4x and 2x pooled students with the default method
(``auto``), KD, CE (no teacher) and RED+KD as in the anchor (fresh weights, strided stem), and
FitNets hints; blockwise distillation (``edgemem.distill.blockwise``) and online mutual learning
of cheap-convolution students (``dw``); WRN-40-2 and WRN-16-2 teachers with Moonshine
cheap-convolution students trained with AT, KD+AT and without a teacher.

Finished rows are appended to ``OUT/results.jsonl`` and never run again; a killed row continues
from its last epoch (its checkpoints live under ``OUT``). Two processes on the same ``--out``
split the rows (``distill_queue.RowQueue``). Each row records its accuracy, memory, training time
(the per-epoch times of every epoch, across resumes) and the machine's load average.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_queue import RowQueue  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset.npz"
ANCHOR = ("anchor (distill-methods.md, 24 epochs, one seed): teacher 81.70; 2x CE 78.90 / KD 80.55 / RED+KD 78.15; "
          "4x CE 69.45 / KD 72.30 / RED+KD 68.75")
FAMILIES = {"resnet20": "none", "wrn-40-2": "bf16", "wrn-16-2": "bf16"}  # teacher -> [train] autocast
ANCHOR_STUDENT = {"init": "scratch", "stem": "strided"}  # the anchor's pooled students


@dataclass(frozen=True)
class Row:
    name: str  # unique within a family and seed
    family: str
    model: str  # label of the model column
    method: str  # edgemem method name ("teacher" for the teacher row)
    spec: dict = field(default_factory=dict)  # StudentSpec fields
    config: dict = field(default_factory=dict)  # config tables merged over the family's (e.g. {"student": {...}})
    label: str = ""  # label of the method column


ROWS = (
    Row("teacher", "resnet20", "ResNet-20 teacher", "teacher", label="CE"),
    Row("x4-auto", "resnet20", "x4 pooled", "auto", {"pool_factor": 4}, label="default (auto)"),
    Row("x2-auto", "resnet20", "x2 pooled", "auto", {"pool_factor": 2}, label="default (auto)"),
    Row("x4-kd", "resnet20", "x4 pooled", "kd", {"pool_factor": 4, "red": False}, {"student": ANCHOR_STUDENT}, "KD"),
    Row("x2-kd", "resnet20", "x2 pooled", "kd", {"pool_factor": 2, "red": False}, {"student": ANCHOR_STUDENT}, "KD"),
    Row("x4-ce", "resnet20", "x4 pooled", "ce", {"pool_factor": 4, "red": False}, {"student": ANCHOR_STUDENT}, "CE (no teacher)"),
    Row("x2-ce", "resnet20", "x2 pooled", "ce", {"pool_factor": 2, "red": False}, {"student": ANCHOR_STUDENT}, "CE (no teacher)"),
    Row("x4-red_kd", "resnet20", "x4 pooled", "red_kd", {"pool_factor": 4}, {"student": ANCHOR_STUDENT}, "RED+KD"),
    Row("x2-red_kd", "resnet20", "x2 pooled", "red_kd", {"pool_factor": 2}, {"student": ANCHOR_STUDENT}, "RED+KD"),
    Row("x4-hint", "resnet20", "x4 pooled", "hint", {"pool_factor": 4, "red": False}, {"student": ANCHOR_STUDENT},
        "hints (FitNets)"),
    Row("blockwise", "resnet20", "ResNet-20 blockwise (separable)", "blockwise",
        # threshold 0.07: the reassembled student may drop 7 points before its KD fine-tune (which
        # recovered 4.6 points at 0.05); at 0.05 the cheap early blocks used the budget (1.88x smaller)
        config={"blockwise": {"epochs": 5, "activations": "on_the_fly", "threshold": 0.07}}, label="blockwise + KD"),
    Row("online-dw", "resnet20", "ResNet-20 dw (OD cheap), 2 peers", "online", {"conv": "dw"},
        {"student": {"online_students": 2}}, "online mutual"),
    Row("teacher", "wrn-40-2", "WRN-40-2 teacher", "teacher", label="CE"),
    Row("g8-kd_at", "wrn-40-2", "WRN-40-2 DConvG8 (Moonshine)", "kd_at", {"conv": "DConvG8"}, label="KD+AT"),
    Row("teacher", "wrn-16-2", "WRN-16-2 teacher", "teacher", label="CE"),
    Row("dw-at", "wrn-16-2", "WRN-16-2 DW", "at", {"conv": "DW"}, label="AT"),
    Row("dw-kd_at", "wrn-16-2", "WRN-16-2 DW", "kd_at", {"conv": "DW"}, label="KD+AT"),
    Row("dw-ce", "wrn-16-2", "WRN-16-2 DW", "ce", {"conv": "DW"}, label="CE (no teacher)"),
)


def key_of(row: Row, seed: int) -> str:
    return f"{row.family}/s{seed}/{row.name}"


def family_table(args, family: str, seed: int, teacher_weights: str | None = None, extra: dict | None = None) -> dict:
    train = {"threads": 1, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True,
             "schedule": "cosine", "autocast": FAMILIES[family]}
    data = {"augment": "crop_flip", **({"train_size": args.train_size} if args.train_size else {})}
    table = {"teacher": family, "dataset": "cifar10", "data_path": str(args.data), "epochs": args.epochs,
             "teacher_epochs": args.epochs, "train": train, "teacher_train": dict(train), "data": data, "seed": seed,
             "out": str(args.out / f"{family}-s{seed}"), "resume": True}
    if teacher_weights:
        table["teacher_weights"] = teacher_weights
    for section, values in (extra or {}).items():
        table[section] = {**table.get(section, {}), **values} if isinstance(values, dict) else values
    return table


class Log:
    """Progress sink: one line per epoch, load samples for the row record."""

    def __init__(self, key: str) -> None:
        self.key, self.loads = key, []

    def phase(self, name, epochs, steps_per_epoch, start_epoch=0):
        print(f"  {self.key}: {name}, {epochs} epochs" + (f", resuming after {start_epoch}" if start_epoch else ""), flush=True)

    def step(self, epoch, loss): ...
    def phase_end(self): ...
    def note(self, text): print(f"  {self.key}: {text}", flush=True)
    def blocks_planned(self, *args): ...
    def workers_status(self, statuses): ...
    def blocks_finished(self): ...

    def epoch_end(self, metrics):
        self.loads.append(os.getloadavg()[0])
        print(f"  {self.key}: epoch {metrics.epoch} loss {metrics.train_loss:.4f} acc {metrics.eval_accuracy * 100:.2f}% "
              f"{metrics.time_s:.0f} s, load {self.loads[-1]:.1f}", flush=True)


def run_row(row: Row, seed: int, args) -> dict:
    """Train one row through edgemem.distill.run; its record."""
    from distill_rows import run_blockwise, run_model

    key = key_of(row, seed)
    log = Log(key)
    teacher_file = args.out / f"{row.family}-s{seed}" / "teacher" / "teacher.pt"
    load_start, began = os.getloadavg()[0], time.perf_counter()
    if row.method == "blockwise":
        record = run_blockwise(row, family_table(args, row.family, seed, str(teacher_file), row.config), log)
    else:
        weights = None if row.method == "teacher" else str(teacher_file)
        record = run_model(row, family_table(args, row.family, seed, weights, row.config), log)
    loads = log.loads or [os.getloadavg()[0]]
    return {**record, "family": row.family, "seed": seed, "name": row.name, "model": row.model, "method": row.method,
            "label": row.label, "wall_s": time.perf_counter() - began, "load_start": load_start,
            "load_end": os.getloadavg()[0], "load_mean": statistics.mean(loads), "finished_at": time.time()}


def depends(row: Row, seed: int) -> list[str]:
    return [] if row.method == "teacher" else [f"{row.family}/s{seed}/teacher"]


def selected(args) -> list[tuple[str, Row, int]]:
    """(key, row, seed) in priority order: every row of seed 0, then of seed 1, ..."""
    pattern = re.compile(args.only) if args.only else None
    items = []
    for seed in args.seeds:
        for row in ROWS:
            key = key_of(row, seed)
            if pattern is None or pattern.search(key):
                items.append((key, row, seed))
    return items


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the subset .npz (x_train, y_train, x_val, y_val)")
    parser.add_argument("--out", type=Path, default=Path("runs/distill-cifar"), help="results, checkpoints, teachers")
    parser.add_argument("--epochs", type=int, default=24, help="epochs of every teacher and student")
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1])
    parser.add_argument("--only", default=None, help="regular expression over row keys (family/sSEED/name)")
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--report", action="store_true", help="print the table of finished rows and exit")
    parser.add_argument("--list", action="store_true", help="list the selected rows and their state, and exit")
    args = parser.parse_args(argv)
    args.data, args.out = args.data.resolve(), args.out.resolve()
    queue = RowQueue(args.out / "results.jsonl", args.out / "claims")
    items = selected(args)
    if args.list:
        done, running = queue.done(), set(queue.running())
        for key, _, _ in items:
            print(f"{key:<32} {'done' if key in done else 'running' if key.replace('/', '__') in running else 'todo'}")
        return 0
    if not args.report:
        if not args.data.is_file():
            print(f"distill_cifar: {args.data} is absent, so nothing was run; pass --data PATH to a CIFAR-10 .npz "
                  "(x_train, y_train, x_val, y_val)")
            return 0
        by_key = {key: (row, seed) for key, row, seed in items}
        print(f"CIFAR-10 subset {args.data}: {len(items)} rows, {args.epochs} epochs, results in {queue.results}", flush=True)
        for key in queue.take([k for k, _, _ in items], lambda k: depends(*by_key[k])):
            row, seed = by_key[key]
            print(f"{key}: start (load {os.getloadavg()[0]:.1f})", flush=True)
            record = run_row(row, seed, args)
            queue.finish(key, record)
            print(f"{key}: {record['accuracy']:.2f}% in {record['time_s']:.0f} s", flush=True)
    from distill_rows import print_table

    print_table(list(queue.done().values()), items)
    print(ANCHOR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
