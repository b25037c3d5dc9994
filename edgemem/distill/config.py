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
values are ``ConfigError`` (one line naming the key), before any data is loaded.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # a dependency on 3.10 (pyproject)
    import tomli as tomllib

from edgemem.distill.blockwise.options import BlockwiseOptions, validate_blockwise
from edgemem.distill.data import AUGMENTS, DATASETS
from edgemem.errors import ConfigError, EdgememError
from edgemem.units import parse_size

PRECISIONS = ("fp32", "fp16", "int8")
BUDGET_SCOPES = ("activations", "total")
SCHEDULES = ("cosine", "step", "constant")
AUTOCASTS = ("none", "bf16")
INITS = ("auto", "scratch", "teacher")  # auto: edgemem.distill.recipe.resolve_init
STEMS = ("auto", "strided", "patchify", "patchify_sampled")  # students/stems.py (this module imports no torch); auto: recipe.resolve_stem
SWEEP_KEYS = {"k": "pool_factor", "pool_factor": "pool_factor", "width": "width"}


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
    red: bool = True  # RED blocks at the moved points
    init: str = "auto"  # scratch: fresh weights; teacher: the teacher's weights; auto: teacher when it distils
    stem: str = "auto"  # pooled students: strided | patchify (students/stems.py); auto: patchify
    pool_factors: tuple[int, ...] | None = None  # search space of the budget search (None: the search's defaults,
    convs: tuple[str, ...] | None = None  # pool 1/2/4/8, convs standard/G(2)/G(4)/B(2)/DW, widths 1/0.75/0.5/0.25)
    widths: tuple[float, ...] | None = None
    online_students: int = 4  # method "online": students trained together


@dataclass(frozen=True)
class DataOptions:
    train_size: int | None = None  # use only the first N training examples
    test_size: int | None = None
    augment: str = "auto"  # auto: the dataset's default
    image_size: int | None = None  # folder datasets: resize to this square size
    split_seed: int = 0  # digits: the stratified 75/25 split's random_state


@dataclass(frozen=True)
class DistillConfig:
    teacher: str = "resnet20"
    teacher_weights: str | None = None
    teacher_cache: str | None = None  # where the trained teacher is cached (default: <out>/teacher)
    dataset: str = "digits"
    data_path: str | None = None
    budget_bytes: int | None = None
    budget_scope: str = "activations"
    precision: str = "fp32"
    weights_budget_bytes: int | None = None
    method: str = "auto"
    baseline: bool = False
    sweep: tuple[int | float, ...] = ()
    sweep_key: str = "pool_factor"
    out: str = "edgemem-distill"
    plot: str | None = None  # memory-accuracy plot (.png/.svg); None: <out>/report.png
    seed: int = 0
    resume: bool = False
    json: bool = False
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

    def to_dict(self) -> dict:
        """A plain dict (JSON-ready) of every setting, as recorded in results and checkpoints."""
        return dataclasses.asdict(self)


# top-level TOML keys that are not DistillConfig field names
_TOP_ALIASES = {"budget": "budget_bytes", "weights_budget": "weights_budget_bytes",
                "epochs": "train.epochs", "teacher_epochs": "teacher_train.epochs",
                "workers": "blockwise.workers", "blocks": "blockwise.blocks", "replacement": "blockwise.replacement"}
_SECTIONS = {"train": TrainConfig, "teacher_train": TrainConfig, "loss": LossWeights, "blockwise": BlockwiseOptions,
             "student": StudentOptions, "data": DataOptions}


def load_config(path: str | Path) -> DistillConfig:
    """Read and validate a TOML run config; every problem is a one-line ConfigError."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    return config_from_mapping(table, source=str(path))


def config_from_mapping(table: dict, source: str = "config", base: DistillConfig | None = None) -> DistillConfig:
    """Build a config from a TOML-shaped mapping (top-level flags + tables) over ``base``."""
    config = base or DistillConfig()
    top: dict[str, Any] = {}
    sections: dict[str, dict] = {}
    for key, value in table.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: [{key}] must be a table")
            sections[key] = value
        else:
            top[key] = value
    for name, values in sections.items():
        current = getattr(config, name)
        config = replace(config, **{name: _fill(type(current), values, f"{source}: [{name}]", current)})
    return apply_overrides(config, top, source)


def apply_overrides(config: DistillConfig, values: dict[str, Any], source: str = "command line") -> DistillConfig:
    """Apply top-level settings named as flags (``budget="64KiB"``, ``epochs=3``, ``sweep="k=1,2"``)."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        where = f"{source}: {key}"
        target = _TOP_ALIASES.get(key, key)
        if target == "budget_bytes" or target == "weights_budget_bytes":
            changes[target] = _size(value, where)
        elif "." in target:  # a top-level key for a setting inside a table (epochs -> [train] epochs)
            section, _, attr = target.partition(".")
            current = changes.get(section, getattr(config, section))
            changes[section] = replace(current, **{attr: _check(value, _field_types(type(current))[attr], where)})
        elif target == "sweep":
            changes["sweep_key"], changes["sweep"] = parse_sweep(value, where)
        elif target == "sweep_key" or target in _SECTIONS or target not in _field_types(DistillConfig):
            raise ConfigError(f"{source}: unknown setting {key!r}", hint=f"known: {', '.join(top_level_keys())}")
        else:
            changes[target] = _check(value, _field_types(DistillConfig)[target], where)
    return validate(replace(config, **changes))


def top_level_keys() -> list[str]:
    inverse = {v: k for k, v in _TOP_ALIASES.items()}
    names = [inverse.get(f.name, f.name) for f in dataclasses.fields(DistillConfig)
             if f.name not in _SECTIONS and f.name != "sweep_key"]
    return names + [k for k, v in _TOP_ALIASES.items() if "." in v] + [f"[{s}]" for s in _SECTIONS]


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
    from edgemem.distill.trainers import method_names

    def need(ok: bool, message: str, hint: str | None = None) -> None:
        if not ok:
            raise ConfigError(message, hint=hint)

    need(config.dataset in DATASETS, f"unknown dataset {config.dataset!r}", f"choose one of {', '.join(DATASETS)}")
    need(config.method in method_names(), f"unknown method {config.method!r}", f"choose one of {', '.join(method_names())}")
    need(config.precision in PRECISIONS, f"precision {config.precision!r}: choose {', '.join(PRECISIONS)}")
    need(config.budget_scope in BUDGET_SCOPES, f"budget_scope {config.budget_scope!r}: choose {', '.join(BUDGET_SCOPES)}")
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
    from edgemem.distill.trainers import METHODS

    weights = {"ce_weight": 0.0, "kd_weight": 0.0, "temperature": 4.0, "at_weight": 0.0, "at_reference_positions": 1024,
               "hint_weight": 0.0, "red_weight": 0.0, "mutual_weight": 0.0, "label_smoothing": 0.0, "warmup_epochs": 0}
    weights.update(METHODS[method].weights)
    weights.update({k: v for k, v in dataclasses.asdict(config.loss).items() if v is not None})
    return weights


def _fill(cls, values: dict, where: str, current):
    types = _field_types(cls)
    changes = {}
    for key, value in values.items():
        if key not in types:
            raise ConfigError(f"{where}: unknown key {key!r}", hint=f"known: {', '.join(types)}")
        changes[key] = _check(value, types[key], f"{where} {key}")
    return replace(current, **changes)


def _field_types(cls) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _check(value: Any, annotation: Any, where: str) -> Any:
    """Return ``value`` converted to ``annotation`` (int, float, bool, str, X | None, tuple[X, ...])."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for option in options:
            try:
                return _check(value, option, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_kind(value)}")
        inner = typing.get_args(annotation)[0]
        return tuple(_check(v, inner, where) for v in value)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_kind(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_kind(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_kind(value)}")
        return float(value)
    if annotation is str:
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a string, got {_kind(value)}")
        return str(value)
    raise ConfigError(f"{where}: unsupported setting type {annotation}")


def _size(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a size like '64KiB', got {_kind(value)}")
    try:
        size = parse_size(value if isinstance(value, int) else str(value))
    except EdgememError as exc:
        raise ConfigError(f"{where}: {exc.one_line()}") from None
    if size <= 0:
        raise ConfigError(f"{where}: must be positive")
    return size


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
