"""ReDistill's tiny-ViT result on the CIFAR-10 subset: a pooled ViT student (patch stride x2)
distilled from a ViT teacher (and from a CNN teacher), against the same ViT trained alone.

    nice -n 19 .venv/bin/python benchmarks/distill_vit.py [--data ../shared/data/cifar10-subset.npz]
        [--part all|peaks|teacher|alone|default|distilled|kd|tokens-light|teacher-cnn|cnn|summary] [--seeds 0,1] [--epochs 10]
        [--teacher-epochs 10] [--train-size 10000] [--lr 0.02] [--threads 1] [--out runs/vit-cifar] [--json FILE]

Part ``peaks`` (no data needed): the analyzer's peak of ``vit-mini`` (patch 4) and ``vit-mini-pool``
(patch 2, a token pool between its two stages) and of their students for pool factors 1, 2, 4, next
to the live-set peak predicted from the token counts (students/vit.py ``predicted_peak_bytes``).

The training parts (the subset file: the first ``--train-size`` of its 20,000 training images, all
2,000 held-out ones, crop + flip, SGD nesterov lr ``--lr``, cosine, batch 128) run every model
through ``edgemem.distill.run`` (the code ``edgemem distill`` runs: ONNX export, parity under ONNX
Runtime, the analyzer): ``teacher`` trains ``vit-mini`` (seed 0; cached in OUT/teacher-vit-mini,
loaded with --teacher-weights by every student); ``alone`` trains the x2 student (patch 8) with CE
only; ``default`` as ``edgemem distill`` does with no options (``--method auto``: token_kd, KD +
token-map alignment at hint weight 0.1, from the teacher's weights); from fresh weights (as measured
before ``[student] init = "auto"``): ``distilled`` with token_kd at ``[loss] hint_weight = 1.0``
(its former default), ``kd`` with KD only, ``tokens-light`` with token_kd at hint weight 0.1;
``teacher-cnn`` trains a ``resnet20`` teacher (lr 0.05) and ``cnn`` the same ViT student of it
(``[student] arch = "vit-mini"``, token_kd at hint weight 1.0). ``alone`` needs no teacher, so it can run in another
process while ``teacher`` trains; ``all`` runs the parts in order.
Each part resumes after a kill (rerun the same command); ``summary`` tabulates the finished reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distill_denoise import PrintProgress, finish, parse_with_run_options  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset.npz"


def peak_table() -> list[dict]:
    from edgemem.distill.budget import measure_memory
    from edgemem.distill.students.derive import derive_student
    from edgemem.distill.students.probe import probe
    from edgemem.distill.students.spec import StudentSpec
    from edgemem.distill.students.vit import predicted_peak_bytes, token_layout
    from edgemem.distill.zoo import build_model

    rows, shape = [], (1, 3, 32, 32)
    for name in ("vit-mini", "vit-mini-pool"):
        teacher = build_model(name)
        for k in (1, 2, 4):
            model = derive_student(teacher, StudentSpec(k), shape).model
            layout = token_layout(model, probe(model, shape), name)
            measured = measure_memory(model, shape).peak_activation_bytes
            predicted = predicted_peak_bytes(layout, shape, heads=3)
            rows.append({"model": name, "k": k, "patch_stride": layout.stride, "tokens": layout.tokens_per_stage(),
                         "peak_bytes": measured, "predicted_bytes": predicted})
            print(f"{name} x{k}: patch stride {layout.stride}, tokens per stage {layout.tokens_per_stage()}, "
                  f"analyzer peak {measured:,} B, predicted {predicted:,} B", flush=True)
    return rows


class LineProgress(PrintProgress):
    def epoch_end(self, m):
        print(f"[{time.strftime('%H:%M:%S')}]   {self.name} epoch {m.epoch}: loss {m.train_loss:.4f} "
              f"accuracy {m.eval_accuracy:.2%} ({m.time_s:.0f} s)", flush=True)


def run(table: dict, teacher_only: bool = False) -> None:
    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.run import Context, distill, prepare_teacher

    config = config_from_mapping(table)
    if teacher_only:  # the teacher phase of a run, alone: trained and cached
        from edgemem.distill.data import load_dataset

        prepare_teacher(Context(config, load_dataset(config.dataset, config.data_path, config.data), LineProgress(), []))
        return
    distill(config, LineProgress())


TRAIN_PARTS = ("teacher", "alone", "default", "distilled", "kd", "tokens-light", "teacher-cnn", "cnn")
TEACHER_PARTS = ("teacher", "teacher-cnn")


def part_config(part: str, seed: int, args) -> dict:
    """The distill config of one part and seed."""
    train = {"threads": args.threads, "batch_size": 128, "lr": args.lr, "momentum": 0.9, "weight_decay": 5e-4,
             "nesterov": True, "schedule": "cosine"}
    base = {"dataset": "cifar10", "data_path": str(args.data), "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
            "train": train, "teacher_train": train, "data": {"augment": "crop_flip", "train_size": args.train_size},
            "resume": True, "seed": seed, "student": {"pool_factor": 2}, "out": str(args.out / f"{part}-s{seed}")}
    teacher_file = str(args.out / "teacher-vit-mini" / "teacher.pt")
    if part == "teacher":  # only the teacher phase runs (trained, cached in OUT/teacher-vit-mini)
        return {**base, "teacher": "vit-mini", "seed": 0, "method": "kd", "teacher_cache": str(args.out / "teacher-vit-mini")}
    cnn_train = {**train, "lr": 0.05}  # the project's CIFAR ResNet schedule
    if part == "teacher-cnn":
        return {**base, "teacher": "resnet20", "seed": 0, "method": "kd", "teacher_train": cnn_train,
                "teacher_cache": str(args.out / "teacher-resnet20")}
    if part == "alone":
        return {**base, "teacher": "vit-mini", "method": "ce"}
    if part == "default":  # what `edgemem distill` does with no options: auto = token_kd (hint 0.1), init auto = the teacher's
        return {**base, "teacher": "vit-mini", "teacher_weights": teacher_file, "method": "auto"}
    scratch = {"pool_factor": 2, "init": "scratch"}  # the rows below were measured from fresh weights (before init auto)
    if part in ("distilled", "kd", "tokens-light"):
        hint = {"distilled": 1.0, "tokens-light": 0.1}.get(part)  # 1.0: token_kd's former default
        return {**base, "teacher": "vit-mini", "teacher_weights": teacher_file, "method": "kd" if part == "kd" else "token_kd",
                "student": scratch, **({"loss": {"hint_weight": hint}} if hint is not None else {})}
    return {**base, "teacher": "resnet20", "method": "auto", "teacher_train": cnn_train, "loss": {"hint_weight": 1.0},
            "teacher_weights": str(args.out / "teacher-resnet20" / "teacher.pt"), "student": {"pool_factor": 2, "arch": "vit-mini"}}


def summarize(args, seeds) -> dict:
    """Rows of the finished parts (their report.json files)."""
    rows = {}
    for part in (p for p in TRAIN_PARTS if p not in TEACHER_PARTS):
        for seed in seeds:
            report = args.out / f"{part}-s{seed}" / "report.json"
            if report.is_file():
                doc = json.loads(report.read_text())
                rows[f"{part}-s{seed}"] = {role: None if doc.get(role) is None else
                                           {"accuracy": doc[role]["accuracy"], "peak_bytes": doc[role]["peak_activation_bytes"],
                                            "params": doc[role]["parameters"], "description": doc[role]["description"],
                                            "train_time_s": (doc[role].get("training") or {}).get("train_time_s")}
                                           for role in ("teacher", "student")} | {"method": doc["method"],
                                                                                   "parity": doc["parity_max_abs_diff"]}
    return rows


def print_summary(rows: dict, seeds) -> None:
    def values(part, role):
        return [rows[f"{part}-s{s}"][role]["accuracy"] * 100 for s in seeds
                if f"{part}-s{s}" in rows and rows[f"{part}-s{s}"][role] and rows[f"{part}-s{s}"][role]["accuracy"] is not None]

    lines = [("ViT teacher (vit-mini, patch 4)", values("distilled", "teacher")[:1]),
             ("x2 student (patch 8) alone, CE", values("alone", "student")),
             ("x2 student, the default (auto: token_kd, hint 0.1, the teacher's weights)", values("default", "student")),
             ("x2 student, KD + token alignment at weight 1.0, fresh weights", values("distilled", "student")),
             ("x2 student, KD only, fresh weights", values("kd", "student")),
             ("x2 student, KD + token alignment at weight 0.1, fresh weights", values("tokens-light", "student")),
             ("resnet20 teacher", values("cnn", "teacher")),
             ("x2 ViT student, KD + tokens (weight 1.0) from resnet20", values("cnn", "student"))]
    print("| model | accuracy % (seeds " + ",".join(map(str, seeds)) + ") | mean |")
    print("|---|---|---|")
    for label, found in lines:
        if found:
            print(f"| {label} | {', '.join(f'{v:.2f}' for v in found)} | {statistics.mean(found):.2f} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--part", default="all", choices=("all", "peaks", *TRAIN_PARTS, "summary"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--teacher-epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--lr", type=float, default=0.02)
    args = parse_with_run_options(parser, argv, Path("runs/vit-cifar"))
    started = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    document = {}
    if args.part in ("all", "peaks"):
        document["peaks"] = peak_table()
    parts = TRAIN_PARTS if args.part == "all" else (args.part,) if args.part in TRAIN_PARTS else ()
    if parts and not args.data.is_file():
        print(f"distill_vit: {args.data} is absent, so no model was trained")
        parts = ()
    for part in parts:
        for seed in ([0] if part in TEACHER_PARTS else seeds):
            run(part_config(part, seed, args), teacher_only=part in TEACHER_PARTS)
    document["runs"] = summarize(args, seeds)
    print_summary(document["runs"], seeds)
    return finish(document, args.json, started)


if __name__ == "__main__":
    sys.exit(main())
