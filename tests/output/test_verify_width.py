"""``edgemem verify``'s report at 80 columns, from real runs: ONNX Runtime measured on this machine
through the agent, and TensorRT through the trtexec replay (partial: no GPU memory visible here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem.bench.run import Target
from edgemem.budget import Scope
from edgemem.output.verify import render_verify
from edgemem.verify.device import Measuring
from edgemem.verify.request import VerifyRequest
from edgemem.verify.run import verify
from tests.bench.conftest import launcher
from tests.bench.models import small_cnn
from tests.memory.runtime.models import save
from tests.output.rendering import fits, in_order


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("verify-width")
    patch = pytest.MonkeyPatch()
    patch.setenv("EDGEMEM_CACHE", str(folder / "cache"))
    patch.setenv("EDGEMEM_DEVICE_LOCK", str(folder / "device.lock"))
    try:
        measuring = Measuring(Target("local"), repeats=2, runs=3, artifacts_root=folder / "logs")
        model = Path(save("branchy", folder))
        ort = verify(VerifyRequest(model, "local", 1 << 30, Scope.PROCESS, repeats=2, runs=3), measuring)
        trtexec = launcher(folder / "bin", "trtexec", "trtexec-replay", "--replay-version", "10.16.2")
        trt = verify(VerifyRequest(small_cnn(folder / "cnn.onnx"), "local", 1 << 30, Scope.MODEL, backend="tensorrt",
                                   repeats=2, runs=3), Measuring(Target("local"), 2, 3, artifacts_root=folder / "logs",
                                                                 tools={"trtexec": str(trtexec)}))
    finally:
        patch.undo()
    return {"onnxruntime": ort, "tensorrt": trt}


@pytest.mark.parametrize("backend", ["onnxruntime", "tensorrt"])
def test_verify_report_fits_80_columns_verdict_first(reports, backend):
    report = reports[backend]
    text = fits(lambda out: render_verify(report, out))
    first = text.splitlines()[0]
    assert first.startswith("edgemem verify") and first.endswith(report.verdict.status.upper())
    assert in_order(text, "budget", "predicted and measured", "how it was measured", "settings verify applied")


def test_every_part_shows_its_share_of_the_budget(reports):
    report = reports["onnxruntime"]
    text = fits(lambda out: render_verify(report, out))
    budget = report.predicted_check.budget_bytes
    rows = {line.split("  ")[0]: line.split()[-1] for line in text.splitlines()
            if line.startswith(("runtime baseline", "weights", "process peak")) and line.rstrip().endswith("%")}
    assert set(rows) == {"runtime baseline", "weights", "process peak"}
    peak = report.measurement.summary["process_peak"]["median_bytes"]
    assert rows["process peak"] == f"{peak / budget * 100:.1f}%"
