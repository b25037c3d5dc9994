"""``edgemem distill`` on the ViT and denoiser families end to end through typer's CliRunner (digits,
real training), then the exported files through ``edgemem analyze`` and ``edgemem bench --host local``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgemem.cli import app

runner = CliRunner()
FAST_BENCH = ["--warmup", "0.05s", "--warmup-runs", "2", "--duration", "0.1s", "--runs", "5", "--baseline", "0.1s"]
DENOISE_TOML = """
[train]
threads = 1
batch_size = 64
[teacher_train]
threads = 1
batch_size = 64
[student]
pool_factor = 2
[denoise]
num_samples = 24
grid_samples = 16
sample_steps = 4
quality_epochs = 1
warmup_steps = 5
"""


def error_line(result) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgemem: error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


@pytest.fixture(scope="module")
def denoise_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("denoise")
    (folder / "run.toml").write_text(DENOISE_TOML)
    result = runner.invoke(app, ["distill", "--task", "denoise", "--teacher", "ddpm-unet-tiny", "--dataset", "digits",
                                 "--epochs", "1", "--teacher-epochs", "1", "--baseline", "--json", "--out", str(folder / "out"),
                                 "--config", str(folder / "run.toml")])
    assert result.exit_code == 0, result.output
    return folder, json.loads(result.stdout)


def test_denoise_run_reports_every_model(denoise_run):
    folder, doc = denoise_run
    assert doc["schema"] == "edgemem.denoise_result/1" and doc["method"] == "kd"  # auto: kd, no RED blocks
    teacher, student, baseline = doc["teacher"], doc["student"], doc["baseline"]
    assert student["pool_strides"] == [2, 1] and teacher["pool_strides"] == [1, 2]
    assert student["training"]["method"] == "kd" and baseline["training"]["method"] == "ce"
    assert student["spec"]["red"] is False and student["spec"]["stem"] == "strided"
    assert "time embedding recomputed" in student["description"] and "space-to-depth" not in student["description"]
    assert student["peak_activation_bytes"] < teacher["peak_activation_bytes"] and doc["reduction"] > 1
    for m in (teacher, student, baseline):
        assert m["heldout_loss"] > 0 and m["parity_max_abs_diff"] <= 1e-4 and Path(m["onnx_path"]).is_file()
        assert m["quality"]["samples"] == 24 and m["quality"]["frechet_distance"] >= 0 and Path(m["quality"]["grid_path"]).is_file()
    assert doc["loss_ratio"] == pytest.approx(student["heldout_loss"] / teacher["heldout_loss"])
    assert doc["quality_reference"]["samples"] == 24 and (folder / "out" / "report.json").is_file()


def test_denoise_resume_reuses_every_phase(denoise_run):
    folder, doc = denoise_run
    result = runner.invoke(app, ["distill", "--task", "denoise", "--teacher", "ddpm-unet-tiny", "--dataset", "digits",
                                 "--epochs", "1", "--teacher-epochs", "1", "--baseline", "--resume", "--out", str(folder / "out"),
                                 "--config", str(folder / "run.toml")])
    assert result.exit_code == 0, result.output
    again = json.loads((folder / "out" / "report.json").read_text())
    assert again["student"]["training"]["cached"] and again["student"]["heldout_loss"] == doc["student"]["heldout_loss"]
    assert again["student"]["quality"]["frechet_distance"] == doc["student"]["quality"]["frechet_distance"]
    assert "teacher ddpm-unet-tiny reused from the cache" in result.stderr
    assert "peak activation memory: teacher" in result.stdout and "held-out denoising loss: student" in result.stdout


def test_denoise_resume_with_more_epochs_continues_each_phase(tmp_path):
    (tmp_path / "run.toml").write_text(DENOISE_TOML.replace("num_samples = 24", "num_samples = 0"))
    common = ["distill", "--task", "denoise", "--teacher", "ddpm-unet-tiny", "--dataset", "digits", "--baseline", "--resume",
              "--out", str(tmp_path / "out"), "--config", str(tmp_path / "run.toml")]
    first = runner.invoke(app, [*common, "--epochs", "1", "--teacher-epochs", "1"])
    assert first.exit_code == 0, first.output
    longer = runner.invoke(app, [*common, "--epochs", "2", "--teacher-epochs", "1"])
    assert longer.exit_code == 0, longer.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert "teacher ddpm-unet-tiny reused from the cache" in longer.stderr
    for role in ("student", "baseline"):  # each went on from its 1-epoch checkpoint
        assert f"{role}: resumed after epoch 1" in longer.stderr
        assert report[role]["training"]["epochs"] == 2 and len(report[role]["training"]["history"]) == 2
    # a longer teacher goes on from its checkpoint too; a student distilled from the shorter one is not continued
    teacher_longer = runner.invoke(app, [*common, "--epochs", "2", "--teacher-epochs", "2"])
    assert "teacher: resumed after epoch 1" in teacher_longer.stderr
    assert teacher_longer.exit_code == 1 and "student/checkpoint/last.pt was written by a run with different settings" in error_line(teacher_longer)


def test_denoiser_onnx_goes_through_analyze_and_bench(denoise_run, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))  # not the machine's lock other benches hold
    _, doc = denoise_run
    onnx_path = doc["student"]["onnx_path"]
    analyzed = runner.invoke(app, ["analyze", onnx_path, "--json", "--order", "stored,greedy"])
    assert analyzed.exit_code == 0, analyzed.output
    assert json.loads(analyzed.stdout)["best"]["peak_bytes"] == doc["student"]["peak_activation_bytes"]
    benched = runner.invoke(app, ["bench", onnx_path, "--host", "local", *FAST_BENCH, "--results-dir", str(tmp_path), "--json"])
    assert benched.exit_code == 0, benched.output
    result = json.loads(benched.stdout)["result"]
    assert result["status"] == "ok" and result["memory"]["activations"]["value_bytes"] is not None


@pytest.mark.parametrize("args, message", [
    (["--teacher", "resnet-mini"], "--task denoise: 'resnet-mini' is not a denoiser"),
    (["--teacher", "ddpm-unet-tiny", "--method", "at"], "method 'at' is not available for --task denoise"),
    (["--teacher", "ddpm-unet-tiny", "--dataset", "mnist1d"], "--task denoise needs images"),
    (["--teacher", "ddpm-unet-tiny", "--sweep", "k=1,2"], "--sweep is not available for --task denoise"),
    (["--teacher", "ddpm-unet-tiny", "--student-arch", "vit-mini", "--budget", "1MB"], "--student-arch is not available for --task denoise"),
    (["--teacher", "ddpm-unet-tiny"], "nothing to distill to: give --budget or [student] pool_factor"),
])
def test_denoise_errors_are_one_line(tmp_path, args, message):
    budget = [] if "--budget" in args or "nothing to distill" in message else ["--budget", "1MB"]
    base = ["distill", "--task", "denoise", "--dataset", "digits", "--out", str(tmp_path / "o"), "--epochs", "1", *budget]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 1 and message in error_line(result)
    assert not (tmp_path / "o" / "teacher").exists()  # refused before the teacher trains


def test_denoise_budget_nothing_fits_exits_3_before_training(tmp_path):
    result = runner.invoke(app, ["distill", "--task", "denoise", "--teacher", "ddpm-unet-tiny", "--dataset", "digits",
                                 "--budget", "1B", "--epochs", "1", "--out", str(tmp_path / "o")])
    assert result.exit_code == 3 and "no student of ddpm-unet-tiny fits the budget 1 B" in error_line(result)
    assert not (tmp_path / "o" / "teacher").exists()  # the search ran on the architecture, before the teacher trained


def test_classifier_names_refuse_denoisers(tmp_path):
    result = runner.invoke(app, ["distill", "--teacher", "ddpm-unet-tiny", "--dataset", "digits", "--budget", "1MB", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "is a denoiser (a DDPM noise predictor), not a classifier" in error_line(result)


def test_vit_teacher_to_pooled_vit_student(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))  # not the machine's lock other benches hold
    (tmp_path / "t.toml").write_text("[train]\nthreads = 1\n[teacher_train]\nthreads = 1\n")
    result = runner.invoke(app, ["distill", "--teacher", "tests.distill.vit_models:digits_vit", "--dataset", "digits",
                                 "--sweep", "k=1,2", "--epochs", "1", "--teacher-epochs", "1", "--baseline", "--json",
                                 "--budget", "1MB", "--out", str(tmp_path / "out"), "--config", str(tmp_path / "t.toml")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["student"]["spec"]["pool_factor"] == 1 and doc["method"] == "kd"  # 1 MB: the teacher's architecture fits
    k2 = [m for m in doc["sweep"] if m["spec"]["pool_factor"] == 2][0]
    k1 = [m for m in doc["sweep"] if m["spec"]["pool_factor"] == 1][0]
    assert k2["training"]["method"] == "token_kd" and k1["training"]["method"] == "kd"
    assert k2["peak_activation_bytes"] < k1["peak_activation_bytes"] == doc["teacher"]["peak_activation_bytes"]
    assert doc["parity_max_abs_diff"] <= 1e-4
    benched = runner.invoke(app, ["bench", k2["onnx_path"], "--host", "local", *FAST_BENCH, "--results-dir", str(tmp_path / "r"),
                                  "--json"])
    assert benched.exit_code == 0, benched.output
    verdict = json.loads(benched.stdout)["verdict"]
    assert verdict["predicted_activation_bytes"] >= k2["peak_activation_bytes"] and verdict["measured_activation_bytes"] is not None


def test_pooled_vit_under_auto_trains_token_kd_without_a_red_note(tmp_path):
    (tmp_path / "t.toml").write_text("[train]\nthreads = 1\n[teacher_train]\nthreads = 1\n[student]\npool_factor = 2\n")
    result = runner.invoke(app, ["distill", "--teacher", "tests.distill.vit_models:digits_vit", "--dataset", "digits",
                                 "--epochs", "1", "--teacher-epochs", "1", "--json", "--out", str(tmp_path / "out"),
                                 "--config", str(tmp_path / "t.toml")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method"] == "token_kd" and doc["student"]["spec"]["pool_factor"] == 2
    assert set(doc["student"]["training"]["history"][0]["loss_parts"]) == {"ce", "kd", "tokens"}
    assert "RED" not in result.stderr and not any("RED" in note for note in doc["notes"])  # ViTs never get RED blocks


def test_cnn_teacher_to_vit_student(tmp_path):
    (tmp_path / "t.toml").write_text("[train]\nthreads = 1\n[teacher_train]\nthreads = 1\n[student]\npool_factor = 2\n")
    result = runner.invoke(app, ["distill", "--teacher", "resnet-mini", "--student-arch", "tests.distill.vit_models:digits_vit",
                                 "--dataset", "digits", "--epochs", "1", "--teacher-epochs", "1", "--json",
                                 "--out", str(tmp_path / "out"), "--config", str(tmp_path / "t.toml")])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method"] == "token_kd" and "student of resnet-mini, 3 token pairs" in doc["student"]["description"]
    history = doc["student"]["training"]["history"][0]["loss_parts"]
    assert set(history) == {"ce", "kd", "tokens"} and history["tokens"] > 0
