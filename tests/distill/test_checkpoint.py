"""Checkpoints: atomic writes, RNG round trips, and a real SIGKILL mid-run followed by --resume
that reproduces the uninterrupted run's per-epoch losses exactly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from edgemem.distill.checkpoint import CheckpointStore, atomic_save, capture_rng, read_checkpoint, restore_rng
from edgemem.errors import TrainingError
from tests.distill.tiny import fit, make_job

ROOT = Path(__file__).resolve().parents[2]


def test_rng_states_round_trip():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    state = capture_rng()
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), np.random.randn())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    restore_rng(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item(), np.random.randn()) == expected


def test_atomic_save_leaves_no_temporary_and_replaces(tmp_path):
    path = tmp_path / "sub" / "x.pt"
    atomic_save({"a": torch.ones(2)}, path)
    atomic_save({"a": torch.zeros(2)}, path)
    assert torch.equal(read_checkpoint(path)["a"], torch.zeros(2))
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]


def test_interrupted_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    atomic_save({"epoch": 1}, path)

    def crash(obj, handle):
        handle.write(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"epoch": 2}, path)
    monkeypatch.undo()
    assert read_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


@pytest.mark.parametrize("content, message", [(b"", "not a readable checkpoint"), (b"\x80\x02garbage", "not a readable checkpoint")])
def test_corrupt_checkpoints_are_one_line_errors(tmp_path, content, message):
    (tmp_path / "last.pt").write_bytes(content)
    with pytest.raises(TrainingError, match=message) as info:
        CheckpointStore(tmp_path).load()
    assert "\n" not in info.value.one_line()


def test_foreign_pickles_are_refused(tmp_path):
    import pickle

    (tmp_path / "last.pt").write_bytes(pickle.dumps({"x": Path("/")}, protocol=2))
    with pytest.raises(TrainingError, match="not a readable checkpoint"):
        CheckpointStore(tmp_path).load()


def test_checkpoint_of_other_settings_is_refused(tmp_path):
    fit(make_job(epochs=1, checkpoint_dir=tmp_path))
    state = CheckpointStore(tmp_path).load("tiny-test")
    assert state["epoch"] == 1 and state["finished"] and set(state["rng"]) >= {"python", "numpy", "torch"}
    with pytest.raises(TrainingError, match="different settings"):
        CheckpointStore(tmp_path).load("another-run")


def test_resume_in_process_matches_the_uninterrupted_run(tmp_path):
    full = fit(make_job(epochs=3)).summary.history
    _stop_after(tmp_path, epochs=3, stop=1)  # a 3-epoch run interrupted after its first epoch
    resumed = fit(make_job(epochs=3, checkpoint_dir=tmp_path, resume=True))
    assert resumed.summary.resumed_from_epoch == 1
    assert [h.train_loss for h in resumed.summary.history] == [h.train_loss for h in full]
    assert [h.eval_accuracy for h in resumed.summary.history] == [h.eval_accuracy for h in full]


def _stop_after(folder: Path, epochs: int, stop: int) -> None:
    class Stop(Exception):
        pass

    class Sink:
        def phase(self, *a, **k): ...
        def step(self, *a): ...
        def note(self, *a): ...
        def phase_end(self): ...

        def epoch_end(self, metrics):
            if metrics.epoch == stop:
                raise Stop

    job = make_job(epochs=epochs, checkpoint_dir=folder)
    job.progress = Sink()
    with pytest.raises(Stop):
        fit(job)


def test_finished_run_resumes_as_cached(tmp_path):
    first = fit(make_job(epochs=2, checkpoint_dir=tmp_path))
    again = fit(make_job(epochs=2, checkpoint_dir=tmp_path, resume=True))
    assert again.summary.cached and again.summary.resumed_from_epoch == 2
    assert again.summary.history == first.summary.history
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()))


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_loses_no_epoch(tmp_path):
    """A separate process trains 6 epochs; it is SIGKILLed once epoch 2 is on disk; --resume finishes
    the run with the same per-epoch losses (bit for bit) as an uninterrupted run."""
    epochs = 6
    folder = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "tests.distill.tiny", str(folder), str(epochs)], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = CheckpointStore(folder)
    deadline = time.monotonic() + 240
    killed_at = None
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if store.exists():
                epoch = read_checkpoint(store.path)["epoch"]
                if epoch >= 2:
                    process.send_signal(signal.SIGKILL)
                    killed_at = epoch
                    break
            time.sleep(0.02)
    finally:
        if process.poll() is None and killed_at is None:
            process.kill()
        process.wait(timeout=30)
    assert killed_at is not None, process.stderr.read().decode()[-2000:]
    on_disk = read_checkpoint(store.path)["epoch"]
    assert on_disk < epochs, "the run finished before it could be killed"
    resumed = fit(make_job(epochs=epochs, checkpoint_dir=folder, resume=True))
    uninterrupted = fit(make_job(epochs=epochs))
    assert resumed.summary.resumed_from_epoch == on_disk
    assert [h.epoch for h in resumed.summary.history] == list(range(1, epochs + 1))  # no epoch lost
    assert [h.train_loss for h in resumed.summary.history] == [h.train_loss for h in uninterrupted.summary.history]
    assert resumed.summary.history[on_disk].train_loss == uninterrupted.summary.history[on_disk].train_loss
