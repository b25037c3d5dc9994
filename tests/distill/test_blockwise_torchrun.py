"""Parallel blockwise distillation under a real ``torchrun`` (gloo on the CPU, two worker processes
started from the test): the same blocks, decisions and student accuracy as one process; a worker
killed mid-run loses no finished block, both on a plain rerun (through ``edgemem distill --workers
2``, which starts torchrun itself) and on torchrun's own elastic restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edgemem.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def teacher_weights(tmp_path_factory):
    """A resnet-mini teacher trained briefly on digits (shared by every run here)."""
    from edgemem.distill.config import DataOptions, DistillConfig, TrainConfig, resolve_weights
    from edgemem.distill.data import load_dataset
    from edgemem.distill.data.loader import BatchSource
    from edgemem.distill.trainers.registry import get_trainer
    from edgemem.distill.trainers.base import TrainJob
    from edgemem.distill.zoo import build_model

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        dataset = load_dataset("digits", options=DataOptions(train_size=500))
        model = build_model("resnet-mini", in_channels=1)
        job = TrainJob("teacher", model, BatchSource(dataset, 64), TrainConfig(epochs=3, batch_size=64, threads=1),
                       resolve_weights(DistillConfig(), "ce"), "ce")
        outcome = get_trainer("standard")(job).fit()
    finally:
        torch.set_num_threads(before)
    path = tmp_path_factory.mktemp("teacher") / "teacher.pt"
    torch.save(outcome.model.state_dict(), path)
    return path


def write_config(folder: Path, teacher_weights: Path, block_epochs: int, device: str = "cpu", **blockwise) -> Path:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in blockwise.items())
    path = folder / "run.toml"
    path.write_text(f"""method = "blockwise"
teacher = "resnet-mini"
teacher_weights = {json.dumps(str(teacher_weights))}
dataset = "digits"
epochs = 2
[train]
threads = 1
batch_size = 64
device = {json.dumps(device)}
[data]
train_size = 500
[blockwise]
epochs = {block_epochs}
threshold = 0.5
max_error = 1e9
max_block_drop = 1.0
{extra}""")
    return path


def worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    # TORCH_DISABLE_SHARE_RDZV_TCP_STORE: torch's switch against stale store keys after an elastic restart
    # (pytorch/pytorch#135712); edgemem's own launcher sets it too
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", EDGEMEM_NO_PROGRESS="1", TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1")
    return env


def torchrun(config: Path, out: Path, *extra: str, max_restarts: int = 0, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(workers),
            "--max-restarts", str(max_restarts), "-m", "edgemem", "distill", "--config", str(config), "--out", str(out), *extra]


def start(argv: list[str], cwd: Path, **kwargs) -> subprocess.Popen:
    """torchrun in a session of its own, so a failed test can end it together with its workers."""
    return subprocess.Popen(argv, cwd=cwd, env=worker_env(), start_new_session=True, **kwargs)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_to_end(argv: list[str], cwd: Path, timeout_s: float = 300) -> tuple[int, str, str]:
    process = start(argv, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    finally:
        stop(process)
    return process.returncode, stdout, stderr


def blocks_of(document: dict) -> dict[str, dict]:
    return {b["key"]: b for b in document["blockwise"]["blocks"]}


def test_two_torchrun_workers_match_one_process(tmp_path, teacher_weights):
    config = write_config(tmp_path, teacher_weights, block_epochs=2)
    one = runner.invoke(app, ["distill", "--config", str(config), "--out", str(tmp_path / "one"), "--json"])
    assert one.exit_code == 0, one.output
    single = json.loads(one.stdout)
    code, stdout, stderr = run_to_end(torchrun(config, tmp_path / "two", "--json"), tmp_path)
    assert code == 0, stderr[-3000:]
    double = json.loads(stdout)  # rank 0 alone prints: one JSON document
    assert single["schema"] == double["schema"] == "edgemem.distill_result/1" and double["method"] == "blockwise"
    assert (single["blockwise"]["workers"], single["blockwise"]["backend"]) == (1, "local")
    assert (double["blockwise"]["workers"], double["blockwise"]["backend"]) == (2, "gloo")
    a, b = blocks_of(single), blocks_of(double)
    assert list(a) == list(b) and len(a) == 6  # the stem has no smaller separable replacement
    assert {r["worker"] for r in b.values()} == {0, 1}
    for key in a:  # each block trains to the same weights on whichever worker runs it
        assert b[key]["train_loss"] == pytest.approx(a[key]["train_loss"], rel=1e-4)
        assert b[key]["spliced_accuracy"] == pytest.approx(a[key]["spliced_accuracy"], abs=1 / 450)
        assert b[key]["kept"] == a[key]["kept"]
    assert double["blockwise"]["reassembled_accuracy"] == pytest.approx(single["blockwise"]["reassembled_accuracy"], abs=2 / 450)
    # the DDP fine-tune sees the same global batches; only per-worker BatchNorm statistics differ
    assert abs(double["student"]["accuracy"] - single["student"]["accuracy"]) <= 0.03
    assert double["student"]["accuracy"] == double["blockwise"]["finetuned_accuracy"]
    assert double["blockwise"]["kept_blocks"] == sum(r["kept"] for r in b.values())
    assert double["blockwise"]["speedup"] > 0 and double["blockwise"]["predicted_makespan_s"] <= \
        double["blockwise"]["round_robin_makespan_s"] + 1e-9
    assert (tmp_path / "two" / "student.onnx").is_file() and (tmp_path / "two" / "report.json").is_file()


def _worker_pid(torchrun_pid: int, rank: int) -> int | None:
    try:
        children = Path(f"/proc/{torchrun_pid}/task/{torchrun_pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return int(pid)
    return None


def _finished(out: Path) -> dict[str, int]:
    """Finished blocks and the modification time of their weights."""
    return {p.parent.name: (p.parent / "done.pt").stat().st_mtime_ns for p in (out / "blockwise" / "blocks").glob("*/done.json")}


def _kill_rank_one_after_first_block(process: subprocess.Popen, out: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not _finished(out):
        assert process.poll() is None, "torchrun ended before any block finished"
        assert time.monotonic() < deadline, "no block finished in time"
        time.sleep(0.02)
    pid = _worker_pid(process.pid, 1)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)


def _in_training(out: Path) -> dict[str, int]:
    from edgemem.distill.checkpoint import read_checkpoint

    return {p.parent.parent.name: int(read_checkpoint(p)["epoch"])
            for p in (out / "blockwise" / "blocks").glob("*/checkpoint/last.pt")}


def test_killed_worker_then_rerun_finishes_without_retraining_finished_blocks(tmp_path, teacher_weights):
    config = write_config(tmp_path, teacher_weights, block_epochs=6)
    out = tmp_path / "out"
    with open(tmp_path / "torchrun.log", "wb") as log:
        process = start(torchrun(config, out), tmp_path, stdout=log, stderr=log)
        try:
            _kill_rank_one_after_first_block(process, out)
            assert process.wait(timeout=60) != 0
        finally:
            stop(process)
    finished, partial = _finished(out), _in_training(out)
    assert 0 < len(finished) < 6, finished
    rerun = runner.invoke(app, ["distill", "--config", str(config), "--out", str(out), "--workers", "2", "--json"],
                          env=worker_env())
    assert rerun.exit_code == 0, rerun.output[-3000:]
    document = json.loads(rerun.stdout)
    blocks = blocks_of(document)
    assert len(blocks) == 6 and document["blockwise"]["reused_blocks"] == len(finished)
    assert {k for k, b in blocks.items() if b["reused"]} == set(finished)
    assert all(_finished(out)[k] == mtime for k, mtime in finished.items())  # finished weights were not rewritten
    for key, epoch in partial.items():  # a block interrupted mid-way continued from its last epoch
        if key not in finished:
            assert blocks[key]["resumed_from_epoch"] == epoch
    assert sum(not b["reused"] for b in blocks.values()) == 6 - len(finished)
    assert document["blockwise"]["workers"] == 2 and (out / "blockwise" / "launch.toml").is_file()


def test_torchrun_elastic_restart_picks_up_where_the_killed_worker_stopped(tmp_path, teacher_weights):
    config = write_config(tmp_path, teacher_weights, block_epochs=6, finetune=False)
    out = tmp_path / "out"
    process = start(torchrun(config, out, "--json", max_restarts=1), tmp_path, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL)
    try:
        _kill_rank_one_after_first_block(process, out)
        stdout, _ = process.communicate(timeout=180)
    finally:
        stop(process)
    assert process.returncode == 0
    document = json.loads(stdout)
    assert document["blockwise"]["reused_blocks"] >= 1 and len(document["blockwise"]["blocks"]) == 6
    assert document["blockwise"]["finetuned_accuracy"] is None and document["student"]["training"] is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU with CUDA")
def test_nccl_workers_on_gpus(tmp_path, teacher_weights):
    """One worker per GPU (up to two) with NCCL for the DDP fine-tune; objects travel through gloo."""
    workers = min(2, torch.cuda.device_count())
    config = write_config(tmp_path, teacher_weights, block_epochs=2, device="cuda")
    code, stdout, stderr = run_to_end(torchrun(config, tmp_path / "out", "--json", workers=workers), tmp_path)
    assert code == 0, stderr[-3000:]
    document = json.loads(stdout)
    assert (document["blockwise"]["workers"], document["blockwise"]["backend"]) == (workers, "nccl")
    assert len(document["blockwise"]["blocks"]) == 6 and document["student"]["accuracy"] is not None
