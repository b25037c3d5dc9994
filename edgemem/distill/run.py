"""``distill(config, progress) -> DistillResult``: one ``edgemem distill`` run, end to end.

1. Load the dataset (nothing downloaded).
2. Teacher: load ``--teacher-weights``, or train it first with cross-entropy. A trained teacher is
   cached under ``teacher_cache`` with a fingerprint of everything that shaped it, and reused
   while the fingerprint matches; an interrupted teacher run continues under ``--resume``.
3. Student: the least aggressive student that fits ``--budget`` (part A's search), or the one
   ``[student]`` forces. Trained with the method (``auto``: RED+KD when the student has RED
   pairs, else KD), from fresh weights of the teacher's architecture (``init = "teacher"``
   starts from the trained teacher's weights instead).
4. ``--baseline``: the same student without RED blocks, trained without a teacher (CE).
5. ``--sweep k=1,2,4,8``: a family of students, one per value, for the memory-accuracy curve.
6. Every student is exported to ONNX, checked against PyTorch under ONNX Runtime (1e-4),
   analyzed (peak activation memory, arena, weights at ``--precision``) and saved as a PyTorch
   checkpoint; ``report.json`` (the ``--json`` document) is written to ``--out``.

Every training phase checkpoints after each epoch into its own folder under ``--out``;
``--resume`` continues each from its last complete epoch (finished phases are not retrained).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path

from edgemem.distill.config import DistillConfig, resolve_weights
from edgemem.distill.recipe import auto_method, resolve_init, resolve_stem
from edgemem.distill.result import BudgetVerdict, DistillResult, ModelSummary, TrainSummary
from edgemem.distill.trainers import AUTO, METHODS
from edgemem.errors import ConfigError, TrainingError


class SilentProgress:
    def phase(self, name, epochs, steps_per_epoch, start_epoch=0): ...
    def step(self, epoch, loss): ...
    def epoch_end(self, metrics): ...
    def phase_end(self): ...
    def note(self, text): ...


@dataclasses.dataclass
class Context:
    """What every phase of one run shares."""

    config: DistillConfig
    dataset: object  # data.Dataset
    progress: object
    notes: list[str]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.dataset.input_shape

    def batches(self, train_cfg):
        from edgemem.distill.data.loader import BatchSource

        return BatchSource(self.dataset, train_cfg.batch_size, self.config.data.augment, self.config.seed,
                           train_cfg.eval_batch_size)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.note(text)


def distill(config: DistillConfig, progress=None) -> DistillResult:
    """Run ``config`` and return its result; ``report.json`` is written to ``config.out``."""
    from edgemem.distill.data import load_dataset

    if config.method == "blockwise":  # issue 5: blocks trained on torchrun workers, then a DDP fine-tune
        from edgemem.distill.blockwise.run import distill_blockwise

        return distill_blockwise(config, progress)
    started = time.perf_counter()
    progress = progress or SilentProgress()
    if not config.budget_bytes and not config.sweep and config.student.pool_factor is None \
            and config.student.conv is None and config.student.width is None:
        raise ConfigError("nothing to distill to: give --budget, --sweep, or a [student] pool_factor/conv/width in --config")
    config.out_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(config.dataset, config.data_path, config.data)
    ctx = Context(config, dataset, progress, [])
    progress.note(dataset.describe())
    teacher, teacher_training = prepare_teacher(ctx)
    trained = config.teacher_weights is not None or teacher_needed(config)
    teacher_summary = summarize(ctx, "teacher", teacher, config.teacher, teacher_training, evaluate=trained)

    student_summary, parity, method = None, None, config.method
    spec = choose_spec(ctx, teacher)
    if spec is not None:
        student_summary, parity, method = train_student(ctx, teacher, spec, "student", config.method, config.out_dir)
    baseline = None
    if config.baseline and spec is not None:
        baseline, _, _ = train_student(ctx, teacher, replace(spec, red=False), "baseline", "ce", config.out_dir / "baseline")
    sweep = tuple(run_sweep(ctx, teacher, spec, student_summary))
    result = DistillResult(
        dataset=dataset.describe(), method=method, precision=config.precision, teacher=teacher_summary,
        student=student_summary, baseline=baseline, sweep=sweep, budget=budget_verdict(config, student_summary),
        parity_max_abs_diff=parity, out_dir=str(config.out_dir), report_path=str(config.out_dir / "report.json"),
        notes=tuple(ctx.notes), config=config.to_dict(), versions=versions(),
        total_time_s=time.perf_counter() - started,
    )
    write_report(result)
    return result


# ---- teacher -------------------------------------------------------------------------------

def prepare_teacher(ctx: Context):
    """(trained teacher in eval mode, its TrainSummary or None when weights were given)."""
    from edgemem.distill.checkpoint import atomic_save, atomic_write_text, read_checkpoint
    from edgemem.distill.teacher import load_teacher
    from edgemem.distill.trainers.base import seed_everything

    config, dataset = ctx.config, ctx.dataset
    seed_everything(config.seed)
    weights = Path(config.teacher_weights) if config.teacher_weights else None
    teacher = load_teacher(config.teacher, dataset.num_classes, dataset.in_channels, weights)
    if weights is not None:
        ctx.note(f"teacher {config.teacher} loaded from {weights}")
        return teacher.eval(), None
    if not teacher_needed(config):
        ctx.note(f"teacher {config.teacher} not trained: method {config.method} needs none (give --teacher-weights to compare)")
        return teacher.eval(), None
    cache = config.teacher_cache_dir
    fingerprint = teacher_fingerprint(config)
    final, meta = cache / "teacher.pt", cache / "teacher.json"
    if final.is_file() and _read_json(meta).get("fingerprint") == fingerprint:
        teacher.load_state_dict(read_checkpoint(final))
        info = _read_json(meta)
        ctx.note(f"teacher {config.teacher} reused from the cache {cache} (accuracy {info.get('accuracy', 0):.2%})")
        summary = TrainSummary("ce", config.teacher_train.epochs, info.get("accuracy", 0.0), 0.0,
                               config.teacher_train.epochs, cached=True)
        return teacher.eval(), summary
    ctx.progress.note(f"training the teacher {config.teacher} first ({config.teacher_train.epochs} epochs; no --teacher-weights)")
    outcome = run_training(ctx, "teacher", teacher, None, [], "ce", config.teacher_train, cache / "checkpoint", fingerprint)
    atomic_save(outcome.model.state_dict(), final)
    atomic_write_text(json.dumps({"fingerprint": fingerprint, "teacher": config.teacher,
                                  "accuracy": outcome.summary.accuracy, "epochs": config.teacher_train.epochs}, indent=2), meta)
    return outcome.model.eval(), outcome.summary


def teacher_needed(config: DistillConfig) -> bool:
    return config.method == AUTO or METHODS[config.method].needs_teacher


def teacher_fingerprint(config: DistillConfig) -> str:
    return _digest({"teacher": config.teacher, "dataset": config.dataset, "data_path": config.data_path,
                    "data": dataclasses.asdict(config.data), "train": dataclasses.asdict(config.teacher_train),
                    "seed": config.seed})


# ---- students ------------------------------------------------------------------------------

def choose_spec(ctx: Context, teacher):
    """The StudentSpec to train: forced by [student], else the budget search's pick, else None (sweep only)."""
    from edgemem.distill.students.spec import StudentSpec

    s, config = ctx.config.student, ctx.config
    if s.pool_factor is not None or s.conv is not None or s.width is not None:
        return StudentSpec(s.pool_factor or 1, s.conv or "standard", s.width or 1.0, s.red, resolve_stem(s.stem))
    if not config.budget_bytes:
        return None
    from edgemem.distill.students.search import search_student

    ctx.progress.note("searching the least aggressive student that fits the budget")
    space = {name: getattr(s, name) for name in ("pool_factors", "convs", "widths") if getattr(s, name) is not None}
    found = search_student(copy.deepcopy(teacher), ctx.input_shape, config.budget_bytes, config.budget_scope, config.precision,
                           weights_budget_bytes=config.weights_budget_bytes, red=s.red, **space)
    spec = replace(found.spec, stem=resolve_stem(s.stem)) if found.spec.pool_factor > 1 else found.spec
    ctx.note(f"budget search picked: {spec.label()}")
    return spec


def build_student(ctx: Context, teacher, spec, method: str = AUTO):
    """Derive the student from the teacher's weights or fresh ones ([student] init; auto: the
    teacher's when ``method`` distils from it)."""
    from edgemem.distill.students.derive import derive_student
    from edgemem.distill.teacher import load_teacher
    from edgemem.distill.trainers.base import seed_everything

    config = ctx.config
    seed_everything(config.seed)
    if student_init(config, method) == "teacher":
        source = copy.deepcopy(teacher)
    else:
        source = load_teacher(config.teacher, ctx.dataset.num_classes, ctx.dataset.in_channels, None)
    return derive_student(source, spec, ctx.input_shape)


def train_student(ctx: Context, teacher, spec, role: str, method: str, folder: Path, description: str | None = None):
    """Derive, train, export, check and analyze one student: (ModelSummary, parity diff, method used)."""
    from edgemem.distill.pairs import stage_pairs

    student = build_student(ctx, teacher, spec, method)
    init = student_init(ctx.config, method)
    pairs = [(p.student_point, p.teacher_point) for p in student.red_pairs]
    method = resolve_method(method, pairs, role, spec.pool_factor)
    stages = stage_pairs(teacher, student.model, ctx.input_shape) if METHODS[method].needs_teacher else []
    job_teacher = teacher if METHODS[method].needs_teacher else None
    fingerprint = _digest({"teacher": teacher_fingerprint(ctx.config), "teacher_weights": ctx.config.teacher_weights,
                           "spec": dataclasses.asdict(spec), "method": method, "weights": resolve_weights(ctx.config, method),
                           "train": dataclasses.asdict(ctx.config.train), "init": init,
                           "online_students": ctx.config.student.online_students})
    outcome = run_training(ctx, role, student.model, job_teacher, pairs, method, ctx.config.train, folder / "checkpoint", fingerprint,
                           stages)
    summary, parity = export_student(ctx, outcome, spec, role, folder, description or student.description or spec.label())
    return summary, parity, method


def student_init(config: DistillConfig, method: str) -> str:
    """"teacher" or "scratch": [student] init, with auto resolved for ``method`` (recipe.resolve_init)."""
    return resolve_init(config.student.init, method == AUTO or METHODS[method].needs_teacher)


def resolve_method(method: str, pairs: list, role: str = "student", pool_factor: int | None = None) -> str:
    """``auto`` -> the recipe's method for the student (recipe.auto_method; without a pool factor:
    pooled when it has RED pairs); a method that needs RED pairs on a student without any is an error."""
    if method == AUTO:
        return auto_method(pool_factor if pool_factor is not None else (2 if pairs else 1))
    if METHODS[method].needs_pairs and not pairs:
        raise ConfigError(f"{role}: method {method!r} needs RED pairs, and this student has none "
                          "(RED pairs come from pooling factors k > 1)", hint="use method kd, kd_at or auto")
    return method


def run_training(ctx: Context, name, model, teacher, pairs, method, train_cfg, checkpoint_dir: Path, fingerprint: str,
                 stage_pairs=()):
    from edgemem.distill.trainers import get_trainer
    from edgemem.distill.trainers.base import TrainJob

    config = ctx.config
    if not config.resume and (checkpoint_dir / "last.pt").exists():
        ctx.progress.note(f"{name}: starting fresh over the checkpoint in {checkpoint_dir} (use --resume to continue it)")
    job = TrainJob(name, model, ctx.batches(train_cfg), train_cfg, resolve_weights(config, method), method,
                   teacher=teacher, pairs=list(pairs), stage_pairs=list(stage_pairs), checkpoint_dir=checkpoint_dir,
                   resume=config.resume,
                   seed=config.seed, fingerprint=fingerprint, progress=ctx.progress,
                   online_students=config.student.online_students)
    outcome = get_trainer(METHODS[method].trainer)(job).fit()
    if outcome.summary.resumed_from_epoch:
        ctx.note(f"{name}: resumed after epoch {outcome.summary.resumed_from_epoch} from {checkpoint_dir}")
    return outcome


def export_student(ctx: Context, outcome, spec, role: str, folder: Path, description: str):
    from edgemem.distill.checkpoint import atomic_save
    from edgemem.distill.export import check_parity, export_onnx

    model = outcome.model.eval()
    onnx_path = export_onnx(model, ctx.input_shape, folder / "student.onnx")
    parity = check_parity(model, onnx_path, ctx.input_shape, atol=1e-4)
    weights_path = atomic_save({"state_dict": model.state_dict(), "spec": dataclasses.asdict(spec), "role": role,
                                "method": outcome.summary.method, "teacher": ctx.config.teacher,
                                "input_shape": list(ctx.input_shape), "accuracy": outcome.summary.accuracy,
                                **({"online": outcome.extra} if outcome.extra else {})}, folder / "student.pt")
    summary = summarize(ctx, role, model, description, outcome.summary, spec=dataclasses.asdict(spec),
                        onnx_path=str(onnx_path), checkpoint_path=str(weights_path))
    return summary, parity


def run_sweep(ctx: Context, teacher, spec, trained: ModelSummary | None = None):
    """One student per sweep value (pool factor k or width), trained with the run's method; the
    member equal to the main student reuses it."""
    from edgemem.distill.students.spec import StudentSpec

    base = spec or StudentSpec(red=ctx.config.student.red, stem=resolve_stem(ctx.config.student.stem))
    for value in ctx.config.sweep:
        member = replace(base, **{ctx.config.sweep_key: value})
        label = f"k={value}" if ctx.config.sweep_key == "pool_factor" else f"width={value:g}"
        method = ctx.config.method
        if method != AUTO and METHODS[method].needs_pairs and member.pool_factor == 1:
            ctx.note(f"sweep {label}: no RED pairs at k = 1, trained with kd instead of {method}")
            method = "kd"
        description = f"{label}: {member.label()}"
        if trained is not None and member == spec and method == ctx.config.method:
            yield replace(trained, role="sweep", description=description)
            continue
        summary, _, _ = train_student(ctx, teacher, member, f"sweep {label}", method,
                                      ctx.config.out_dir / "sweep" / label.replace("=", ""), description=description)
        yield replace(summary, role="sweep")


# ---- reporting -----------------------------------------------------------------------------

def summarize(ctx: Context, role: str, model, description: str, training: TrainSummary | None, evaluate: bool = True,
              **extra) -> ModelSummary:
    """Accuracy on the evaluation split and the analyzer's memory of ``model`` (of its ``onnx_path``
    when it was exported already: the file that ships is the file that is measured)."""
    from edgemem.distill.budget import analyze_onnx, measure_memory
    from edgemem.distill.trainers.base import accuracy

    if extra.get("onnx_path"):
        report = analyze_onnx(Path(extra["onnx_path"]), ctx.config.precision)
        peak, arena, weights = report.best.peak_bytes, report.best.arena_bytes, report.weights_bytes
    else:
        memory = measure_memory(model, ctx.input_shape, ctx.config.precision)
        peak, arena, weights = memory.peak_activation_bytes, memory.arena_bytes, memory.weights_bytes
    acc = accuracy(model, ctx.batches(ctx.config.train)) if evaluate else None
    if acc is not None and training is not None and not training.cached and abs(training.accuracy - acc) > 1e-9:
        raise TrainingError(f"{role}: accuracy {acc:.4f} after training differs from the last epoch's {training.accuracy:.4f}")
    params = sum(p.numel() for p in model.parameters())
    return ModelSummary(role, description, acc, peak, arena, weights, params, training=training, **extra)


def budget_verdict(config: DistillConfig, student: ModelSummary | None) -> BudgetVerdict | None:
    if student is None or not config.budget_bytes:
        return None
    required = student.arena_bytes + (student.weights_bytes if config.budget_scope == "total" else 0)
    weights_fit = None if config.weights_budget_bytes is None else student.weights_bytes <= config.weights_budget_bytes
    return BudgetVerdict(config.budget_bytes, config.budget_scope, config.precision, required, required <= config.budget_bytes,
                         config.weights_budget_bytes, weights_fit)


def write_report(result: DistillResult) -> Path:
    from edgemem.distill.checkpoint import atomic_write_text

    return atomic_write_text(json.dumps(result.to_json(), indent=2, default=str), Path(result.report_path))


def versions() -> dict:
    import onnxruntime
    import torch

    from edgemem import __version__

    return {"edgemem": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
