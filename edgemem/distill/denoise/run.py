"""``distill_denoise(config, progress) -> DenoiseResult``: one ``edgemem distill --task denoise`` run.

1. Images from ``--dataset`` in [-1, 1] (data.py); the held-out split scores every model.
2. Teacher: ``--teacher-weights``, or trained first on the true noise and cached under
   ``teacher_cache`` with a fingerprint of what shaped it.
3. Student: ``[student] pool_factor`` forces one, else the budget search (the one every family
   goes through: students/search.py) picks the least pooled student that fits ``--budget``,
   on the teacher's architecture before the teacher trains (no pool factor fits: exit 3 at once).
   Trained with ``--method`` (``auto``: kd; RED blocks only for red / red_kd; trainer.METHODS),
   from fresh weights unless ``[student] init = "teacher"``.
4. ``--baseline``: the same student without RED blocks, trained alone on the true noise.
5. Every model is exported to ONNX (inputs ``input`` and ``timestep``), checked against PyTorch
   under ONNX Runtime (1e-4), analyzed, and scored: held-out denoising loss, then
   ``[denoise] num_samples`` samples (progress bar, ``OUT/<role>/samples.png``) and their Fréchet
   distance in the feature space of a classifier the run trains itself (quality.py).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import replace
from pathlib import Path

import torch

from edgemem.distill.common import digest, read_json
from edgemem.distill.denoise.data import ImageData, load_images
from edgemem.distill.denoise.result import DenoiseResult, DenoiserSummary, QualityReference
from edgemem.distill.denoise.schedule import NoiseSchedule
from edgemem.distill.denoise.trainer import METHODS, DenoiseJob, DenoiseTrainer
from edgemem.errors import ConfigError

DENOISE_AUTO = "kd"  # --method auto: the teacher's noise and the true noise (RED blocks only for red / red_kd)
DENOISE_STEM = "strided"  # [student] stem auto: ReDistill's strided head (patchify measured worse: docs/distill-families.md)


def trains_red(method: str) -> bool:
    """Whether ``method`` (auto resolved) has a RED term, the only case in which students get RED blocks."""
    return bool(METHODS[DENOISE_AUTO if method == "auto" else method].get("red_weight"))


@dataclasses.dataclass
class DenoiseContext:
    config: object  # DistillConfig
    data: ImageData
    schedule: NoiseSchedule
    progress: object
    notes: list[str]
    device: torch.device

    @property
    def options(self):
        return self.config.denoise

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.note(text)


def distill_denoise(config, progress=None) -> DenoiseResult:
    """Run ``config`` (task denoise); ``report.json`` is written to ``config.out``."""
    from edgemem.distill.common import SilentProgress, versions, write_report
    from edgemem.distill.denoise.models import build_denoiser
    from edgemem.distill.trainers.base import resolve_device

    started = time.perf_counter()
    progress = progress or SilentProgress()
    refuse_unsupported(config)
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    opts = config.denoise
    ctx = DenoiseContext(config, load_images(config.dataset, config.data_path, config.data),
                         NoiseSchedule(opts.num_timesteps, opts.beta_1, opts.beta_T), progress, [], resolve_device(config.train.device))
    progress.note(ctx.data.description)
    spec = choose_spec(ctx, build_denoiser(config.teacher, ctx.data.x_train.shape[1]))  # before any training
    teacher, training = prepare_teacher(ctx)
    teacher_file = config.teacher_weights or str(config.teacher_cache_dir / "teacher.pt")
    teacher_summary = summarize(ctx, "teacher", teacher, f"{teacher.edgemem_name}: strides {list(teacher.pool_strides)}", training,
                                config.out_dir / "teacher", checkpoint=teacher_file)
    student, method = train_student(ctx, teacher, spec, "student", config.method, config.out_dir / "student")
    baseline = None
    if config.baseline:
        baseline, _ = train_student(ctx, teacher, replace(spec, red=False), "baseline", "ce", config.out_dir / "baseline")
    summaries, reference = score_samples(ctx, {"teacher": (teacher_summary, teacher)} | student | (baseline or {}))
    result = DenoiseResult(
        dataset=ctx.data.description, method=method, precision=config.precision, teacher=summaries["teacher"],
        student=summaries["student"], baseline=summaries.get("baseline"), weights_budget_bytes=config.weights_budget_bytes,
        quality_reference=reference, out_dir=str(config.out_dir), report_path=str(config.out_dir / "report.json"),
        notes=tuple(ctx.notes), config=config.to_dict(), versions=versions(), total_time_s=time.perf_counter() - started)
    write_report(result)
    return result


def refuse_unsupported(config) -> None:
    """What --task denoise cannot do, refused with one line before any data is loaded or trained."""
    s = config.student
    if config.method not in ("auto", *METHODS):
        raise ConfigError(f"method {config.method!r} is not available for --task denoise", hint=f"use auto, {', '.join(METHODS)}")
    if config.sweep:
        raise ConfigError("--sweep is not available for --task denoise", hint="run one pool factor per run ([student] pool_factor)")
    if config.verify_on:
        raise ConfigError("--verify-on is not available for --task denoise", hint="bench the exported student with edgemem bench")
    if s.arch is not None:
        raise ConfigError("--student-arch is not available for --task denoise", hint="students are pooled copies of the teacher")
    if s.conv is not None or s.width is not None:
        raise ConfigError("--task denoise derives students by pooling only: drop [student] conv/width")
    if s.pool_factor is None and config.budget is None:
        raise ConfigError("nothing to distill to: give --budget or [student] pool_factor in --config")


def training_settings(config, train, epochs: bool = True) -> dict:
    """What shapes a training run besides the model: schedule, optimiser, batch, epochs, data, seed.
    ``epochs = False`` for a checkpoint's fingerprint: the learning rate does not depend on the epoch
    count (constant after warm-up), so ``--resume`` with more ``--epochs`` continues a finished run
    exactly as a longer run from scratch would have gone on."""
    o = config.denoise
    return {"dataset": config.dataset, "data_path": config.data_path, "data": dataclasses.asdict(config.data),
            "schedule": [o.num_timesteps, o.beta_1, o.beta_T], "adam": [o.lr, o.warmup_steps, o.grad_clip, o.ema_decay],
            "batch_size": train.batch_size, **({"epochs": train.epochs} if epochs else {}), "seed": config.seed}


def prepare_teacher(ctx: DenoiseContext):
    """(trained teacher in eval mode, its DenoiseTraining or None when weights were given or cached)."""
    from edgemem.distill.denoise.models import load_denoiser

    config = ctx.config
    torch.manual_seed(config.seed)
    given = Path(config.teacher_weights) if config.teacher_weights else None
    teacher = load_denoiser(config.teacher, ctx.data.x_train.shape[1], given)
    if given is not None:
        ctx.note(f"teacher {config.teacher} loaded from {given}")
        return teacher.eval(), None
    cache = TeacherCache(config.teacher_cache_dir, teacher_fingerprint(config))
    if cache.load_into(teacher):
        ctx.note(f"teacher {config.teacher} reused from the cache {cache.folder}")
        return teacher.eval(), None
    ctx.progress.note(f"training the teacher {config.teacher} first ({config.teacher_train.epochs} epochs; no --teacher-weights)")
    trained, training = run_training(ctx, "teacher", teacher, None, [], "ce", config.teacher_train, cache.folder / "checkpoint",
                                     teacher_fingerprint(config, epochs=False))
    cache.store(trained, {"teacher": config.teacher, "epochs": training.epochs})
    return trained.eval(), training


@dataclasses.dataclass(frozen=True)
class TeacherCache:
    """``teacher.pt`` (a state dict) + ``teacher.json`` (its fingerprint) in ``folder``."""

    folder: Path
    fingerprint: str

    def load_into(self, model) -> bool:
        from edgemem.distill.teacher import read_state_dict

        weights = self.folder / "teacher.pt"
        if not weights.is_file() or read_json(self.folder / "teacher.json").get("fingerprint") != self.fingerprint:
            return False
        model.load_state_dict(read_state_dict(weights))
        return True

    def store(self, model, info: dict) -> None:
        from edgemem.distill.checkpoint import atomic_save
        from edgemem.distill.common import write_json

        atomic_save(model.state_dict(), self.folder / "teacher.pt")
        write_json({"fingerprint": self.fingerprint, **info}, self.folder / "teacher.json")


def teacher_fingerprint(config, epochs: bool = True) -> str:
    """The cached teacher's (its epochs included); ``epochs = False``: its checkpoint's (training_settings)."""
    return digest({"teacher": config.teacher, **training_settings(config, config.teacher_train, epochs)})


def loss_weights(config, method: str) -> dict:
    weights = dict(METHODS[method])
    for key in ("gt_weight", "kd_weight", "red_weight"):
        value = getattr(config.denoise, key)
        if value is not None:
            weights[key] = value
    return weights


def run_training(ctx: DenoiseContext, name, model, teacher, pairs, method, train, checkpoint_dir: Path, fingerprint: str):
    config = ctx.config
    if (checkpoint_dir / "last.pt").exists() and not config.resume:
        ctx.progress.note(f"{name}: the checkpoint in {checkpoint_dir} is overwritten (--resume continues it)")
    job = DenoiseJob(name, model, ctx.data, ctx.schedule, config.denoise, loss_weights(config, method), method, train.epochs,
                     train.batch_size, teacher=teacher, pairs=list(pairs), checkpoint_dir=checkpoint_dir, resume=config.resume,
                     seed=config.seed, fingerprint=fingerprint, progress=ctx.progress, device=ctx.device,
                     divergence_factor=train.divergence_factor)
    trained, training = DenoiseTrainer(job).fit()
    if training.resumed_from_epoch:
        ctx.note(f"{name}: resumed after epoch {training.resumed_from_epoch} from {checkpoint_dir}")
    return trained, training


def choose_spec(ctx: DenoiseContext, teacher):
    """[student] pool_factor when given, else the budget search's pick (pool factors only)."""
    from edgemem.distill.students.spec import StudentSpec

    s, config = ctx.config.student, ctx.config
    red, stem = s.red and trains_red(config.method), DENOISE_STEM if s.stem == "auto" else s.stem
    if s.pool_factor is not None:
        return StudentSpec(s.pool_factor, red=red, stem=stem)
    from edgemem.distill.students.search import search_student

    ctx.progress.note("searching the least pooled student that fits the budget")
    pools = {"pool_factors": s.pool_factors} if s.pool_factors is not None else {}
    found = search_student(copy.deepcopy(teacher), ctx.data.input_shape, config.budget, config.precision,
                           weights_budget=config.weights_budget, red=red, convs=("standard",), widths=(1.0,), **pools)
    spec = replace(found.spec, stem=stem) if found.spec.pool_factor > 1 else found.spec
    ctx.note(f"budget search picked: {spec.label()}")
    return spec


def train_student(ctx: DenoiseContext, teacher, spec, role: str, method: str, folder: Path):
    """Derive, train, export and score one student: ({role: (summary, model)}, method used)."""
    from edgemem.distill.denoise.models import build_denoiser
    from edgemem.distill.students.derive import derive_student

    config = ctx.config
    torch.manual_seed(config.seed)
    if method == "auto":
        method = "red_kd" if spec.red and spec.pool_factor > 1 else DENOISE_AUTO
    # auto: fresh weights. The teacher's weights do not carry its function to other resolutions (a student
    # started from them scores a held-out loss of 1.0-1.4, no better than predicting zero noise)
    init = "scratch" if method == "ce" or config.student.init == "auto" else config.student.init
    source = copy.deepcopy(teacher) if init == "teacher" else build_denoiser(config.teacher, ctx.data.x_train.shape[1])
    student = derive_student(source, spec, ctx.data.input_shape)
    pairs = [(p.student_point, p.teacher_point) for p in student.red_pairs]
    fingerprint = digest({"teacher": teacher_fingerprint(config), "teacher_weights": config.teacher_weights, "method": method,
                           "spec": dataclasses.asdict(spec), "weights": loss_weights(config, method), "init": init,
                           **training_settings(config, config.train, epochs=False)})
    weights = loss_weights(config, method)
    job_teacher = teacher if weights.get("kd_weight") or weights.get("red_weight") else None
    trained, training = run_training(ctx, role, student.model, job_teacher, pairs, method, config.train, folder / "checkpoint", fingerprint)
    summary = summarize(ctx, role, trained, student.description, training, folder, spec=dataclasses.asdict(spec))
    return {role: (summary, trained)}, method


def summarize(ctx: DenoiseContext, role: str, model, description: str, training, folder: Path, spec=None,
              checkpoint: str | None = None) -> DenoiserSummary:
    """Export + parity + analyzer + held-out loss of one trained model; a student's checkpoint is saved
    beside (``checkpoint``: where the teacher's weights already are)."""
    from edgemem.distill.budget import analyze_file
    from edgemem.distill.checkpoint import atomic_save
    from edgemem.distill.denoise.evaluate import denoising_loss
    from edgemem.distill.export import check_parity, export_onnx

    model = model.cpu().eval()
    shape = ctx.data.input_shape
    onnx_path = export_onnx(model, shape, folder / f"{role}.onnx")
    parity = check_parity(model, onnx_path, shape, atol=1e-4)
    memory = analyze_file(onnx_path, ctx.config.precision, ctx.config.budget)
    loss = denoising_loss(model, ctx.schedule, ctx.data.x_test, ctx.options.eval_draws, ctx.config.seed,
                          ctx.config.train.eval_batch_size)
    if checkpoint is None:
        checkpoint = atomic_save({"state_dict": model.state_dict(), "role": role, "teacher": ctx.config.teacher, "spec": spec,
                                  "pool_strides": list(model.pool_strides), "heldout_loss": loss}, folder / f"{role}.pt")
    return DenoiserSummary(role, description, None, memory.peak_activation_bytes, memory.arena_bytes, memory.weights_bytes,
                           sum(p.numel() for p in model.parameters()), spec=spec, onnx_path=str(onnx_path),
                           checkpoint_path=str(checkpoint), training=training, budget=memory.budget, heldout_loss=loss,
                           pool_strides=tuple(model.pool_strides), parity_max_abs_diff=parity)


def score_samples(ctx: DenoiseContext, models: dict) -> tuple[dict, QualityReference | None]:
    """Sample every model, draw its grid, and add its Fréchet distance; ({role: summary}, reference)."""
    from edgemem.distill.denoise.scoring import quality_reference, sample_quality

    summaries = {role: summary for role, (summary, _) in models.items()}
    if ctx.options.num_samples == 0:
        ctx.note("[denoise] num_samples = 0: no samples, no quality figure")
        return summaries, None
    extractor, reference, real_features = quality_reference(ctx)
    for role, (summary, model) in models.items():
        quality = sample_quality(ctx, role, model, extractor, real_features, Path(summary.onnx_path).parent)
        summaries[role] = replace(summary, quality=quality)
    return summaries, reference
