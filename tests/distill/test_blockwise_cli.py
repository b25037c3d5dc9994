"""``edgemem distill --method blockwise`` through typer's CliRunner (one worker, in this process):
one-line errors before any training, the final per-block table, exit 3 over a budget, and the
rank-0 display of every worker's blocks."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from edgemem.cli import app
from edgemem.distill.blockwise.result import BlockRecord, BlockwiseReport
from edgemem.output import Output
from edgemem.output.blockwise import BlockwiseDisplay, render_blockwise_report
from tests.distill.conftest import UserCNN

runner = CliRunner()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Untrained teachers saved as weight files: errors and rendering need no trained teacher."""
    from edgemem.distill.zoo import build_model

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    torch.save(build_model("resnet-mini", in_channels=1).state_dict(), folder / "mini.pt")
    torch.save(UserCNN(in_channels=1).state_dict(), folder / "cnn.pt")
    return folder


def invoke(tmp_path, weights, *args, teacher="resnet-mini", file="mini.pt", toml=""):
    config = tmp_path / "run.toml"
    config.write_text("[train]\nthreads = 1\nbatch_size = 64\n[data]\ntrain_size = 200\ntest_size = 100\n" + toml)
    return runner.invoke(app, ["distill", "--method", "blockwise", "--teacher", teacher, "--teacher-weights", str(weights / file),
                               "--dataset", "digits", "--out", str(tmp_path / "out"), "--config", str(config), *args])


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("edgemem: error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


@pytest.mark.parametrize("args, teacher, file, toml, message", [
    (["--replacement", "nonsense"], "resnet-mini", "mini.pt", "", "replacement 'nonsense': unknown conv"),
    ([], "resnet-mini", "mini.pt", "[blockwise]\nworkers = 0\n", "[blockwise] workers must be >= 1"),
    ([], "resnet-mini", "mini.pt", "[blockwise]\nblocks = \"layer\"\n", "blocks 'layer': choose conv or residual"),
    (["--sweep", "k=1,2"], "resnet-mini", "mini.pt", "", "--sweep and --baseline do not apply to --method blockwise"),
    (["--blocks", "residual"], "tests.distill.conftest:UserCNN", "cnn.pt", "", "has no residual block"),
    ([], "resnet-mini", "mini.pt", "[blockwise]\nactivations = \"cache\"\n", "needs augmentation off"),
    ([], "resnet-mini", "mini.pt", "[student]\nwidth = 0.5\n", "do not apply to --method blockwise"),
])
def test_bad_settings_are_one_line_errors_before_training(tmp_path, weights, args, teacher, file, toml, message, one_thread):
    result = invoke(tmp_path, weights, *args, teacher=teacher, file=file, toml=toml)
    assert result.exit_code == 1
    assert message in error_line(result)
    assert not (tmp_path / "out" / "blockwise" / "blocks").exists()


@pytest.mark.parametrize("args, message", [(["--workers", "0"], "--workers"), (["--blocks", "layer"], "'layer' is not one of")])
def test_bad_flag_values_are_usage_errors(tmp_path, weights, args, message):
    result = invoke(tmp_path, weights, *args)
    assert result.exit_code == 2 and message in error_line(result)


def test_one_worker_run_prints_the_block_table_and_exits_3_over_budget(tmp_path, weights, one_thread):
    result = invoke(tmp_path, weights, "--blocks", "residual", "--budget", "1KiB", "--epochs", "1",
                    toml="[blockwise]\nepochs = 1\nthreshold = 1.0\nmax_error = 1e9\nmax_block_drop = 1.0\n")
    assert result.exit_code == 3, result.output
    out = result.stdout
    assert "blockwise: residual blocks -> separable" in out and "does NOT fit" in out
    assert all(key in out for key in ("000-layers.0", "001-layers.1", "002-layers.2"))
    assert "kept" in out and "speedup" in out and "after the KD fine-tune" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["method"] == "blockwise" and report["fits"] is False
    assert report["blockwise"]["kept_blocks"] == 3  # a rule of 1e9 / 1.0 / 1.0 keeps every replacement
    assert (tmp_path / "out" / "student.onnx").is_file() and report["parity_max_abs_diff"] <= 1e-4
    assert report["student"]["parameters"] < report["teacher"]["parameters"]
    assert torch.load(tmp_path / "out" / "student.pt", weights_only=True)["blockwise"]["kept"] == ["layers.0", "layers.1", "layers.2"]


def _record(key: str, worker: int, **changes) -> BlockRecord:
    values = dict(index=int(key[:3]), key=key, path=key[4:], kind="conv", replacement="separable", in_shape=(1, 8, 4, 4),
                  out_shape=(1, 8, 4, 4), teacher_parameters=576, replacement_parameters=216, worker=worker,
                  activations="cache", estimated_s=1.0, time_s=1.2, train_loss=0.05, eval_loss=0.06, spliced_accuracy=0.9,
                  epochs=3, kept=True, accuracy_after=0.91)
    values.update(changes)
    return BlockRecord(**values)


def test_display_follows_every_workers_blocks_with_an_eta(capsys):
    display = BlockwiseDisplay(Output())
    display.blocks_planned(["000-a", "001-b", "002-c", "003-d"], ["003-d"], (("000-a", "002-c"), ("001-b",)),
                           {"000-a": 4.0, "001-b": 2.0, "002-c": 6.0})
    statuses = [{"rank": 0, "host": "h", "queue": ["000-a", "002-c"], "done": {"000-a": [0.1, 4.2]}, "block": "002-c",
                 "epoch": 1, "epochs": 3, "loss": 0.2, "since": 0.0},
                {"rank": 1, "host": "h", "queue": ["001-b"], "done": {}, "block": "001-b", "epoch": 0, "epochs": 3,
                 "loss": None, "since": 0.0}]
    display.workers_status(statuses)
    assert display.eta_s(statuses[0]) == pytest.approx(6.0 * 2 / 3) and display.eta_s(statuses[1]) == pytest.approx(2.0)
    states = display.block_states()
    assert states["000-a"][0] == "done" and states["002-c"][0] == "running 1/3" and states["003-d"][0] == "reused"
    display.workers_status(statuses)  # announced once
    display.blocks_finished()
    err = capsys.readouterr().err
    assert "3 block(s) to train on 2 worker(s), 1 reused" in err
    assert err.count("block 000-a done on worker 0") == 1
    tables = Output().console
    with tables.capture() as captured:
        tables.print(display.render())
    assert "002-c" in captured.get() and "running 1/3" in captured.get()


def test_final_report_lines(capsys):
    blocks = (_record("000-a", 0), _record("001-b", 1, kept=False, reused=True, accuracy_after=0.7))
    report = BlockwiseReport("conv", "separable", 2, "gloo", "lpt", blocks, (("000-a",), ()), 1.0, 1.5, 0.3, 1.5, 2.9,
                             0.05, 0.95, 0.91, 0.93, kept_blocks=1, reused_blocks=1, speedup=2.9 / 1.5, finetune_time_s=2.0)
    render_blockwise_report(report, Output())
    out = " ".join(capsys.readouterr().out.split())  # lines wrap at the terminal width
    assert "1 block(s) on 2 worker(s) (gloo, lpt)" in out and "speedup 1.93x" in out
    assert "dropped" in out and "reused" in out and "1/2 replacements kept" in out


def test_library_distill_runs_blockwise_for_method_blockwise(tmp_path, weights, one_thread):
    from edgemem.distill.config import config_from_mapping
    from edgemem.distill.run import distill

    config = config_from_mapping({"method": "blockwise", "teacher": "resnet-mini", "teacher_weights": str(weights / "mini.pt"),
                                  "dataset": "digits", "out": str(tmp_path / "lib"), "blocks": "residual",
                                  "train": {"threads": 1}, "data": {"train_size": 150, "test_size": 60},
                                  "blockwise": {"epochs": 1, "finetune": False, "scheduler": "round_robin", "max_error": 10.0}})
    torch.set_num_threads(2)
    result = distill(config)
    report = result.blockwise
    assert result.method == "blockwise" and report.workers == 1 and report.backend == "local"
    assert report.scheduler == "round_robin" and report.assignment == (("000-layers.0", "001-layers.1", "002-layers.2"),)
    assert report.finetuned_accuracy is None and result.student.training is None
    assert result.student.accuracy == pytest.approx(report.reassembled_accuracy)
    assert torch.get_num_threads() == 2  # one thread while it ran, then the caller's setting again


def test_a_run_that_keeps_nothing_is_an_error_naming_each_reason(tmp_path, weights, one_thread):
    result = invoke(tmp_path, weights, "--blocks", "residual", "--epochs", "1",
                    toml="[blockwise]\nepochs = 1\nmax_error = 1e-6\n")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert "blockwise kept none of the 3 replacements, so the student would be resnet-mini itself" in line
    assert "002-layers.2: error" in line and ">1e-06" in line
    assert "dropped, error" in result.stderr  # every block's reason is listed before the error
    assert not (tmp_path / "out" / "student.onnx").exists()


@pytest.mark.slow
def test_readme_blockwise_example_gives_a_student_at_least_2x_smaller(tmp_path, one_thread):
    """The README's blockwise command (digits, resnet-mini), with a trained teacher: the kept
    separable replacements make the weights at least 2x smaller, and accuracy holds."""
    result = runner.invoke(app, ["distill", "--method", "blockwise", "--teacher", "resnet-mini", "--dataset", "digits",
                                 "--epochs", "5", "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    teacher, student = report["teacher"], report["student"]
    assert teacher["weights_bytes"] >= 2 * student["weights_bytes"], (teacher["weights_bytes"], student["weights_bytes"])
    assert student["accuracy"] >= teacher["accuracy"] - 0.03
    blocks = report["blockwise"]["blocks"]
    assert all(b["replacement_parameters"] < b["teacher_parameters"] for b in blocks)
    assert all(b["reason"] for b in blocks) and report["blockwise"]["skipped"]
