"""``edgemem distill --verify-on local``: the student verified on the device, in the distill report.

The 6 KiB activation budget is met by the analyzer's arena, and not by ONNX Runtime on this
machine (its arena, kernel scratch and first-run memory measure far more): the device does not
confirm the student, so distill reports it as failed (exit 3), with the device's reason."""

from __future__ import annotations

import json

import pytest

from tests.distill.test_cli_distill import invoke, teacher_cache  # noqa: F401  (module fixture)

pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEMEM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("EDGEMEM_DEVICE_LOCK", str(tmp_path / "device.lock"))


def test_a_student_the_device_does_not_confirm_is_reported_failed(tmp_path, teacher_cache):  # noqa: F811
    result = invoke(tmp_path, teacher_cache, "--budget", "6KiB", "--verify-on", "local", "--json")
    assert result.exit_code == 3, result.output
    document = json.loads(result.stdout)
    device = document["device"]
    assert document["budget"]["fits"] is True  # the analyzer's verdict
    assert device["host"] == "local" and device["verdict"]["status"] == "over" and document["fits"] is False
    assert device["budget"]["measured"]["scope"] == "activations"
    assert device["measured"]["activations"]["median_bytes"] > 6 * 1024
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["device"]["verdict"]["status"] == "over" and saved["fits"] is False


def test_a_student_that_fits_on_the_device_passes(tmp_path, teacher_cache):  # noqa: F811
    result = invoke(tmp_path, teacher_cache, "--budget", "64MiB", "--verify-on", "local")
    assert result.exit_code == 0, result.output
    assert "on the device (local, onnxruntime): FITS" in result.stdout


def test_verify_on_needs_a_budget(tmp_path, teacher_cache):  # noqa: F811
    result = invoke(tmp_path, teacher_cache, "--verify-on", "local")
    assert result.exit_code == 2 and "--verify-on" in result.stderr
