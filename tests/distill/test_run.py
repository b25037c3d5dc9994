"""distill(config) end to end on real data (scikit-learn digits, zoo resnet-mini): teacher trained and
cached, budget search, student training, ONNX export with parity, analysis, report, resume."""

from __future__ import annotations

import json

import pytest
import torch

from edgemem.distill.config import config_from_mapping
from edgemem.distill.recipe import POOLED_METHOD
from edgemem.distill.trainers import METHODS
from edgemem.distill.run import distill
from edgemem.errors import BudgetError, ConfigError

FAST = {"threads": 1, "batch_size": 128}


def settings(tmp_path, **top):
    table = {"teacher": "resnet-mini", "dataset": "digits", "epochs": 2, "teacher_epochs": 3, "out": str(tmp_path / "out"),
             "teacher_cache": str(tmp_path / "teacher"), "train": dict(FAST), "teacher_train": dict(FAST)}
    table.update(top)
    return config_from_mapping(table)


class Recorder:
    def __init__(self, stop_after=None):
        self.phases, self.epochs, self.notes, self.stop_after = [], [], [], stop_after

    def phase(self, name, epochs, steps, start=0):
        self.phases.append((name, epochs, start))

    def step(self, epoch, loss):
        assert loss == loss

    def epoch_end(self, metrics):
        self.epochs.append((self.phases[-1][0], metrics.epoch, metrics.train_loss))
        if self.stop_after == (self.phases[-1][0], metrics.epoch):
            raise KeyboardInterrupt

    def phase_end(self):
        pass

    def note(self, text):
        self.notes.append(text)


@pytest.fixture(scope="module")
def budget_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    progress = Recorder()
    return distill(settings(tmp, budget="6KiB", baseline=True), progress), progress, tmp


def test_student_fits_the_budget_and_matches_its_onnx(budget_run):
    result, progress, tmp = budget_run
    s, t = result.student, result.teacher
    assert result.budget.fits and s.arena_bytes <= 6 * 1024 and result.budget.required_bytes == s.arena_bytes
    assert s.spec["pool_factor"] == 2 and result.method == POOLED_METHOD
    assert s.spec["red"] is METHODS[POOLED_METHOD].needs_pairs  # RED blocks only when the method trains them
    assert t.peak_activation_bytes == 4 * s.peak_activation_bytes and result.reduction == 4.0
    assert result.parity_max_abs_diff <= 1e-4
    # the exported file is what the analyzer measured
    from edgemem.distill.budget import analyze_file

    memory = analyze_file(s.onnx_path, "fp32")
    assert (memory.peak_activation_bytes, memory.arena_bytes) == (s.peak_activation_bytes, s.arena_bytes)
    assert s.budget is result.budget and result.budget.scope == "activations" and result.budget.budget_bytes == 6 * 1024
    assert s.weights_bytes >= t.weights_bytes  # pooling removes no weight (RED blocks would add some)
    assert [p[0] for p in progress.phases] == ["teacher", "student", "baseline"]


def test_teacher_accuracy_and_training_records(budget_run):
    result, _, _ = budget_run
    assert result.teacher.accuracy >= 0.85 and result.teacher.training.epochs == 3
    assert result.student.training.method == POOLED_METHOD and len(result.student.training.history) == 2
    terms = {k.removesuffix("_weight") for k, v in METHODS[POOLED_METHOD].weights.items() if k.endswith("_weight") and v > 0}
    assert set(result.student.training.history[-1].loss_parts) == terms
    assert result.baseline.training.method == "ce" and result.baseline.spec["red"] is False
    assert result.baseline.parameters <= result.student.parameters  # the same layers, no RED blocks


def test_report_json_and_files(budget_run):
    result, _, tmp = budget_run
    out = tmp / "out"
    document = json.loads((out / "report.json").read_text())
    assert document["schema"] == "edgemem.distill_result/1" and document["fits"] is True
    assert document["student"]["onnx_path"] == str(out / "student.onnx") and (out / "student.onnx").is_file()
    saved = torch.load(out / "student.pt", weights_only=True)
    assert saved["spec"]["pool_factor"] == 2 and saved["method"] == POOLED_METHOD
    assert (tmp / "teacher" / "teacher.pt").is_file() and json.loads((tmp / "teacher" / "teacher.json").read_text())["accuracy"] > 0.8
    assert document["config"]["budget_bytes"] == 6144 and document["versions"]["torch"] == torch.__version__


def test_cached_teacher_and_finished_phases_are_reused(budget_run):
    result, _, tmp = budget_run
    progress = Recorder()
    again = distill(settings(tmp, budget="6KiB", baseline=True, resume=True), progress)
    assert again.teacher.training.cached and any("reused from the cache" in n for n in progress.notes)
    assert again.student.training.cached and again.student.accuracy == result.student.accuracy
    assert again.baseline.accuracy == result.baseline.accuracy
    assert progress.epochs == []  # nothing retrained


def test_killed_student_resumes_with_the_uninterrupted_losses(budget_run, tmp_path):
    _, _, shared = budget_run
    base = dict(budget="6KiB", teacher_cache=str(shared / "teacher"), epochs=3)
    full = Recorder()
    distill(settings(tmp_path / "a", **base), full)
    with pytest.raises(KeyboardInterrupt):
        distill(settings(tmp_path / "b", **base), Recorder(stop_after=("student", 1)))
    resumed = Recorder()
    result = distill(settings(tmp_path / "b", resume=True, **base), resumed)
    assert ("student", 3, 1) in resumed.phases
    assert [e for e in resumed.epochs if e[0] == "student"] == [e for e in full.epochs if e[0] == "student"][1:]
    assert result.student.training.resumed_from_epoch == 1
    assert [h.epoch for h in result.student.training.history] == [1, 2, 3]


def test_sweep_trains_a_family(budget_run, tmp_path):
    _, _, shared = budget_run
    result = distill(settings(tmp_path, sweep="k=1,4", teacher_cache=str(shared / "teacher"), epochs=1))
    assert result.student is None and result.budget is None
    peaks = {m.spec["pool_factor"]: m.peak_activation_bytes for m in result.sweep}
    assert peaks[1] == result.teacher.peak_activation_bytes and peaks[4] < peaks[1] / 4
    assert [m.training.method for m in result.sweep] == ["kd", POOLED_METHOD]
    assert (tmp_path / "out" / "sweep" / "k4" / "student.onnx").is_file()


def test_budget_below_anything_reachable_is_a_budget_error(budget_run, tmp_path):
    _, _, shared = budget_run
    with pytest.raises(BudgetError, match="smallest") as info:
        distill(settings(tmp_path, budget="64B", teacher_cache=str(shared / "teacher")))
    assert info.value.exit_code == 3 and "\n" not in info.value.one_line()


def test_given_teacher_weights_skip_teacher_training(budget_run, tmp_path):
    result, _, shared = budget_run
    progress = Recorder()
    again = distill(settings(tmp_path, teacher_weights=str(shared / "teacher" / "teacher.pt"), epochs=1,
                             student={"pool_factor": 2}), progress)
    assert again.teacher.training is None and again.teacher.accuracy == result.teacher.accuracy
    assert [p[0] for p in progress.phases] == ["student"] and again.budget is None and again.method == POOLED_METHOD


def test_methods_needing_pairs_refuse_an_unpooled_student():
    from edgemem.distill.run import resolve_method

    assert resolve_method("auto", []) == "kd" and resolve_method("auto", [("a", "b")]) == POOLED_METHOD
    with pytest.raises(ConfigError, match="needs RED pairs"):
        resolve_method("red_kd", [], "student")
    assert resolve_method("kd_at", [], "student") == "kd_at"  # AT uses the stage pairs every student has


def test_nothing_to_distill_to_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="give --budget, --sweep"):
        distill(settings(tmp_path))


def test_online_method_needs_no_teacher(tmp_path):
    progress = Recorder()
    result = distill(settings(tmp_path, method="online", epochs=1, student={"width": 0.25, "online_students": 2}), progress)
    assert result.teacher.accuracy is None and result.teacher.training is None
    assert [p[0] for p in progress.phases] == ["student"]
    assert result.student.training.method == "online" and result.student.spec["width"] == 0.25
    assert result.student.parameters < result.teacher.parameters


@pytest.mark.slow
def test_mnist1d_kd_beats_training_without_a_teacher(tmp_path):
    """Bounded regression of the issue's accuracy target (the full 2-seed table with RED+KD is
    benchmarks/distill_mnist1d.py): resnet1d teacher, x4 pooled half-width student, 1,000 generated
    training signals, 30 epochs, seed 0; KD must beat CE by at least 1 point (measured: +9.3)."""
    from edgemem.distill.data import load_dataset
    from edgemem.distill.run import Context, SilentProgress, prepare_teacher, train_student
    from edgemem.distill.students.spec import StudentSpec

    train = {"threads": 1, "batch_size": 128, "lr": 0.05}
    config = config_from_mapping({"teacher": "resnet1d", "dataset": "mnist1d", "epochs": 30, "teacher_epochs": 30,
                                  "train": train, "teacher_train": train, "data": {"train_size": 1000}, "out": str(tmp_path)})
    ctx = Context(config, load_dataset("mnist1d", None, config.data), SilentProgress(), [])
    teacher, training = prepare_teacher(ctx)
    assert training.accuracy >= 0.94
    spec = StudentSpec(pool_factor=4, width=0.5, red=False)
    ce, _, _ = train_student(ctx, teacher, spec, "ce", "ce", tmp_path / "ce")
    kd, _, _ = train_student(ctx, teacher, spec, "kd", "kd", tmp_path / "kd")
    assert ce.peak_activation_bytes * 8 == teacher_peak(ctx, teacher)  # x4 pooling and half width: 1/8 of the peak
    assert kd.accuracy - ce.accuracy >= 0.010, (ce.accuracy, kd.accuracy)


def teacher_peak(ctx, teacher) -> int:
    from edgemem.distill.budget import measure_memory

    return measure_memory(teacher, ctx.input_shape).peak_activation_bytes
