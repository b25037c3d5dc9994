"""MNIST-1D, generated locally: how much of what aggressive pooling costs do KD and RED+KD win back?

    nice .venv/bin/python benchmarks/distill_mnist1d.py [--seeds 0,1] [--epochs 30] [--factors 4,2]
                                                       [--train-size 1000] [--out DIR] [--json FILE]

Protocol (shared/reference/distill-methods.md, b6): ``mnist1d.make_dataset`` signals (the first 1,000
of the 4,000 training signals, the 1,000 test signals); teacher ``resnet1d`` (width 96, strides 1/2/2)
trained with cross-entropy; students of half width (0.5) with every downsampling moved into the
stem by a factor k (ReDistill aggressive pooling, part A's derivation), each trained three ways:
without a teacher (CE), with KD (0.1 CE + 0.9 T^2 KL, T = 4) and with RED+KD (RED blocks at the
moved points, 0.5 KD mix + 0.5 * 50 * mean RED cosine distance). SGD nesterov lr 0.05, momentum
0.9, weight decay 5e-4, cosine schedule, batch 128, one thread. Everything runs through
``edgemem.distill.run`` (the code ``edgemem distill`` runs): the ONNX export with its parity check
and the analyzer's peak for every model. Prints per-model rows and the mean +- std over seeds,
with each method's gain over CE at the same k. ``--red-after relu`` adds a diagnostic RED+KD
variant with the RED block after the stem's activation instead of at the derivation's point (the
stem convolution's output, before its BatchNorm, as ReDistill's ResNet configs name it). Targets of issue 4 at k = 4: KD >= CE + 1.0 point,
RED+KD >= CE + 2.5 points.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edgemem.distill.config import config_from_mapping  # noqa: E402
from edgemem.distill.data import load_dataset  # noqa: E402
from edgemem.distill.run import Context, SilentProgress, prepare_teacher, summarize, train_student  # noqa: E402
from edgemem.distill.students.spec import StudentSpec  # noqa: E402
from edgemem.units import format_bytes  # noqa: E402

METHODS = (("ce", "CE (no teacher)", False), ("kd", "KD", False), ("red_kd", "RED+KD", True))
TARGETS = {4: {"kd": 1.0, "red_kd": 2.5}}


class Log(SilentProgress):
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def epoch_end(self, metrics) -> None:
        if not self.quiet and metrics.epoch % 10 == 0:
            print(f"    epoch {metrics.epoch}: loss {metrics.train_loss:.4f} acc {metrics.eval_accuracy * 100:.2f}%", flush=True)


def run_grid(table: dict, seeds, factors, width: float, out: Path, quiet: bool = False, teacher_label: str = "teacher",
             red_after: str | None = None) -> list[dict]:
    """Teacher, then students k x method per seed, through edgemem.distill.run; one row per model."""
    import edgemem.distill.budget  # noqa: F401  (import every stage up front: a long run never meets a half-edited tree)
    import edgemem.distill.export  # noqa: F401
    import edgemem.distill.students.derive  # noqa: F401
    import edgemem.distill.taps  # noqa: F401
    import edgemem.distill.teacher  # noqa: F401
    import edgemem.distill.trainers.standard  # noqa: F401

    rows = []
    for seed in seeds:
        config = config_from_mapping({**table, "seed": seed, "out": str(out / f"seed{seed}")})
        ctx = Context(config, load_dataset(config.dataset, config.data_path, config.data), Log(quiet), [])
        print(f"seed {seed}: {ctx.dataset.describe()}", flush=True)
        start = time.perf_counter()
        teacher, training = prepare_teacher(ctx)
        summary = summarize(ctx, "teacher", teacher, teacher_label, training)
        rows.append(_row(seed, 0, "teacher", summary, time.perf_counter() - start))
        print(f"  teacher: {summary.accuracy * 100:.2f}% ({rows[-1]['time_s']:.0f} s)", flush=True)
        for k in factors:
            for method, label, red in METHODS:
                spec = StudentSpec(pool_factor=k, width=width, red=red)
                start = time.perf_counter()
                student, parity, _ = train_student(ctx, teacher, spec, f"k{k}-{method}", method,
                                                   config.out_dir / f"k{k}-{method}")
                rows.append(_row(seed, k, method, replace(student, description=student.description), time.perf_counter() - start,
                                 parity))
                print(f"  k={k} {label}: {student.accuracy * 100:.2f}% ({rows[-1]['time_s']:.0f} s, "
                      f"parity {parity:.1e})", flush=True)
            if red_after:
                start = time.perf_counter()
                student, parity = train_red_after(ctx, teacher, k, width, red_after)
                rows.append(_row(seed, k, "red_kd_after", student, time.perf_counter() - start, parity))
                print(f"  k={k} RED+KD, RED after {red_after}: {student.accuracy * 100:.2f}%", flush=True)
    return rows


def train_red_after(ctx, teacher, k: int, width: float, module: str):
    """Diagnostic variant: one RED block at the output of ``module`` (e.g. the stem's activation)
    instead of the derivation's points, paired with the teacher feature of the derivation's stem pair."""
    from edgemem.distill.run import build_student, export_student, run_training
    from edgemem.distill.students.red import attach_red

    reference = build_student(ctx, teacher, StudentSpec(pool_factor=k, width=width, red=True)).red_pairs[0]
    spec = StudentSpec(pool_factor=k, width=width, red=False)
    student = build_student(ctx, teacher, spec)
    point = attach_red(student.model, module, False, reference.channels, len(ctx.input_shape) - 2)
    folder = ctx.config.out_dir / f"k{k}-red_kd-after-{module}"
    outcome = run_training(ctx, f"k{k}-red_kd@{module}", student.model, teacher, [(point, reference.teacher_point)],
                           "red_kd", ctx.config.train, folder / "checkpoint", f"red-after-{module}-{k}-{ctx.config.seed}")
    return export_student(ctx, outcome, spec, "student", folder, f"{student.description}; RED after {module}")


def _row(seed, k, method, summary, seconds, parity=None) -> dict:
    return {"seed": seed, "k": k, "method": method, "accuracy": summary.accuracy * 100,
            "peak_activation_bytes": summary.peak_activation_bytes, "arena_bytes": summary.arena_bytes,
            "weights_bytes": summary.weights_bytes, "parameters": summary.parameters, "time_s": seconds,
            "parity": parity, "description": summary.description}


def print_grid(rows: list[dict], targets: dict) -> bool:
    """Mean +- std per (k, method), gains over CE at the same k, and the targets; True when all are met."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["k"], row["method"]), []).append(row)
    ce = {k: statistics.mean(r["accuracy"] for r in g) for (k, m), g in groups.items() if m == "ce"}
    names = {"teacher": "teacher", "red_kd_after": "RED+KD (RED@act)", **{m: label for m, label, _ in METHODS}}
    print()
    print(f"{'model':<10} {'method':<16} {'accuracy %':>15} {'vs CE':>7} {'peak act.':>10} {'arena':>10} {'weights':>10} "
          f"{'params':>9} {'time/model':>10}")
    ok = True
    for (k, method), group in groups.items():
        accs = [r["accuracy"] for r in group]
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        gain = statistics.mean(accs) - ce[k] if k in ce and method != "ce" else None
        r0 = group[0]
        print(f"{'teacher' if k == 0 else f'x{k} pooled':<10} {names[method]:<16} {statistics.mean(accs):>8.2f} +- {spread:<4.2f}"
              f" {'' if gain is None else f'{gain:+.2f}':>7} {format_bytes(r0['peak_activation_bytes']):>10} "
              f"{format_bytes(r0['arena_bytes']):>10} {format_bytes(r0['weights_bytes']):>10} {r0['parameters']:>9,} "
              f"{statistics.mean(r['time_s'] for r in group):>8.0f} s")
    seeds = sorted({r["seed"] for r in rows})
    print(f"(mean +- sample std over seeds {seeds}; vs CE = mean gain in points over the CE student at the same k)")
    for k, wanted in targets.items():
        for method, points in wanted.items():
            if (k, method) not in groups or k not in ce:
                continue
            gain = statistics.mean(r["accuracy"] for r in groups[(k, method)]) - ce[k]
            met = gain >= points
            ok &= met
            print(f"target x{k} {names[method]} >= CE + {points:.1f}: {gain:+.2f} -> {'met' if met else 'NOT met'}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--factors", default="4,2", help="pool factors of the students")
    parser.add_argument("--width", type=float, default=0.5, help="student width multiplier")
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="keep checkpoints and ONNX files here (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-model rows to this file")
    parser.add_argument("--red-after", default=None, metavar="MODULE",
                        help="also train RED+KD with one RED block after MODULE (e.g. relu: the stem's activation of resnet1d)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    train = {"threads": args.threads, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True,
             "schedule": "cosine"}
    table = {"teacher": "resnet1d", "dataset": "mnist1d", "epochs": args.epochs, "teacher_epochs": args.epochs,
             "train": train, "teacher_train": train, "data": {"train_size": args.train_size},
             "student": {"init": "scratch", "stem": "strided"}}  # the reference's students (issue 4's targets)
    seeds = [int(s) for s in args.seeds.split(",")]
    factors = [int(k) for k in args.factors.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgemem-mnist1d-") as tmp:
        rows = run_grid(table, seeds, factors, args.width, args.out or Path(tmp), args.quiet, teacher_label="resnet1d w96",
                        red_after=args.red_after)
    ok = print_grid(rows, TARGETS)
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
