"""DistillConfig: one run of ``edgemem distill``, typed, validated before any work starts.

Standard library only (no torch), so the CLI can validate a config in milliseconds. A TOML file
(``--config run.toml``) holds every CLI flag under its own name at the top level (dashes become
underscores) plus tables for what has no flag::

    teacher = "resnet20"          # --teacher (zoo name or package.module:factory)
    dataset = "cifar10"           # --dataset
    data_path = "cifar10.npz"     # --data-path
    budget = "64KiB"              # --budget (parsed by edgemem.units.parse_size)
    epochs = 24                   # --epochs (students); teacher_epochs for the teacher
    sweep = "k=1,2,4,8"           # --sweep (or a list: sweep = [1, 2, 4, 8])
    [train]         batch_size, lr, momentum, weight_decay, nesterov, schedule, milestones, gamma, threads,
                    divergence_factor, eval_batch_size, device, autocast
    [teacher_train] the same keys for the teacher's own training
    [loss]          ce_weight, kd_weight, temperature, at_weight, at_reference_positions, hint_weight, red_weight, mutual_weight,
                    label_smoothing, warmup_epochs
    [student]       pool_factor, conv, width, red, init, stem, pool_factors, convs, widths, online_students
    [data]          train_size, test_size, augment, image_size, split_seed
    [blockwise]     method "blockwise": workers, blocks, replacement, epochs, batch_size, lr, lr_decay, threshold, max_error, max_block_drop,
                    activations, scheduler, profile_steps, finetune, max_restarts, timeout_s (blockwise/options.py)

Flags given on the command line override the file. Unknown keys, wrong types and impossible
values are ``ConfigError`` (one line naming the key), before any data is loaded. Tables become
dataclasses through the shared typed loader (``edgemem.toml_tables``); ``write_config`` writes a
config back as a run file that ``load_config`` reads to an equal config (the blockwise workers'
config file).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgemem.budget import Budget, Precision, Scope
from edgemem.distill.blockwise.options import BlockwiseOptions, validate_blockwise
from edgemem.distill.data import AUGMENTS, DATASETS
from edgemem.distill.data.options import DataOptions
from edgemem.distill.trainers import METHODS, method_names
from edgemem.errors import ConfigError
from edgemem.toml_tables import NOT_IN_TOML, Size, from_table, key, read_toml, to_table, toml_fields, toml_key, write_toml

SCHEDULES = ("cosine", "step", "constant")
AUTOCASTS = ("none", "bf16")
INITS = ("auto", "scratch", "teacher")  # auto: edgemem.distill.recipe.resolve_init
STEMS = ("auto", "strided", "patchify", "patchify_sampled")  # students/stems.py (this module imports no torch); auto: recipe.resolve_stem
SWEEP_KEYS = {"k": "pool_factor", "pool_factor": "pool_factor", "width": "width"}

__all__ = ["DistillConfig", "TrainConfig", "LossWeights", "StudentOptions", "DataOptions", "BlockwiseOptions",
           "load_config", "config_from_mapping", "apply_overrides", "write_config", "top_level_keys", "parse_sweep",
           "validate", "resolve_weights"]


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and schedule of one training phase (SGD, per-epoch schedule)."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = True
    schedule: str = "cosine"  # cosine | step | constant
    milestones: tuple[int, ...] = ()  # step schedule: epochs where lr *= gamma
    gamma: float = 0.1
    threads: int = 0  # torch intra-op threads; 0 leaves torch's default
    divergence_factor: float = 100.0  # an epoch loss above this x the first epoch's is divergence
    eval_batch_size: int = 512
    device: str = "auto"  # auto (CUDA when available, else CPU) | cpu | cuda | cuda:N
    autocast: str = "none"  # none | bf16: bfloat16 autocast in training steps (evaluation stays fp32)


@dataclass(frozen=True)
class LossWeights:
    """Explicitly named loss weights; ``None`` means "the method's default" (see trainers.METHODS)."""

    ce_weight: float | None = None
    kd_weight: float | None = None
    temperature: float | None = None
    at_weight: float | None = None
    at_reference_positions: int | None = None
    hint_weight: float | None = None
    red_weight: float | None = None
    mutual_weight: float | None = None
    label_smoothing: float | None = None  # CE targets smoothed by this (0 = none)
    warmup_epochs: int | None = None  # first epochs train the feature terms (RED, AT, hints) alone


@dataclass(frozen=True)
class StudentOptions:
    pool_factor: int | None = None  # force this pooling factor instead of searching the budget
    conv: str | None = None  # force this convolution (part A's names); None = standard / searched
    width: float | None = None  # force this width multiplier
    red: bool = True  # RED blocks at the moved points (for methods with a RED term: red, red_kd)
    init: str = "auto"  # scratch: fresh weights; teacher: the teacher's weights; auto: teacher when it distils
    stem: str = "auto"  # pooled students: strided | patchify (students/stems.py); auto: strided (recipe.resolve_stem)
    pool_factors: tuple[int, ...] | None = None  # search space of the budget search (None: the search's defaults,
    convs: tuple[str, ...] | None = None  # pool 1/2/4/8, convs standard/G(2)/G(4)/B(2)/DW, widths 1/0.75/0.5/0.25)
    widths: tuple[float, ...] | None = None
    online_students: int = 4  # method "online": students trained together

    @property
    def forced(self) -> bool:
        """The student is fixed by [student] pool_factor/conv/width (no budget search)."""
        return self.pool_factor is not None or self.conv is not None or self.width is not None


@dataclass(frozen=True)
class DistillConfig:
    teacher: str = "resnet20"
    teacher_weights: str | None = None
    teacher_cache: str | None = None  # where the trained teacher is cached (default: <out>/teacher)
    dataset: str = "digits"
    data_path: str | None = None
    budget_bytes: Size | None = field(default=None, metadata=key("budget"))
    budget_scope: Scope = Scope.ACTIVATIONS
    precision: Precision = Precision.FP32
    weights_budget_bytes: Size | None = field(default=None, metadata=key("weights_budget"))
    method: str = "auto"
    baseline: bool = False
    sweep: tuple[int | float, ...] = ()
    sweep_key: str = field(default="pool_factor", metadata=NOT_IN_TOML)
    out: str = "edgemem-distill"
    plot: str | None = None  # memory-accuracy plot (.png/.svg); None: <out>/report.png
    seed: int = 0
    resume: bool = False
    json: bool = False
    verify_on: str | None = None  # run edgemem verify on the student there (local or an SSH host)
    verify_backend: str = "onnxruntime"
    train: TrainConfig = field(default_factory=TrainConfig)
    teacher_train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    student: StudentOptions = field(default_factory=StudentOptions)
    data: DataOptions = field(default_factory=DataOptions)
    blockwise: BlockwiseOptions = field(default_factory=BlockwiseOptions)

    @property
    def out_dir(self) -> Path:
        return Path(self.out)

    @property
    def teacher_cache_dir(self) -> Path:
        return Path(self.teacher_cache) if self.teacher_cache else self.out_dir / "teacher"

    @property
    def budget(self) -> Budget | None:
        """The --budget and what it covers (None without a budget)."""
        return None if self.budget_bytes is None else Budget(self.budget_bytes, self.budget_scope)

    @property
    def weights_budget(self) -> Budget | None:
        return None if self.weights_budget_bytes is None else Budget(self.weights_budget_bytes, Scope.WEIGHTS)

    def to_dict(self) -> dict:
        """A plain dict (JSON-ready) of every setting, as recorded in results and checkpoints."""
        return dataclasses.asdict(self)


# top-level keys (and flags) for a setting inside a table
_SHORTCUTS = {"epochs": ("train", "epochs"), "teacher_epochs": ("teacher_train", "epochs"),
              "workers": ("blockwise", "workers"), "blocks": ("blockwise", "blocks"),
              "replacement": ("blockwise", "replacement")}
_SECTIONS = ("train", "teacher_train", "loss", "student", "data", "blockwise")


def load_config(path: str | Path) -> DistillConfig:
    """Read and validate a TOML run config; every problem is a one-line ConfigError."""
    return config_from_mapping(read_toml(path, "config file"), source=str(path))


def config_from_mapping(table: dict, source: str = "config", base: DistillConfig | None = None) -> DistillConfig:
    """Build a config from a TOML-shaped mapping (top-level flags + tables) over ``base``."""
    return apply_overrides(base or DistillConfig(), table, source)


def apply_overrides(config: DistillConfig, values: dict[str, Any], source: str = "command line") -> DistillConfig:
    """Apply settings named as in a run file (``budget="64KiB"``, ``epochs=3``, ``sweep="k=1,2"``, ``[train]``
    tables) over ``config``; None values are left out (a flag not given)."""
    table = {k: v for k, v in values.items() if v is not None}
    known = set(top_level_keys())
    for name in table:
        if name not in known and name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown setting {name!r}", hint=f"known: {', '.join(sorted(known))}")
    changes = {}
    if "sweep" in table:
        changes["sweep_key"], changes["sweep"] = parse_sweep(table.pop("sweep"), f"{source}: sweep")
    for name, (section, attr) in _SHORTCUTS.items():
        if name in table:
            sub = table.get(section, {})
            table[section] = {**sub, attr: table.pop(name)} if isinstance(sub, dict) else sub
    config = from_table(DistillConfig, table, source, base=config)
    return validate(replace(config, **changes) if changes else config)


def write_config(config: DistillConfig, path: Path) -> Path:
    """Write ``config`` as a run file that ``load_config`` reads back to an equal config."""
    table = to_table(config)
    table.pop("sweep", None)
    if config.sweep:
        name = "k" if config.sweep_key == "pool_factor" else "width"
        table = {"sweep": f"{name}=" + ",".join(f"{v:g}" for v in config.sweep), **table}
    return write_toml(table, Path(path))


def top_level_keys() -> list[str]:
    names = [toml_key(f) for f in toml_fields(DistillConfig) if f.name not in _SECTIONS]
    return names + list(_SHORTCUTS) + [f"[{s}]" for s in _SECTIONS]


def parse_sweep(value: Any, where: str = "sweep") -> tuple[str, tuple]:
    """``"k=1,2,4,8"`` or ``[1, 2, 4, 8]`` -> ("pool_factor", (1, 2, 4, 8)); ``"width=0.5,1"`` sweeps widths."""
    if isinstance(value, (list, tuple)):
        key, items = "pool_factor", list(value)
    elif isinstance(value, str):
        name, sep, rest = value.partition("=")
        if not sep or name.strip() not in SWEEP_KEYS:
            raise ConfigError(f"{where}: cannot read sweep {value!r}", hint="write it like k=1,2,4,8 or width=0.5,1")
        key, items = SWEEP_KEYS[name.strip()], [v.strip() for v in rest.split(",") if v.strip()]
    else:
        raise ConfigError(f"{where}: sweep must be a string like 'k=1,2,4,8' or a list of integers")
    cast = int if key == "pool_factor" else float
    try:
        parsed = tuple(cast(v) for v in items)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: sweep values must be {'integers' if cast is int else 'numbers'}: {value!r}") from None
    if not parsed or any(v <= 0 for v in parsed) or len(set(parsed)) != len(parsed):
        raise ConfigError(f"{where}: sweep needs distinct positive values: {value!r}")
    return key, parsed


def validate(config: DistillConfig) -> DistillConfig:
    """Check values that types alone do not catch; return the config unchanged."""
    def need(ok: bool, message: str, hint: str | None = None) -> None:
        if not ok:
            raise ConfigError(message, hint=hint)

    need(config.dataset in DATASETS, f"unknown dataset {config.dataset!r}", f"choose one of {', '.join(DATASETS)}")
    need(config.method in method_names(), f"unknown method {config.method!r}", f"choose one of {', '.join(method_names())}")
    need(bool(config.teacher.strip()), "teacher must not be empty")
    need(bool(config.out.strip()), "out must name a directory")
    need(config.seed >= 0, f"seed must be >= 0, got {config.seed}")
    for name in ("budget_bytes", "weights_budget_bytes"):
        value = getattr(config, name)
        need(value is None or value > 0, f"{name.replace('_bytes', '')} must be positive")
    for name in ("train", "teacher_train"):
        _validate_train(getattr(config, name), name)
    _validate_loss(config.loss)
    s = config.student
    need(s.init in INITS, f"[student] init {s.init!r}: choose {', '.join(INITS)}")
    need(s.stem in STEMS, f"[student] stem {s.stem!r}: choose {', '.join(STEMS)}")
    need(s.pool_factor is None or s.pool_factor >= 1, "[student] pool_factor must be >= 1")
    need(s.width is None or s.width > 0, "[student] width must be positive")
    need(s.pool_factors is None or (all(k >= 1 for k in s.pool_factors) and bool(s.pool_factors)),
         "[student] pool_factors must be integers >= 1")
    need(s.widths is None or (all(w > 0 for w in s.widths) and bool(s.widths)), "[student] widths must be positive")
    need(s.convs is None or bool(s.convs), "[student] convs must not be empty")
    need(s.online_students >= 2, "[student] online_students must be >= 2")
    validate_blockwise(config.blockwise)
    d = config.data
    need(d.augment in AUGMENTS, f"[data] augment {d.augment!r}: choose {', '.join(AUGMENTS)}")
    for name in ("train_size", "test_size", "image_size"):
        need(getattr(d, name) is None or getattr(d, name) > 0, f"[data] {name} must be positive")
    if config.dataset in ("cifar10", "folder"):
        need(config.data_path is not None, f"dataset {config.dataset!r} needs a data path",
             "give --data-path (a CIFAR-10 python-batch folder or .npz; an image folder with train/ and test/)")
    return config


def _validate_train(t: TrainConfig, name: str) -> None:
    checks = [
        (t.epochs >= 1, "epochs must be >= 1"), (t.batch_size >= 1, "batch_size must be >= 1"),
        (t.lr > 0, "lr must be positive"), (0 <= t.momentum < 1, "momentum must be in [0, 1)"),
        (t.weight_decay >= 0, "weight_decay must be >= 0"), (t.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
        (all(m >= 1 for m in t.milestones), "milestones must be epochs >= 1"), (0 < t.gamma <= 1, "gamma must be in (0, 1]"),
        (t.threads >= 0, "threads must be >= 0"), (t.divergence_factor > 1, "divergence_factor must be > 1"),
        (t.eval_batch_size >= 1, "eval_batch_size must be >= 1"),
        (t.autocast in AUTOCASTS, f"autocast {t.autocast!r}: choose {', '.join(AUTOCASTS)}"),
        (re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", t.device) is not None, f"device {t.device!r}: use auto, cpu, cuda or cuda:N"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"[{name}] {message}")


def _validate_loss(w: LossWeights) -> None:
    for f in dataclasses.fields(w):
        value = getattr(w, f.name)
        if value is None:
            continue
        if f.name in ("temperature", "at_reference_positions") and value <= 0:
            raise ConfigError(f"[loss] {f.name} must be positive")
        if f.name == "label_smoothing" and value >= 1:
            raise ConfigError("[loss] label_smoothing must be below 1")
        if value < 0:
            raise ConfigError(f"[loss] {f.name} must be >= 0")


def resolve_weights(config: DistillConfig, method: str) -> dict[str, float]:
    """The method's default weights with ``[loss]`` overrides applied; every weight named, 0 when unused."""
    weights = {"ce_weight": 0.0, "kd_weight": 0.0, "temperature": 4.0, "at_weight": 0.0, "at_reference_positions": 1024,
               "hint_weight": 0.0, "red_weight": 0.0, "mutual_weight": 0.0, "label_smoothing": 0.0, "warmup_epochs": 0}
    weights.update(METHODS[method].weights)
    weights.update({k: v for k, v in dataclasses.asdict(config.loss).items() if v is not None})
    return weights
