"""ReDistill's DDPM result on the CIFAR-10 subset: a U-Net noise predictor, its x2 pooled student
distilled from the teacher's noise predictions (``--method``: auto = kd; red / red_kd add RED
blocks and features), and the same student trained alone; held-out denoising loss, sample quality,
and the analyzer's peak memory.

    nice -n 19 .venv/bin/python benchmarks/distill_denoise.py [--data ../shared/data/cifar10-subset.npz]
        [--part all|peaks|baseline|run|bands] [--teacher ddpm-unet-small] [--epochs 3] [--teacher-epochs 3]
        [--train-size 10000] [--batch-size 32] [--samples 256] [--sample-steps 50] [--quality-epochs 4]
        [--method auto|kd|red|red_kd] [--init auto|scratch|teacher] [--stem auto|strided|patchify] [--teacher-weights FILE]
        [--threads 1] [--out runs/denoise-cifar] [--json FILE]

Part 1 (no data needed): the analyzer on ReDistill's own configuration, ``ddpm-unet`` (ch 128,
ch_mult [1,2,2,2], pool strides [1,2,2,2]) against its x2 student ([2,2,2,1], with the ten RED
blocks), at 32x32 and at 64x64; the two resolutions separate the spatial part of each peak (which
scales with the pixel count) from the resolution-independent part (timestep embedding).

Part 2 (the subset file, its first ``--train-size`` training images): everything through ``edgemem.distill.denoise.run`` (the code
``edgemem distill --task denoise`` runs) with ``--baseline``: the teacher trained on the true noise,
the student (``--method``), the baseline student alone (fresh weights); ONNX export, parity under
ONNX Runtime, the analyzer, the held-out loss on ``x_val`` (2,000 images x 4 draws), ``--samples``
DDIM samples per model, their grid (OUT/<role>/samples.png) and their Fréchet distance in the
features of a classifier trained by the run. Resumable: rerun the same command after a kill; finished
phases, the teacher and the samples are reused from ``--out``. ``--part baseline`` trains only the
baseline student (it needs no teacher) into the same folder, so it can run in a second process while
``--part run`` trains the teacher; the run then finds it finished. ``all`` = peaks, then run.

Part 3 (``--part bands --models FILE...``): where two models differ, as the held-out loss per timestep band
(``evaluate.band_losses``: the first ``--band-images`` held-out images, one draw per image and band) of
each file, a teacher's state dict or a run's ``student.pt`` / ``baseline.pt``, with its ratio to the first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset.npz"


class PrintProgress:
    """Progress as plain lines (one per epoch / phase), for logs."""

    def phase(self, name, epochs, steps_per_epoch, start_epoch=0):
        self.name, self.began = name, time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {epochs} x {steps_per_epoch} steps"
              + (f", continuing after epoch {start_epoch}" if start_epoch else ""), flush=True)

    def step(self, epoch, loss): ...

    def epoch_end(self, m):
        print(f"[{time.strftime('%H:%M:%S')}]   {self.name} epoch {m.epoch}: loss {m.train_loss:.4f}, "
              f"held-out (256 images) {m.monitor_loss:.4f}, {m.time_s:.0f} s", flush=True)

    def phase_end(self): ...

    def note(self, text):
        print(f"[{time.strftime('%H:%M:%S')}] note: {text}", flush=True)


def peak_check(resolutions=(32, 64)) -> dict:
    """Analyzer peaks of ddpm-unet and its x2 RED student; spatial and constant parts from two resolutions."""
    from edgemem.distill.budget import measure_memory
    from edgemem.distill.students.derive import derive_student
    from edgemem.distill.students.spec import StudentSpec
    from edgemem.distill.zoo.ddpm import ddpm_unet

    teacher = ddpm_unet()
    teacher.edgemem_name = "ddpm-unet"
    peaks = {}
    for size in resolutions:
        shape = (1, 3, size, size)
        student = derive_student(teacher, StudentSpec(2), shape)
        peaks[size] = (measure_memory(teacher, shape).peak_activation_bytes, measure_memory(student.model, shape).peak_activation_bytes)
        print(f"ddpm-unet at {size}x{size}: teacher {peaks[size][0]:,} B, x2 student with {len(student.red_pairs)} RED blocks "
              f"{peaks[size][1]:,} B: {peaks[size][0] / peaks[size][1]:.4f}x lower", flush=True)
    low, high = resolutions
    scale = (high / low) ** 2
    parts = {}
    for index, role in enumerate(("teacher", "student")):
        spatial = (peaks[high][index] - peaks[low][index]) / (scale - 1)
        parts[role] = {"spatial_bytes": spatial, "constant_bytes": peaks[low][index] - spatial}
    print(f"spatial part of the peak at {low}x{low}: teacher {parts['teacher']['spatial_bytes']:,.0f} B, student "
          f"{parts['student']['spatial_bytes']:,.0f} B ({parts['teacher']['spatial_bytes'] / parts['student']['spatial_bytes']:.4f}x); "
          f"resolution-independent part {parts['teacher']['constant_bytes']:,.0f} / {parts['student']['constant_bytes']:,.0f} B", flush=True)
    return {"peaks": {str(k): v for k, v in peaks.items()}, "parts": parts}


def subset_config(args):
    from edgemem.distill.config import config_from_mapping

    train = {"threads": args.threads, "batch_size": args.batch_size, "eval_batch_size": 256}
    table = {"task": "denoise", "teacher": args.teacher, "dataset": "cifar10", "data_path": str(args.data),
             "epochs": args.epochs, "teacher_epochs": args.teacher_epochs, "baseline": True, "resume": True, "out": str(args.out),
             "train": train, "teacher_train": train, "student": {"pool_factor": 2, "init": args.init, "stem": args.stem}, "method": args.method,
             **({"teacher_weights": str(args.teacher_weights)} if args.teacher_weights else {}),
             "data": {"train_size": args.train_size} if args.train_size else {},
             "denoise": {"lr": args.lr, "warmup_steps": 200, "ema_decay": args.ema, "num_samples": args.samples,
                         "sample_steps": args.sample_steps, "grid_samples": 64, "quality_epochs": args.quality_epochs}}
    return config_from_mapping(table)


def run_subset(args) -> dict:
    from edgemem.distill.denoise.run import distill_denoise

    return distill_denoise(subset_config(args), PrintProgress()).to_json()


def train_baseline(args) -> None:
    """The baseline phase of the run alone (CE on the true noise needs no teacher), into the run's folder."""
    import torch

    from edgemem.distill.denoise.data import load_images
    from edgemem.distill.denoise.models import build_denoiser
    from edgemem.distill.denoise.run import DENOISE_STEM, DenoiseContext, train_student
    from edgemem.distill.denoise.schedule import NoiseSchedule
    from edgemem.distill.students.spec import StudentSpec

    config = subset_config(args)
    torch.set_num_threads(args.threads)
    o = config.denoise
    ctx = DenoiseContext(config, load_images(config.dataset, config.data_path, config.data),
                         NoiseSchedule(o.num_timesteps, o.beta_1, o.beta_T), PrintProgress(), [], torch.device("cpu"))
    # the baseline trains alone from fresh weights (train_student), so no teacher is needed
    source = build_denoiser(config.teacher, ctx.data.x_train.shape[1])
    spec = StudentSpec(pool_factor=2, red=False, stem=DENOISE_STEM if args.stem == "auto" else args.stem)
    train_student(ctx, source, spec, "baseline", "ce", config.out_dir / "baseline")


def band_table(args) -> dict:
    """Held-out loss per timestep band (evaluate.band_losses, the first --band-images held-out images) of
    every --models file (a teacher's state dict or a run's student.pt / baseline.pt), and each model's
    ratio to the first, band by band."""
    import torch

    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.denoise.data import load_images
    from edgemem.distill.denoise.evaluate import BAND_EDGES, band_losses
    from edgemem.distill.denoise.schedule import NoiseSchedule

    torch.set_num_threads(args.threads)
    config = config_from_mapping({"task": "denoise", "teacher": args.teacher, "dataset": "cifar10", "data_path": str(args.data),
                                  "budget": "1GiB", "data": {"train_size": args.train_size} if args.train_size else {}})
    images = load_images(config.dataset, config.data_path, config.data).x_test[:args.band_images]
    rows = {str(path): band_losses(load_scored(path, args.teacher), NoiseSchedule(), images) for path in args.models}
    edges = list(zip(BAND_EDGES, BAND_EDGES[1:]))
    print("| model | " + " | ".join(f"t in [{a},{b})" for a, b in edges) + " |")
    print("|---|" + "---|" * len(edges))
    first = next(iter(rows.values()))
    for name, losses in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" + (f" ({v / f:.2f}x)" if losses is not first else "") for v, f in zip(losses, first)) + " |")
    return {"edges": list(BAND_EDGES), "images": len(images), "losses": rows}


def load_scored(path: Path, teacher: str):
    """A trained denoiser from ``path``: a state dict of ``teacher``, or a student file of a run (with its spec)."""
    import torch

    from edgemem.distill.denoise.models import build_denoiser
    from edgemem.distill.students.derive import derive_student
    from edgemem.distill.students.spec import StudentSpec
    from edgemem.distill.teacher import read_state_dict

    stored = torch.load(path, map_location="cpu", weights_only=True)
    spec = stored.get("spec") if isinstance(stored, dict) else None
    model = build_denoiser(teacher, 3)
    if spec:
        model = derive_student(model, StudentSpec(**spec), (1, 3, 32, 32)).model
    model.load_state_dict(read_state_dict(path))
    return model.eval()


def print_table(document: dict) -> None:
    teacher = document["teacher"]
    print(f"\n{document['dataset']}")
    print("| model | pool strides | held-out loss | vs teacher | Fréchet distance | peak act. | weights | params | parity | train time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for role in ("teacher", "student", "baseline"):
        m = document.get(role)
        if not m:
            continue
        quality = m.get("quality") or {}
        training = m.get("training") or {}
        print(f"| {role} ({(training.get('method') or 'given')}) | {m['pool_strides']} | {m['heldout_loss']:.4f} | "
              f"{m['heldout_loss'] / teacher['heldout_loss']:.3f}x | {quality.get('frechet_distance', float('nan')):.2f} | "
              f"{m['peak_activation_bytes']:,} B | {m['weights_bytes'] / 2**20:.2f} MiB | {m['parameters']:,} | "
              f"{m['parity_max_abs_diff']:.1e} | {training.get('train_time_s', 0):.0f} s |")
    ref = document.get("quality_reference") or {}
    if ref:
        print(f"Fréchet distance of {ref['samples']} real training images: {ref['real_frechet_distance']:.2f} "
              f"(feature extractor accuracy {ref['extractor_accuracy']:.2%})")
    print(f"peak reduction {document['reduction']:.3f}x, student loss / teacher loss {document['loss_ratio']:.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--teacher", default="ddpm-unet-small")
    parser.add_argument("--part", default="all", choices=("all", "peaks", "baseline", "run", "bands"))
    parser.add_argument("--epochs", type=int, default=3, help="passes over the 20,000 training images (students)")
    parser.add_argument("--teacher-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-size", type=int, default=10000, help="the first N of the 20,000 training images (0: all)")
    parser.add_argument("--quality-epochs", type=int, default=4, help="epochs of the quality figure's feature extractor")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--ema", type=float, default=0.995)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--sample-steps", type=int, default=50)
    parser.add_argument("--method", default="auto", help="the student's loss (auto: red_kd; kd, red)")
    parser.add_argument("--init", default="auto", choices=("auto", "scratch", "teacher"),
                        help="the distilled student derived from fresh weights or the teacher's (auto: fresh); "
                             "the baseline always starts from fresh weights")
    parser.add_argument("--stem", default="auto", choices=("auto", "strided", "patchify"),
                        help="the pooled student's stem and output (auto: strided; patchify: space-to-depth / depth-to-space)")
    parser.add_argument("--teacher-weights", type=Path, default=None, help="a trained teacher (e.g. another --out's teacher/teacher.pt)")
    parser.add_argument("--models", type=Path, nargs="*", default=[], help="--part bands: trained models to compare (the first is the reference)")
    parser.add_argument("--band-images", type=int, default=500, help="--part bands: held-out images per band")
    args = parse_with_run_options(parser, argv, Path("runs/denoise-cifar"))
    started = time.perf_counter()
    document = {"peak_check": peak_check() if args.part in ("all", "peaks") else None}
    if args.part in ("all", "baseline", "run") and not args.data.is_file():
        print(f"distill_denoise: {args.data} is absent, so no model was trained; pass --data PATH to a CIFAR-10 .npz")
    elif args.part == "bands":
        document["bands"] = band_table(args)
    elif args.part == "baseline":
        train_baseline(args)
    elif args.part in ("all", "run"):
        document["run"] = run_subset(args)
        print_table(document["run"])
    return finish(document, args.json, started)


def parse_with_run_options(parser: argparse.ArgumentParser, argv, out: Path) -> argparse.Namespace:
    """The options every benchmark of a family shares (threads, output folder, JSON file), then parse."""
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each training process")
    parser.add_argument("--out", type=Path, default=out, help="checkpoints, ONNX files, reports (resumable)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    return parser.parse_args(argv)


def finish(document: dict, json_path: Path | None, started: float) -> int:
    """Print the total time and write the JSON document when asked."""
    print(f"total {time.perf_counter() - started:.0f} s")
    if json_path:
        json_path.write_text(json.dumps(document, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
