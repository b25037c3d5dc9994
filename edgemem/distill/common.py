"""What every distillation run shares (the standard run and the blockwise run alike): the run's
context, the teacher (loaded, or trained once and cached), the analyzer's memory and budget verdict
of a model, accuracy, and the report file. Importing this module imports no torch; the functions
that need it import it themselves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

from edgemem import __version__
from edgemem.distill.config import DistillConfig, resolve_weights
from edgemem.distill.data import Dataset, load_dataset
from edgemem.distill.result import DistillResult, ModelSummary, TrainSummary
from edgemem.distill.trainers import AUTO, METHODS
from edgemem.errors import ConfigError, TrainingError


class SilentProgress:
    """The progress sink of library calls without one (and of workers other than rank 0)."""

    def phase(self, name, epochs, steps_per_epoch, start_epoch=0): ...
    def step(self, epoch, loss): ...
    def epoch_end(self, metrics): ...
    def phase_end(self): ...
    def note(self, text): ...
    def blocks_planned(self, keys, reused, assignment, estimates): ...
    def workers_status(self, statuses): ...
    def blocks_finished(self): ...


@dataclasses.dataclass
class Context:
    """What every phase of one run shares."""

    config: DistillConfig
    dataset: Dataset
    progress: object
    notes: list[str]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.dataset.input_shape

    def batches(self, train_cfg):
        from edgemem.distill.data.loader import BatchSource  # torch

        return BatchSource(self.dataset, train_cfg.batch_size, self.config.data.augment, self.config.seed,
                           train_cfg.eval_batch_size)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.note(text)


def open_run(config: DistillConfig, progress) -> Context:
    """The output folder made, the dataset loaded (nothing downloaded), the context of the run."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(config.dataset, config.data_path, config.data)
    return Context(config, dataset, progress, [])


def check_nothing_to_distill(config: DistillConfig) -> None:
    if not config.budget_bytes and not config.sweep and not config.student.forced:
        raise ConfigError("nothing to distill to: give --budget, --sweep, or a [student] pool_factor/conv/width in --config")


# ---- teacher -------------------------------------------------------------------------------

def untrained_teacher(ctx: Context):
    """The teacher's architecture with fresh weights (what the budget search measures)."""
    from edgemem.distill.teacher import load_teacher  # torch

    return load_teacher(ctx.config.teacher, ctx.dataset.num_classes, ctx.dataset.in_channels, None)


def prepare_teacher(ctx: Context):
    """(trained teacher in eval mode, its TrainSummary or None when weights were given)."""
    from edgemem.distill.checkpoint import atomic_save, read_checkpoint  # torch
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
    if final.is_file() and read_json(meta).get("fingerprint") == fingerprint:
        teacher.load_state_dict(read_checkpoint(final))
        info = read_json(meta)
        ctx.note(f"teacher {config.teacher} reused from the cache {cache} (accuracy {info.get('accuracy', 0):.2%})")
        summary = TrainSummary("ce", config.teacher_train.epochs, info.get("accuracy", 0.0), 0.0,
                               config.teacher_train.epochs, cached=True)
        return teacher.eval(), summary
    ctx.progress.note(f"training the teacher {config.teacher} first ({config.teacher_train.epochs} epochs; no --teacher-weights)")
    outcome = run_training(ctx, "teacher", teacher, None, [], "ce", config.teacher_train, cache / "checkpoint", fingerprint)
    atomic_save(outcome.model.state_dict(), final)
    write_json({"fingerprint": fingerprint, "teacher": config.teacher, "accuracy": outcome.summary.accuracy,
                "epochs": config.teacher_train.epochs}, meta)
    return outcome.model.eval(), outcome.summary


def run_training(ctx: Context, name, model, teacher, pairs, method, train_cfg, checkpoint_dir: Path, fingerprint: str,
                 stage_pairs=()):
    """One training phase with the method's trainer, checkpointed per epoch into ``checkpoint_dir``."""
    from edgemem.distill.trainers.registry import get_trainer  # torch
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


def teacher_needed(config: DistillConfig) -> bool:
    return config.method == AUTO or METHODS[config.method].needs_teacher


def teacher_fingerprint(config: DistillConfig) -> str:
    return digest({"teacher": config.teacher, "dataset": config.dataset, "data_path": config.data_path,
                   "data": dataclasses.asdict(config.data), "train": dataclasses.asdict(config.teacher_train),
                   "seed": config.seed})


# ---- reporting -----------------------------------------------------------------------------

def summarize(ctx: Context, role: str, model, description: str, training: TrainSummary | None, evaluate: bool = True,
              **extra) -> ModelSummary:
    """Accuracy on the evaluation split and the analyzer's memory and budget verdict of ``model`` (of its
    ``onnx_path`` when it was exported already: the file that ships is the file that is measured)."""
    from edgemem.distill.budget import analyze_file, measure_memory  # torch (export)
    from edgemem.distill.trainers.base import accuracy

    config = ctx.config
    if extra.get("onnx_path"):
        memory = analyze_file(Path(extra["onnx_path"]), config.precision, config.budget)
    else:
        memory = measure_memory(model, ctx.input_shape, config.precision, budget=config.budget)
    acc = accuracy(model, ctx.batches(config.train)) if evaluate else None
    if acc is not None and training is not None and not training.cached and abs(training.accuracy - acc) > 1e-9:
        raise TrainingError(f"{role}: accuracy {acc:.4f} after training differs from the last epoch's {training.accuracy:.4f}")
    params = sum(p.numel() for p in model.parameters())
    return ModelSummary(role, description, acc, memory.peak_activation_bytes, memory.arena_bytes, memory.weights_bytes,
                        params, training=training, budget=memory.budget, **extra)


def finish_result(ctx: Context, started: float, **fields) -> DistillResult:
    """The run's DistillResult (its verdict is the analyzer's on the student), written to report.json."""
    config = ctx.config
    result = DistillResult(dataset=ctx.dataset.describe(), precision=config.precision, out_dir=str(config.out_dir),
                           report_path=str(config.out_dir / "report.json"), notes=tuple(ctx.notes),
                           config=config.to_dict(), versions=versions(), total_time_s=time.perf_counter() - started,
                           weights_budget_bytes=config.weights_budget_bytes, **fields)
    write_report(result)
    return result


def write_report(result: DistillResult) -> Path:
    return write_json(result.to_json(), Path(result.report_path))


def versions() -> dict:
    import onnxruntime  # only once a run has finished
    import torch

    return {"edgemem": __version__, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_json(document: dict, path: Path) -> Path:
    from edgemem.distill.checkpoint import atomic_write_text  # torch

    return atomic_write_text(json.dumps(document, indent=2, default=str), path)
