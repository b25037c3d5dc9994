"""jetson/bootstrap.sh runs, only reports, and reads replayed device tools and identity files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "jetson" / "bootstrap.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bootstrap_reports_replayed_device(tmp_path, replay_tools):
    tools = replay_tools("8.5.2", "g1_nano_jp4_root")
    root = tmp_path / "sysroot"
    (root / "etc").mkdir(parents=True)
    (root / "proc" / "device-tree").mkdir(parents=True)
    # written from the formats in shared/reference/device-formats.md a3 (not copied from a device)
    (root / "etc" / "nv_tegra_release").write_text("# R32 (release), REVISION: 7.1, GCID: 1, BOARD: t210ref\n")
    (root / "proc" / "device-tree" / "model").write_text("NVIDIA Jetson Nano Developer Kit\x00")
    before = set(tmp_path.rglob("*"))
    env = dict(os.environ, PATH=f"{Path(tools['trtexec']).parent}:{os.environ['PATH']}", EDGEMEM_AGENT_SYSROOT=str(root),
               PYTHON=sys.executable, HOME=str(tmp_path))
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "ok       board                  NVIDIA Jetson Nano Developer Kit" in out
    assert "# R32 (release), REVISION: 7.1" in out and "[TensorRT v8502]" in out
    assert "ok       power mode             5W (1)" in out and "ok       onnxruntime" in out
    assert out.strip().splitlines()[-1].startswith("summary: ")
    created = {p for p in set(tmp_path.rglob("*")) - before if not p.is_dir()}
    # the script writes nothing; importing onnxruntime drops its own telemetry id under ~/.cache/Microsoft
    assert all("Microsoft" in p.parts for p in created), created


def test_bootstrap_fails_without_python(tmp_path):
    env = dict(os.environ, PYTHON=str(tmp_path / "no-python"), HOME=str(tmp_path))
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "missing  python" in proc.stdout
