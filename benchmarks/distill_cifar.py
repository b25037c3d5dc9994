"""CIFAR-10 subset: a ResNet-20 teacher, then 2x and 4x aggressively pooled students trained without a
teacher (CE), with KD and with RED+KD; accuracy, peak activation memory, weights and time.

    nice .venv/bin/python benchmarks/distill_cifar.py [--data ../shared/data/cifar10-subset.npz]
                                                     [--epochs 10] [--teacher-epochs 10] [--train-size 20000]
                                                     [--factors 2,4] [--seeds 0] [--threads 2] [--out DIR] [--json FILE]

Trains on ``x_train`` (20,000 images) and reports on ``x_val`` (2,000) of the subset file; when the
file is absent it says so and exits. Protocol of the anchor in distill-methods.md (ResNet-20
16/32/64, stem stride 1, stages 1/2/2; students by ReDistill's rule: 2x = stem 2, stages 1/1/2;
4x = stem 4, stages 1/1/1; SGD nesterov lr 0.05, momentum 0.9, wd 5e-4, cosine, batch 128,
random crop + flip), except the epochs: the default 10 (instead of 24) keeps the whole run near
30-40 minutes on 2 CPU cores; ``--epochs 24 --teacher-epochs 24`` is the anchor's schedule. Every
model goes through ``edgemem.distill.run`` (ONNX export, parity check under ONNX Runtime, the
analyzer's peak); the trained teacher is cached in ``--out`` when one is given, so a longer student
run can reuse it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_mnist1d import print_grid, run_grid  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset.npz"
ANCHOR = ("anchor (distill-methods.md, 24 epochs): teacher 81.70; 2x CE 78.90 / KD 80.55 / RED+KD 78.15; "
          "4x CE 69.45 / KD 72.30 / RED+KD 68.75")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the subset .npz (x_train, y_train, x_val, y_val)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each student")
    parser.add_argument("--teacher-epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--factors", default="2,4")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="keep checkpoints, ONNX files and the teacher cache here")
    parser.add_argument("--json", type=Path, default=None, help="also write the per-model rows to this file")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"distill_cifar: {args.data} is absent, so nothing was run; pass --data PATH to a CIFAR-10 .npz "
              "(x_train, y_train, x_val, y_val) or a cifar-10-batches-py folder")
        return 0
    train = {"threads": args.threads, "batch_size": 128, "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": True,
             "schedule": "cosine"}
    table = {"teacher": "resnet20", "dataset": "cifar10", "data_path": str(args.data), "epochs": args.epochs,
             "teacher_epochs": args.teacher_epochs, "train": train, "teacher_train": train,
             "data": {"augment": "crop_flip", **({"train_size": args.train_size} if args.train_size else {})}}
    print(f"CIFAR-10 subset {args.data}: teacher {args.teacher_epochs} epochs, students {args.epochs} epochs, "
          f"factors {args.factors}, seeds {args.seeds}, {args.threads} threads")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgemem-cifar-") as tmp:
        rows = run_grid(table, [int(s) for s in args.seeds.split(",")], [int(k) for k in args.factors.split(",")], 1.0,
                        args.out or Path(tmp), args.quiet, teacher_label="resnet20")
    print_grid(rows, {})
    print(ANCHOR)
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
