"""Per-block checkpoints under ``OUT/blockwise/blocks/<key>/``, so no finished block is lost.

* ``checkpoint/last.pt`` -- the newest complete epoch of a block in training (part B's
  ``CheckpointStore``: replacement, optimizer, scheduler, RNG, history), so a killed worker
  loses at most the epoch it was in.
* ``done.pt`` + ``done.json`` -- a finished block: its trained weights, then its record and the
  fingerprint of everything that shaped it (teacher weights, block, replacement, block training
  settings, data, seed). ``done.json`` is written last and marks the block finished; a rerun, a
  ``torchrun`` elastic restart or another worker count skips every block whose ``done.json``
  matches, and continues a block in training from ``checkpoint/last.pt``.
* ``cache/`` -- the block's activation cache while it trains (removed when it is done).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from edgemem.distill.blockwise.result import BlockRecord
from edgemem.distill.checkpoint import CheckpointStore, atomic_save, atomic_write_text, read_checkpoint
from edgemem.errors import TrainingError

FORMAT = "edgemem.blockwise_block/2"  # /2: records carry relative_error (blocks of /1 are retrained)


class BlockStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def folder(self, key: str) -> Path:
        return self.root / "blocks" / key

    def checkpoint(self, key: str) -> CheckpointStore:
        return CheckpointStore(self.folder(key) / "checkpoint")

    def cache_folder(self, key: str) -> Path:
        return self.folder(key) / "cache"

    def is_done(self, key: str, fingerprint: str) -> bool:
        meta = self._meta(key)
        return meta.get("format") == FORMAT and meta.get("fingerprint") == fingerprint and (self.folder(key) / "done.pt").is_file()

    def save_done(self, key: str, fingerprint: str, state_dict: dict, record: BlockRecord) -> None:
        folder = self.folder(key)
        atomic_save({"format": FORMAT, "fingerprint": fingerprint, "state_dict": state_dict}, folder / "done.pt")
        atomic_write_text(json.dumps({"format": FORMAT, "fingerprint": fingerprint, "record": dataclasses.asdict(record)},
                                     indent=2), folder / "done.json")

    def load_record(self, key: str) -> BlockRecord:
        meta = self._meta(key)
        try:
            values = dict(meta["record"])
            values["in_shape"], values["out_shape"] = tuple(values["in_shape"]), tuple(values["out_shape"])
            return BlockRecord(**values)
        except (KeyError, TypeError) as exc:
            raise TrainingError(f"{self.folder(key) / 'done.json'}: not a finished-block record ({exc})",
                                hint="delete the block's folder to train it again") from None

    def load_state(self, key: str, fingerprint: str) -> dict:
        state = read_checkpoint(self.folder(key) / "done.pt")
        if state.get("format") != FORMAT or state.get("fingerprint") != fingerprint:
            raise TrainingError(f"{self.folder(key) / 'done.pt'} was written by a run with other settings",
                                hint="delete the block's folder to train it again")
        return state["state_dict"]

    def clear_progress(self, key: str) -> None:
        """Drop the per-epoch checkpoint and any activation cache of a finished block."""
        path = self.checkpoint(key).path
        if path.exists():
            path.unlink()
        shutil.rmtree(self.cache_folder(key), ignore_errors=True)

    def _meta(self, key: str) -> dict:
        try:
            return json.loads((self.folder(key) / "done.json").read_text())
        except (OSError, ValueError):
            return {}
