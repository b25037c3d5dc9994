"""How the default of pooled students was chosen: one knob at a time on the CIFAR-10 subset; resumable.

    nice -n 19 .venv/bin/python benchmarks/distill_recipe.py --teacher-weights runs/distill-cifar/resnet20-s0/teacher/teacher.pt
    .venv/bin/python benchmarks/distill_recipe.py --out runs/distill-recipe --report

Short protocol (so that a row takes minutes, not an hour, on the 2-core machine): the first 5,000
training images of the subset, 10 epochs, seed 0, reported on ``x_val``; the teacher is a finished
ResNet-20 of ``benchmarks/distill_cifar.py`` (24 epochs, all 20,000 images), given with
``--teacher-weights``. Every row trains the x4 (or x2) pooled ResNet-20 through
``edgemem.distill.run`` (the code ``edgemem distill`` runs) with the schedule of distill_cifar.py;
rows differ from the row above them in one knob. Finished rows are appended to
``OUT/results.jsonl``; a killed row continues from its last epoch.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from distill_cifar import DEFAULT_DATA, Row, key_of, run_row  # noqa: E402
from distill_queue import RowQueue  # noqa: E402

SCRATCH = {"init": "scratch", "stem": "strided"}
TEACHER = {"init": "teacher", "stem": "strided"}


def _row(name: str, k: int, method: str, student: dict, loss: dict | None = None, label: str = "") -> Row:
    spec = {"pool_factor": k, "red": method in ("red", "red_kd")}
    config = {"student": student, **({"loss": loss} if loss else {})}
    return Row(name, "resnet20", f"x{k} pooled", method, spec, config, label or name)


RECIPE = (
    _row("x4-kd-scratch", 4, "kd", SCRATCH, label="KD, fresh weights (the anchor's)"),
    _row("x4-kd-scratch-patchify", 4, "kd", {**SCRATCH, "stem": "patchify"}, label="  + patchify stem"),
    _row("x4-kd-teacher", 4, "kd", TEACHER, label="KD, teacher's weights"),
    _row("x4-kd-teacher-patchify", 4, "kd", {**TEACHER, "stem": "patchify"}, label="  + patchify stem"),
    _row("x4-kd-teacher-sampled", 4, "kd", {**TEACHER, "stem": "patchify_sampled"}, label="  + patchify_sampled stem"),
    _row("x4-kd-teacher-T2", 4, "kd", TEACHER, {"temperature": 2.0}, "  T = 2"),
    _row("x4-kd-teacher-pure", 4, "kd", TEACHER, {"ce_weight": 0.0, "kd_weight": 1.0}, "  KD only (no CE)"),
    _row("x4-kd-teacher-ls", 4, "kd", TEACHER, {"label_smoothing": 0.1}, "  label smoothing 0.1"),
    _row("x4-red_kd-paper", 4, "red_kd", TEACHER, {"ce_weight": 0.5, "kd_weight": 0.25, "temperature": 2.0,
                                                     "red_weight": 12.5}, "RED+KD, ReDistill's weights"),
    _row("x4-kd_at", 4, "kd_at", TEACHER, label="KD + AT (stage pairs)"),
    _row("x4-kd_hint1", 4, "kd_hint", TEACHER, {"hint_weight": 1.0}, "KD + hints, weight 1"),
    _row("x4-kd_hint5", 4, "kd_hint", TEACHER, {"hint_weight": 5.0}, "KD + hints, weight 5"),
    _row("x4-kd_hint20", 4, "kd_hint", TEACHER, label="KD + hints, weight 20 (default)"),
    _row("x4-kd_hint5-warm1", 4, "kd_hint", TEACHER, {"hint_weight": 5.0, "warmup_epochs": 1}, "  weight 5 + warm-up 1"),
    _row("x4-kd_hint20-warm1", 4, "kd_hint", TEACHER, {"warmup_epochs": 1}, "  weight 20 + warm-up 1"),
    _row("x4-kd_at_hint5", 4, "kd_at", TEACHER, {"hint_weight": 5.0}, "KD + AT + hints 5"),
    _row("x2-kd-scratch", 2, "kd", SCRATCH, label="KD, fresh weights (the anchor's)"),
    _row("x2-kd-teacher", 2, "kd", TEACHER, label="KD, teacher's weights"),
    _row("x2-kd_hint20", 2, "kd_hint", TEACHER, label="KD + hints, weight 20 (default)"),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--teacher-weights", type=Path, help="a finished ResNet-20 teacher.pt (distill_cifar.py)")
    parser.add_argument("--out", type=Path, default=Path("runs/distill-recipe"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="regular expression over row names")
    parser.add_argument("--report", action="store_true", help="print the finished rows and exit")
    args = parser.parse_args(argv)
    args.data, args.out = args.data.resolve(), args.out.resolve()
    queue = RowQueue(args.out / "results.jsonl", args.out / "claims")
    rows = {key_of(row, args.seed): row for row in RECIPE if not args.only or re.search(args.only, row.name)}
    if not args.report:
        if args.teacher_weights is None or not args.teacher_weights.is_file() or not args.data.is_file():
            print("distill_recipe: needs --teacher-weights FILE (a finished teacher of distill_cifar.py) and --data; "
                  "nothing was run")
            return 0
        teacher = args.out / f"resnet20-s{args.seed}" / "teacher" / "teacher.pt"
        teacher.parent.mkdir(parents=True, exist_ok=True)
        teacher.write_bytes(args.teacher_weights.read_bytes())  # where run_row looks for the family's teacher
        args.seeds = [args.seed]
        for key in queue.take(list(rows), lambda key: []):
            record = run_row(rows[key], args.seed, args)
            queue.finish(key, record)
            print(f"{key}: {record['accuracy']:.2f}% in {record['time_s']:.0f} s", flush=True)
    done = queue.done()
    print(f"\n{'row':<26} {'what changed':<34} {'accuracy %':>10} {'time':>7}")
    for key, row in rows.items():
        if key in done:
            print(f"{row.name:<26} {row.label:<34} {done[key]['accuracy']:>10.2f} {done[key]['time_s']:>5.0f} s")
    print(f"({args.train_size} training images, {args.epochs} epochs, seed {args.seed}; x_val accuracy, last epoch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
