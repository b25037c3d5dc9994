"""ReDistill's tiny-ViT result on the CIFAR-10 subset: a pooled ViT student (patch stride x2)
distilled from a ViT teacher and from a CNN teacher, against the same ViT trained alone.

    nice -n 19 .venv/bin/python benchmarks/distill_vit.py [--data ../shared/data/cifar10-subset.npz]
        [--epochs 15] [--teacher-epochs 15] [--seeds 0,1] [--lr 0.02] [--threads 1]
        [--out runs/vit-cifar] [--json FILE] [--no-cnn]

Part 1 (no data needed): the analyzer's peak of ``vit-mini`` (patch 4) and ``vit-mini-pool``
(patch 2, a token pool between its two stages) and of their students for pool factors 1, 2, 4, next
to the live-set peak predicted from the token counts (students/vit.py ``predicted_peak_bytes``).

Part 2 (the subset file, 20,000 training / 2,000 held-out images, crop + flip, SGD nesterov,
cosine, batch 128): every model through ``edgemem.distill.run`` (the code ``edgemem distill``
runs: ONNX export, parity under ONNX Runtime, the analyzer). Teacher ``vit-mini`` (trained once,
seed 0; later seeds load it with --teacher-weights); the x2 student (patch 8) trained alone (CE, the
``--baseline``), with KD, and with KD + token-map alignment (``token_kd``) for every seed; and the
same student of a ``resnet20`` teacher (``[student] arch = "vit-mini"``, token_kd, first seed).
Resumable: rerun the same command after a kill; finished phases are reused from ``--out``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


class LineProgress:
    def phase(self, name, epochs, steps_per_epoch, start_epoch=0):
        self.name = name
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {epochs} epochs" + (f" (after epoch {start_epoch})" if start_epoch else ""), flush=True)

    def step(self, epoch, loss): ...

    def epoch_end(self, m):
        print(f"[{time.strftime('%H:%M:%S')}]   {self.name} epoch {m.epoch}: loss {m.train_loss:.4f} "
              f"accuracy {m.eval_accuracy:.2%} ({m.time_s:.0f} s)", flush=True)

    def phase_end(self): ...

    def note(self, text):
        print(f"[{time.strftime('%H:%M:%S')}] note: {text}", flush=True)


def run(table: dict) -> dict:
    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.run import distill

    result = distill(config_from_mapping(table), LineProgress())
    rows = {"student": result.student, "baseline": result.baseline, "teacher": result.teacher}
    return {role: None if m is None else {"accuracy": m.accuracy, "peak_bytes": m.peak_activation_bytes, "params": m.parameters,
                                           "method": m.training.method if m.training else "given",
                                           "time_s": m.training.train_time_s if m.training else 0.0, "description": m.description}
            for role, m in rows.items()} | {"parity": result.parity_max_abs_diff}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--teacher-epochs", type=int, default=15)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/vit-cifar"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--no-cnn", action="store_true", help="skip the resnet20 teacher")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    document = {"peaks": peak_table(), "runs": {}}
    if not args.data.is_file():
        print(f"distill_vit: {args.data} is absent, so part 2 was not run")
        return 0
    train = {"threads": args.threads, "batch_size": 128, "lr": args.lr, "momentum": 0.9, "weight_decay": 5e-4,
             "nesterov": True, "schedule": "cosine"}
    base = {"dataset": "cifar10", "data_path": str(args.data), "epochs": args.epochs, "teacher_epochs": args.teacher_epochs,
            "train": train, "teacher_train": train, "data": {"augment": "crop_flip"}, "resume": True,
            "student": {"pool_factor": 2}}
    teacher_cache = args.out / "teacher-vit-mini"
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        given = {} if seed == seeds[0] else {"teacher_weights": str(teacher_cache / "teacher.pt")}
        common = {**base, "teacher": "vit-mini", "seed": seed, "teacher_cache": str(teacher_cache), **given}
        document["runs"][f"s{seed}-token_kd"] = run({**common, "method": "token_kd", "baseline": True, "out": str(args.out / f"s{seed}-token")})
        document["runs"][f"s{seed}-kd"] = run({**common, "method": "kd", "out": str(args.out / f"s{seed}-kd")})
        if seed == seeds[0] and not args.no_cnn:
            cnn = {**base, "teacher": "resnet20", "seed": seed, "method": "auto", "teacher_cache": str(args.out / "teacher-resnet20"),
                   "student": {"pool_factor": 2, "arch": "vit-mini"}, "out": str(args.out / f"s{seed}-cnn")}
            document["runs"][f"s{seed}-cnn"] = run(cnn)
        print_summary(document["runs"], seeds)
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(document, indent=2, default=str))
    return 0


def print_summary(runs: dict, seeds) -> None:
    def acc(key, role):
        values = [runs[f"s{s}-{key}"][role]["accuracy"] * 100 for s in seeds if f"s{s}-{key}" in runs]
        return values

    lines = [("ViT teacher (vit-mini, patch 4)", acc("token_kd", "teacher")), ("x2 student alone (CE)", acc("token_kd", "baseline")),
             ("x2 student, KD from the ViT", acc("kd", "student")), ("x2 student, KD + tokens from the ViT", acc("token_kd", "student")),
             ("resnet20 teacher", acc("cnn", "teacher")), ("x2 ViT student, KD + tokens from resnet20", acc("cnn", "student"))]
    print("| model | accuracy % (per seed) | mean |")
    print("|---|---|---|")
    for label, values in lines:
        if values:
            print(f"| {label} | {', '.join(f'{v:.2f}' for v in values)} | {statistics.mean(values):.2f} |")


if __name__ == "__main__":
    sys.exit(main())
