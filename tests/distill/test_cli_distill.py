"""``edgemem distill`` through typer's CliRunner: exit codes, --json, one-line errors, config + flags."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.distill.config import top_level_keys

runner = CliRunner()


@pytest.fixture(scope="module")
def teacher_cache(tmp_path_factory):
    """A trained resnet-mini teacher on digits, shared by the tests through the teacher cache."""
    folder = tmp_path_factory.mktemp("cache")
    result = runner.invoke(app, ["distill", "--teacher", "resnet-mini", "--dataset", "digits", "--budget", "6KiB", "--epochs", "1",
                                 "--teacher-epochs", "2", "--teacher-cache", str(folder / "teacher"), "--out", str(folder / "out"),
                                 "--config", str(_threads(folder))])
    assert result.exit_code == 0, result.output
    return folder / "teacher"


def _threads(folder):
    path = folder / "threads.toml"
    path.write_text("[train]\nthreads = 1\n[teacher_train]\nthreads = 1\n")
    return path


def error_line(result) -> str:
    """The one error line, last on stderr (progress notes may precede it), with no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgemem: error:")]
    assert len(errors) == 1 and result.stderr.endswith(errors[0] + "\n"), result.stderr
    assert "Traceback" not in result.output
    return errors[0]


def invoke(tmp_path, teacher_cache, *args):
    base = ["distill", "--teacher", "resnet-mini", "--dataset", "digits", "--epochs", "1", "--teacher-epochs", "2",
            "--teacher-cache", str(teacher_cache), "--out", str(tmp_path / "out"), "--config", str(_threads(tmp_path))]
    return runner.invoke(app, [*base, *args])


def test_json_document_and_files(tmp_path, teacher_cache):
    result = invoke(tmp_path, teacher_cache, "--budget", "6KiB", "--json", "--baseline")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "edgemem.distill_result/1" and document["fits"] is True
    assert document["budget"]["budget_bytes"] == 6144 and document["student"]["arena_bytes"] <= 6144
    assert document["baseline"]["training"]["method"] == "ce" and document["teacher"]["training"]["cached"] is True
    out = tmp_path / "out"
    assert (out / "student.onnx").is_file() and (out / "report.png").stat().st_size > 1000
    assert json.loads((out / "report.json").read_text())["plot_path"] == str(out / "report.png")


def test_table_output(tmp_path, teacher_cache):
    result = invoke(tmp_path, teacher_cache, "--budget", "6KiB", "--plot", str(tmp_path / "curve.svg"))
    assert result.exit_code == 0, result.output
    for text in ("teacher and students", "teacher", "student", "fits", "max |diff|", "4.00x smaller"):
        assert text in result.stdout
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")


def test_trained_student_over_the_budget_exits_3_with_the_report(tmp_path, teacher_cache):
    (tmp_path / "forced.toml").write_text("[student]\npool_factor = 1\n[train]\nthreads = 1\n[teacher_train]\nthreads = 1\n")
    result = runner.invoke(app, ["distill", "--teacher", "resnet-mini", "--dataset", "digits", "--epochs", "1", "--teacher-epochs", "2",
                                 "--teacher-cache", str(teacher_cache), "--out", str(tmp_path / "out"), "--config",
                                 str(tmp_path / "forced.toml"), "--budget", "4KiB", "--json"])
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    assert document["fits"] is False and document["budget"]["required_bytes"] > 4096


def test_budget_below_anything_reachable_exits_3(tmp_path, teacher_cache):
    result = invoke(tmp_path, teacher_cache, "--budget", "100B")
    assert result.exit_code == 3
    assert "smallest" in error_line(result)


@pytest.mark.parametrize("args, message", [
    (["--dataset", "cifar10", "--data-path", "/nonexistent/cifar.npz", "--budget", "1MB"], "dataset path not found"),
    (["--dataset", "cifar10", "--budget", "1MB"], "needs a data path"),
    (["--sweep", "depth=1,2"], "cannot read sweep"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    result = runner.invoke(app, ["distill", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 1, result.output
    assert message in error_line(result)


@pytest.mark.parametrize("args, message", [
    (["--budget", "12 bananas"], "unknown size unit"),
    (["--budget", "abc"], "cannot read size"),
    (["--method", "magic", "--budget", "1MB"], "'magic' is not one of"),
    (["--epochs", "0", "--budget", "1MB"], "--epochs"),
    (["--dataset", "imagenet42", "--budget", "1MB"], "'imagenet42' is not one of"),
    (["--precision", "fp4", "--budget", "1MB"], "--precision"),
    (["--budget-scope", "model"], "no --budget"),
    (["--budget", "1MB", "--budget-scope", "process"], "no runtime baseline"),
    (["--budget", "1MB", "--out", "{file}"], "is a file, not a folder"),
    (["--budget", "1MB", "--plot", "{tmp}/missing/p.png"], "does not exist"),
])
def test_bad_flag_values_are_usage_errors_before_any_work(tmp_path, args, message):
    (tmp_path / "file").write_text("x")
    args = [a.replace("{file}", str(tmp_path / "file")).replace("{tmp}", str(tmp_path)) for a in args]
    result = runner.invoke(app, ["distill", "--out", str(tmp_path / "o"), *args] if "--out" not in args else ["distill", *args])
    assert result.exit_code == 2, result.output
    assert message in error_line(result)
    assert not (tmp_path / "o").exists()  # nothing was started


def test_a_budget_nothing_reaches_is_refused_before_the_teacher_trains(tmp_path):
    result = runner.invoke(app, ["distill", "--teacher", "resnet-mini", "--dataset", "digits", "--budget", "1B",
                                 "--out", str(tmp_path / "o"), "--teacher-cache", str(tmp_path / "cache")])
    assert result.exit_code == 3 and "smallest" in error_line(result)
    assert not (tmp_path / "cache").exists() and "training the teacher" not in result.stderr


def test_corrupt_config_is_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("budget = '1MB\nepochs = [")
    result = runner.invoke(app, ["distill", "--config", str(tmp_path / "bad.toml")])
    assert result.exit_code == 1 and "not valid TOML" in error_line(result)


def test_wrong_teacher_weights_are_one_line(tmp_path):
    import torch

    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "w.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not torch")
    for path, message in ((tmp_path / "w.pt", "does not match teacher"), (tmp_path / "garbage.pt", "not a readable PyTorch"),
                          (tmp_path / "missing.pt", "does not exist")):
        result = runner.invoke(app, ["distill", "--teacher", "resnet-mini", "--teacher-weights", str(path), "--budget", "6KiB",
                                     "--out", str(tmp_path / "o")])
        assert result.exit_code == 1, result.output
        assert message in error_line(result)


def test_bad_plot_name_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["distill", "--budget", "1MB", "--plot", str(tmp_path / "p.gif"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "use a .png or .svg" in error_line(result)


def test_every_flag_has_a_config_key():
    import typer.main

    command = typer.main.get_command(app).commands["distill"]
    flags = {p.name for p in command.params if p.param_type_name == "option"} - {"config", "help"}
    keys = set(top_level_keys())
    assert len(flags) >= 20 and {"json" if f == "json_out" else f for f in flags} <= keys


def test_help_does_not_import_torch():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom edgemem.cli import app\n"
            "r = CliRunner().invoke(app, ['distill', '--help'])\nassert r.exit_code == 0 and '--budget' in r.output\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_pareto_front_keeps_points_no_smaller_model_beats():
    from edgemem.output.distill import pareto_front

    points = [(48.0, 80.0), (6.0, 70.0), (12.0, 69.0), (24.0, 81.0), (3.0, 50.0)]
    assert pareto_front(points) == [(3.0, 50.0), (6.0, 70.0), (24.0, 81.0)]
