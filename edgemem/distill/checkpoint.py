"""Checkpoints written atomically after every epoch, and everything a resume needs.

A checkpoint holds the model(s), optimizer and scheduler state, the RNG states (Python,
numpy, torch CPU and CUDA), the number of completed epochs, the per-epoch metrics and a
fingerprint of the settings that produced it. It is written to a temporary file in the same
folder, fsync'ed and renamed over ``last.pt``, so a run killed at any moment leaves either the
previous or the new checkpoint, never a torn one. Loading uses ``torch.load(weights_only=True)``
(no arbitrary pickles): RNG states are stored as plain lists and tensors.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgemem.errors import TrainingError

FORMAT = "edgemem.checkpoint/1"
LAST = "last.pt"


def capture_rng() -> dict:
    """Python, numpy and torch RNG states as weights_only-loadable values."""
    version, state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    captured = {
        "python": [version, list(state), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        captured["cuda"] = torch.cuda.get_rng_state_all()
    return captured


def restore_rng(captured: dict) -> None:
    version, state, gauss = captured["python"]
    random.setstate((version, tuple(state), gauss))
    kind, keys, pos, has_gauss, cached = captured["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(captured["torch"])
    if "cuda" in captured and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(captured["cuda"])


def atomic_save(obj: Any, path: Path) -> Path:
    """torch.save to a temporary file beside ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return path


def atomic_write_text(text: str, path: Path) -> Path:
    """Write a small text file (reports, cache metadata) through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class CheckpointStore:
    """``<folder>/last.pt``: the newest complete epoch of one training phase."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LAST

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, *, fingerprint: str, epoch: int, models: dict, optimizer: dict, scheduler: dict,
             history: list[dict], finished: bool, extra: dict | None = None) -> Path:
        return atomic_save({
            "format": FORMAT, "fingerprint": fingerprint, "epoch": epoch, "models": models,
            "optimizer": optimizer, "scheduler": scheduler, "rng": capture_rng(), "history": history,
            "finished": finished, "extra": extra or {},
        }, self.path)

    def load(self, fingerprint: str | None = None) -> dict:
        """The checkpoint, checked for format and (when given) the fingerprint of the settings."""
        state = read_checkpoint(self.path)
        if state.get("format") != FORMAT:
            raise TrainingError(f"{self.path}: not an edgemem training checkpoint (format {state.get('format')!r})")
        if fingerprint is not None and state.get("fingerprint") != fingerprint:
            raise TrainingError(
                f"{self.path} was written by a run with different settings; --resume continues only the same run",
                hint="use the original config and flags, or a new --out folder")
        return state


def read_checkpoint(path: str | Path) -> dict:
    """torch.load(weights_only=True) with one-line errors for missing, truncated or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ... for bad files
        first = " ".join(str(exc).split())[:160]
        raise TrainingError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(state, dict):
        raise TrainingError(f"{path}: not a readable checkpoint (holds a {type(state).__name__})")
    return state
