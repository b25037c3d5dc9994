"""Each verify test measures with its own host-side cache and its own device lock (the agent's
default lock is one per machine, which a benchmark running beside the suite may hold)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))
    monkeypatch.setenv("EDGEMEM_NO_PROGRESS", "1")
