"""measure_memory: the analyzer on the exported model; which knob moves which memory."""

from __future__ import annotations

import onnx
import pytest

from edgemem.distill.budget import measure_memory
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model
from edgemem.errors import UsageError

pytestmark = pytest.mark.usefixtures("one_thread")
CIFAR = (1, 3, 32, 32)


def peak(name, spec, shape, precision="fp32"):
    student = derive_student(build_model(name), spec, shape)
    return measure_memory(student.model, shape, precision)


def test_resnet20_teacher_and_pooled_students():
    teacher = peak("resnet20", StudentSpec(), CIFAR)
    assert teacher.peak_activation_bytes == 196_608  # 3 live 16x32x32 fp32 maps: the 192 KiB anchor
    assert teacher.arena_bytes >= teacher.peak_activation_bytes
    assert teacher.onnx_path is None and teacher.weights_bytes > 1_000_000
    for k in (2, 4):
        plain = peak("resnet20", StudentSpec(pool_factor=k, red=False), CIFAR)
        assert plain.peak_activation_bytes == 49_152  # stem x2: both early stages run at 16x16 or less
        # pooling keeps every weight; only the shortcut's slice-step constants differ in the export
        assert abs(plain.weights_bytes - teacher.weights_bytes) <= 256


def test_pooling_divides_the_peak_by_k_on_mnist1d_model():
    shape = (1, 1, 40)
    teacher = peak("resnet1d", StudentSpec(), shape).peak_activation_bytes
    assert teacher == 3 * 96 * 40 * 4
    for k in (2, 4):
        assert peak("resnet1d", StudentSpec(pool_factor=k, red=False), shape).peak_activation_bytes * k == teacher


@pytest.mark.parametrize("name, shape, conv", [("resnet20", CIFAR, "G(4)"), ("resnet20", CIFAR, "DW"), ("resnet-mini", (1, 1, 8, 8), "shift")])
def test_cheap_convs_lower_weights_not_the_peak(name, shape, conv):
    teacher = peak(name, StudentSpec(), shape)
    cheap = peak(name, StudentSpec(conv=conv), shape)
    assert cheap.weights_bytes < teacher.weights_bytes / 2
    assert cheap.peak_activation_bytes >= teacher.peak_activation_bytes


def test_precision_rescales_activations():
    fp32 = peak("resnet20", StudentSpec(), CIFAR)
    assert peak("resnet20", StudentSpec(), CIFAR, "fp16").peak_activation_bytes * 2 == fp32.peak_activation_bytes
    int8 = peak("resnet20", StudentSpec(), CIFAR, "int8")
    assert int8.peak_activation_bytes * 4 == fp32.peak_activation_bytes
    assert int8.weights_bytes == fp32.weights_bytes  # weights are counted as stored, as the analyzer does
    with pytest.raises(UsageError, match="unknown precision 'fp8'"):
        measure_memory(build_model("resnet-mini"), (1, 1, 8, 8), "fp8")


def test_workdir_keeps_the_analysed_export(tmp_path):
    memory = measure_memory(build_model("resnet-mini"), (1, 1, 8, 8), workdir=tmp_path / "kept")
    assert memory.onnx_path == tmp_path / "kept" / "model.onnx"
    onnx.checker.check_model(str(memory.onnx_path))
    assert memory.required_bytes("model") == memory.arena_bytes + memory.weights_bytes
    assert memory.required_bytes("activations") == memory.arena_bytes


def test_the_verdict_is_the_analyzers_own_budget_check():
    from edgemem.budget import Budget, Scope

    model = build_model("resnet-mini")
    plain = measure_memory(model, (1, 1, 8, 8))
    assert plain.budget is None
    fits = measure_memory(model, (1, 1, 8, 8), budget=Budget(plain.arena_bytes, Scope.ACTIVATIONS)).budget
    assert (fits.fits, fits.required_bytes, fits.scope) == (True, plain.arena_bytes, Scope.ACTIVATIONS)
    over = measure_memory(model, (1, 1, 8, 8), budget=Budget(plain.arena_bytes + plain.weights_bytes - 1, Scope.MODEL)).budget
    assert (over.fits, over.shortfall_bytes) == (False, 1)
