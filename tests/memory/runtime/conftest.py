from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.memory.runtime.models import MODELS, save

PROBE = Path(__file__).with_name("ort_probe.py")


@pytest.fixture(scope="session")
def model_files(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("runtime-models")
    return {name: save(name, folder) for name in MODELS}


def ort_probe(path: str, order: str = "priority", threads: int = 1, runs: int = 1) -> dict:
    """ONNX Runtime's own account of a run, from a fresh process (see ort_probe.py)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
    proc = subprocess.run([sys.executable, str(PROBE), path, order, str(threads), str(runs)], capture_output=True,
                          text=True, env=env, timeout=300, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])
