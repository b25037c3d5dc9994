"""DistillConfig from TOML: every key, validation before work, one-line errors, weight resolution."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgemem.distill.config import (DistillConfig, apply_overrides, config_from_mapping, load_config, parse_sweep,
                                    resolve_weights, top_level_keys)
from edgemem.errors import ConfigError

FULL = """
teacher = "resnet20"
teacher_weights = "teacher.pt"
teacher_cache = "cache/teacher"
dataset = "cifar10"
data_path = "cifar.npz"
budget = "96KiB"
budget_scope = "model"
precision = "int8"
weights_budget = "1MB"
epochs = 12
teacher_epochs = 20
method = "red_kd"
baseline = true
sweep = "k=1,2,4,8"
out = "runs/a"
seed = 3
resume = true
json = true

[train]
batch_size = 64
lr = 0.1
momentum = 0.8
weight_decay = 1e-4
nesterov = false
schedule = "step"
milestones = [6, 9]
gamma = 0.2
threads = 1
divergence_factor = 50

[teacher_train]
lr = 0.02

[loss]
ce_weight = 0.2
kd_weight = 0.8
temperature = 3
red_weight = 10

[student]
pool_factor = 4
red = false
init = "teacher"
pool_factors = [1, 4]
online_students = 3

[data]
train_size = 1000
augment = "none"
split_seed = 7
"""


def test_full_config_round_trip(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(FULL)
    c = load_config(path)
    assert (c.teacher, c.teacher_weights, c.dataset, c.data_path) == ("resnet20", "teacher.pt", "cifar10", "cifar.npz")
    assert (c.budget_bytes, c.budget_scope, c.precision, c.weights_budget_bytes) == (96 * 1024, "model", "int8", 10**6)
    assert (c.train.epochs, c.teacher_train.epochs, c.method, c.baseline) == (12, 20, "red_kd", True)
    assert (c.sweep_key, c.sweep, c.out, c.seed, c.resume, c.json) == ("pool_factor", (1, 2, 4, 8), "runs/a", 3, True, True)
    assert c.train.milestones == (6, 9) and c.train.nesterov is False and c.train.divergence_factor == 50.0
    assert c.teacher_train.lr == 0.02 and c.teacher_train.batch_size == 128  # its own table, defaults elsewhere
    assert c.student.pool_factor == 4 and c.student.red is False and c.student.pool_factors == (1, 4)
    assert c.data.train_size == 1000 and c.data.augment == "none" and c.data.split_seed == 7
    assert str(c.teacher_cache_dir) == "cache/teacher"
    assert c.to_dict()["loss"]["kd_weight"] == 0.8


def test_written_config_reads_back_equal(tmp_path):
    from edgemem.distill.config import write_config

    path = tmp_path / "run.toml"
    path.write_text(FULL)
    config = load_config(path)
    again = load_config(write_config(config, tmp_path / "again" / "run.toml"))
    assert again == config
    swept = apply_overrides(config, {"sweep": "width=0.5,1", "budget_scope": "activations"})
    assert load_config(write_config(swept, tmp_path / "swept.toml")) == swept


def test_precision_and_scope_are_case_insensitive_enums():
    from edgemem.budget import Precision, Scope

    c = config_from_mapping({"precision": "FP16", "budget_scope": "Model", "budget": "1MB"})
    assert (c.precision, c.budget_scope) == (Precision.FP16, Scope.MODEL)
    assert c.budget.budget_bytes == 10**6 and c.budget.scope is Scope.MODEL


def test_defaults_are_valid_and_teacher_cache_follows_out():
    c = DistillConfig()
    assert str(c.teacher_cache_dir).endswith("edgemem-distill/teacher")
    assert resolve_weights(c, "kd") == {"ce_weight": 0.1, "kd_weight": 0.9, "temperature": 4.0, "at_weight": 0.0,
                                        "at_reference_positions": 1024, "hint_weight": 0.0, "red_weight": 0.0, "mutual_weight": 0.0,
                                        "label_smoothing": 0.0, "warmup_epochs": 0}


def test_loss_table_overrides_the_method_weights_by_name():
    c = config_from_mapping({"loss": {"kd_weight": 0.5, "at_weight": 10}})
    w = resolve_weights(c, "red_kd")
    assert (w["ce_weight"], w["kd_weight"], w["red_weight"], w["at_weight"]) == (0.05, 0.5, 25.0, 10.0)


@pytest.mark.parametrize("text, message", [
    ("teacher = ", "not valid TOML"),
    ("[train\nlr = 1", "not valid TOML"),
    ("budgett = '1MB'", "unknown setting 'budgett'"),
    ("[train]\nlearning_rate = 0.1", r"\[train\]: unknown key 'learning_rate'"),
    ("[loss]\nkd_weight = 'high'", "expected a number"),
    ("epochs = 2.5", "expected an integer"),
    ("baseline = 1", "expected true or false"),
    ("budget = '12 parsecs'", "unknown size unit"),
    ("budget = '0B'", "must be positive"),
    ("dataset = 'imagenet'", "unknown dataset 'imagenet'"),
    ("method = 'magic'", "unknown method 'magic'"),
    ("precision = 'fp8'", "precision 'fp8'"),
    ("sweep = 'q=1,2'", "cannot read sweep"),
    ("sweep = [2, 2]", "distinct positive"),
    ("[train]\nlr = -1", r"\[train\] lr must be positive"),
    ("[loss]\ntemperature = 0", "temperature must be positive"),
    ("train = 3", r"\[train\] must be a table"),
    ("dataset = 'cifar10'", "needs a data path"),
    ("[student]\nonline_students = 1", "online_students must be >= 2"),
    ("[data]\naugment = 'mixup'", "augment 'mixup'"),
    ("[train]\ndevice = 'tpu'", "device 'tpu'"),
])
def test_bad_configs_are_one_line_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "\n" not in info.value.one_line()


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "binary.toml")


def test_flags_override_the_file():
    base = config_from_mapping({"budget": "1MB", "epochs": 5, "seed": 1})
    c = apply_overrides(base, {"budget": "64KiB", "epochs": None, "seed": 4, "sweep": "width=0.5,1"})
    assert (c.budget_bytes, c.train.epochs, c.seed) == (65536, 5, 4)
    assert (c.sweep_key, c.sweep) == ("width", (0.5, 1.0))


def test_parse_sweep_forms():
    assert parse_sweep("k=1, 2,4") == ("pool_factor", (1, 2, 4))
    assert parse_sweep([8, 4]) == ("pool_factor", (8, 4))
    with pytest.raises(ConfigError, match="integers"):
        parse_sweep("k=1.5")


def test_every_top_level_key_is_listed():
    keys = top_level_keys()
    for name in ("budget", "weights_budget", "epochs", "teacher_epochs", "sweep", "json", "resume", "[loss]"):
        assert name in keys


def test_config_module_does_not_import_torch():
    code = ("import sys; from edgemem.distill.config import load_config, DistillConfig; "
            "from edgemem.distill.result import DistillResult; print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
