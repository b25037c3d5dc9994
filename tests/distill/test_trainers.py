"""Trainers on real data (scikit-learn digits) with tiny real models: CE, KD, feature losses, online
mutual learning, divergence detection, and the method table."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from edgemem.distill.config import LossWeights, resolve_weights, DistillConfig
from edgemem.distill.trainers import METHODS
from edgemem.distill.trainers.registry import TRAINERS, get_trainer
from edgemem.errors import TrainingError
from tests.distill.tiny import TinyNet, digits, fit, make_job


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    outcome = fit(make_job("teacher", "ce", epochs=4, model=TinyNet(width=16, dropout=0.0), dataset=digits(None), lr=0.1))
    return outcome


def test_teacher_learns_digits(teacher):
    history = teacher.summary.history
    assert teacher.summary.accuracy >= 0.85, history
    assert history[-1].train_loss < history[0].train_loss
    assert [h.epoch for h in history] == [1, 2, 3, 4] and history[0].lr == pytest.approx(0.1)
    assert history[-1].lr < history[0].lr  # cosine schedule
    assert not teacher.model.training


def test_kd_student_uses_a_frozen_teacher(teacher):
    before = [p.clone() for p in teacher.model.parameters()]
    outcome = fit(make_job("student", "kd", epochs=3, teacher=teacher.model, model=TinyNet(width=8, stem_stride=2),
                           dataset=digits(None), lr=0.1))
    parts = outcome.summary.history[-1].loss_parts
    assert set(parts) == {"ce", "kd"} and parts["kd"] > 0
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.model.parameters()))
    assert all(not p.requires_grad for p in teacher.model.parameters())
    assert outcome.summary.accuracy > 0.3


@pytest.mark.parametrize("method, terms", [("red_kd", {"ce", "kd", "red"}), ("kd_at", {"ce", "kd", "at"}), ("hint", {"ce", "hint"}),
                                          ("kd_hint", {"ce", "kd", "hint"})])
def test_feature_losses_train_through_taps(teacher, method, terms):
    # student stem (stride 2) and teacher layer2 (stride 2) both give 4x4 maps
    student = TinyNet(width=8, stem_stride=2)
    start = student.stem[0].weight.detach().clone()
    outcome = fit(make_job("student", method, epochs=1, teacher=teacher.model, model=student, pairs=[("stem", "layer2")]))
    parts = outcome.summary.history[-1].loss_parts
    assert set(parts) == terms and all(v >= 0 for v in parts.values())
    assert not torch.equal(start, student.stem[0].weight)


def test_hint_regressors_are_checkpointed_but_not_deployed(teacher, tmp_path):
    student = TinyNet(width=8, stem_stride=2)
    outcome = fit(make_job("student", "hint", epochs=1, teacher=teacher.model, model=student,
                           pairs=[("stem", "layer2")], checkpoint_dir=tmp_path))
    from edgemem.distill.checkpoint import CheckpointStore

    models = CheckpointStore(tmp_path).load()["models"]
    assert set(models) == {"model", "regressors"} and models["regressors"]["0.weight"].shape == (32, 8, 1, 1)
    assert outcome.model is student


def test_methods_that_need_a_teacher_or_pairs_say_so(teacher):
    with pytest.raises(TrainingError, match="needs a teacher"):
        fit(make_job("student", "kd", epochs=1))
    with pytest.raises(TrainingError, match="needs feature pairs"):
        fit(make_job("student", "red_kd", epochs=1, teacher=teacher.model))


def test_mismatched_pairs_are_a_training_error(teacher):
    with pytest.raises(TrainingError, match="same batch and spatial size"):
        fit(make_job("student", "red", epochs=1, teacher=teacher.model, model=TinyNet(width=8), pairs=[("stem", "layer2")]))


def test_nan_loss_is_detected_with_a_clear_message(tmp_path):
    with pytest.raises(TrainingError) as info:
        fit(make_job("student", "ce", epochs=3, lr=1e12, checkpoint_dir=tmp_path, schedule="constant"))
    line = info.value.one_line()
    assert "student: training diverged in epoch" in line and "lr 1e+12" in line and "\n" not in line
    assert "lower the learning rate" in line


def test_loss_growth_beyond_the_divergence_factor_is_detected(tmp_path):
    with pytest.raises(TrainingError, match=r"over 0.5x the first epoch's") as info:
        fit(make_job("student", "ce", epochs=3, checkpoint_dir=tmp_path, divergence_factor=0.5))
    assert "checkpoint of epoch 1 is kept" in info.value.one_line()


def test_online_mutual_learning_trains_several_students_and_a_head():
    outcome = fit(make_job("online", "online", epochs=2, model=TinyNet(width=8)))
    extra = outcome.extra
    assert len(extra["branch_accuracy"]) == 3 and 0 <= extra["ensemble_accuracy"] <= 1
    assert outcome.summary.accuracy == max(extra["branch_accuracy"])
    assert isinstance(outcome.model, TinyNet)
    assert set(outcome.summary.history[-1].loss_parts) == {"ce", "mutual"}


def test_online_branches_start_from_different_weights():
    from edgemem.distill.trainers.online import OnlineTrainer

    trainer = OnlineTrainer(make_job("online", "online", epochs=1, model=TinyNet(width=8)))
    trainer.build()
    first, second = (b.stem[0].weight for b in trainer.branches[:2])
    assert first.shape == second.shape and not torch.equal(first, second)
    assert trainer.head[-1].in_features == 3 * 16


def test_method_table_is_consistent():
    fields = {f.name for f in dataclasses.fields(LossWeights)}
    for name, method in METHODS.items():
        assert method.trainer in TRAINERS, name
        assert set(method.weights) <= fields, name
        weights = resolve_weights(DistillConfig(), name)
        assert any(weights[k] > 0 for k in fields - {"temperature", "at_reference_positions"}), name
    assert get_trainer("standard").__name__ == "StandardTrainer"
    with pytest.raises(KeyError, match="unknown trainer"):
        get_trainer("blockwise-not-yet")


def test_unavailable_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(TrainingError, match="CUDA is not available"):
        fit(make_job("student", "ce", epochs=1, device="cuda"))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA")
def test_training_on_cuda_returns_models_on_the_cpu(teacher, tmp_path):
    outcome = fit(make_job("student", "red_kd", epochs=2, teacher=teacher.model, model=TinyNet(width=8, stem_stride=2),
                           pairs=[("stem", "layer2")], checkpoint_dir=tmp_path, device="cuda"))
    assert all(p.device.type == "cpu" for p in outcome.model.parameters())
    assert all(p.device.type == "cpu" for p in teacher.model.parameters())
    resumed = fit(make_job("student", "red_kd", epochs=2, teacher=teacher.model, model=TinyNet(width=8, stem_stride=2),
                           pairs=[("stem", "layer2")], checkpoint_dir=tmp_path, device="cuda", resume=True))
    assert resumed.summary.cached and resumed.summary.accuracy == outcome.summary.accuracy


def test_bf16_autocast_trains_and_evaluates_in_fp32(teacher):
    outcome = fit(make_job("student", "kd", epochs=3, teacher=teacher.model, model=TinyNet(width=8, stem_stride=2),
                           dataset=digits(None), lr=0.1, autocast="bf16"))
    history = outcome.summary.history
    assert history[-1].train_loss < history[0].train_loss
    assert outcome.summary.accuracy > 0.3
    assert all(p.dtype == torch.float32 for p in outcome.model.parameters())


def test_autocast_setting_is_validated():
    from edgemem.distill.config import config_from_mapping
    from edgemem.errors import ConfigError

    assert config_from_mapping({"train": {"autocast": "bf16"}}).train.autocast == "bf16"
    with pytest.raises(ConfigError, match="autocast 'fp16'"):
        config_from_mapping({"train": {"autocast": "fp16"}})


def test_feature_warmup_trains_the_feature_terms_alone_first(teacher):
    from edgemem.distill.trainers.standard import warmup_weights

    weights = {**resolve_weights(DistillConfig(), "kd_at"), "warmup_epochs": 1}
    outcome = fit(make_job("student", "kd_at", epochs=2, teacher=teacher.model, model=TinyNet(width=8, stem_stride=2),
                           pairs=[("stem", "layer2")], weights=weights))
    first, second = (h.loss_parts for h in outcome.summary.history)
    assert set(first) == {"at"} and set(second) == {"ce", "kd", "at"}
    assert warmup_weights(resolve_weights(DistillConfig(), "kd")) is None  # no warm-up asked
    assert warmup_weights({**resolve_weights(DistillConfig(), "kd"), "warmup_epochs": 2}) is None  # no feature term


def test_hint_regressors_start_as_the_identity_when_channels_match(teacher):
    from edgemem.distill.trainers.standard import StandardTrainer

    job = make_job("student", "hint", epochs=1, teacher=teacher.model, model=TinyNet(width=16, stem_stride=2),
                   pairs=[("layer1", "layer1")])
    job.stage_pairs = [("layer1", "layer1"), ("stem", "layer2")]
    trainer = StandardTrainer(job)
    trainer.build()
    same, other = trainer.modules["regressors"]
    assert torch.equal(same.weight.flatten(1), torch.eye(16)) and other.weight.shape == (32, 16, 1, 1)
    assert trainer.feature_pairs == [("layer1", "layer1"), ("stem", "layer2")]  # stage pairs win over the RED pairs
