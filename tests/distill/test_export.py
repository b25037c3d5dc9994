"""ONNX export of teachers and students (RED blocks as ordinary ops) and ONNX Runtime parity."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

from edgemem.distill.export import ExportError, check_parity, export_onnx
from edgemem.distill.students.derive import derive_student
from edgemem.distill.students.spec import StudentSpec
from edgemem.distill.zoo import build_model, default_input_shape

pytestmark = pytest.mark.usefixtures("one_thread")


def ops(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def randomize_bn(model: nn.Module) -> None:
    """Non-trivial BatchNorm statistics, so folding BN into convs is exercised for real."""
    generator = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.copy_(torch.randn(m.num_features, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)


@pytest.mark.parametrize("name, spec", [
    ("resnet20", StudentSpec()),
    ("resnet20", StudentSpec(pool_factor=2)),
    ("resnet20", StudentSpec(pool_factor=4, conv="G(4)", width=0.5)),
    ("resnet20", StudentSpec(pool_factor=2, conv="shift")),
    ("resnet1d", StudentSpec(pool_factor=4)),
    ("resnet-mini", StudentSpec(pool_factor=2, conv="BG(2,4)")),
    ("mobilenetv2-cifar", StudentSpec(pool_factor=2, width=0.5)),
    ("vit-tiny", StudentSpec()),
])
def test_parity_within_1e4(tmp_path, name, spec):
    shape = default_input_shape(name)
    student = derive_student(build_model(name), spec, shape)
    randomize_bn(student.model)
    path = export_onnx(student.model, shape, tmp_path / "student.onnx")
    assert check_parity(student.model, path, shape) <= 1e-4
    onnx.checker.check_model(str(path))


def test_red_blocks_are_ordinary_ops(tmp_path):
    student = derive_student(build_model("resnet20"), StudentSpec(pool_factor=2), (1, 3, 32, 32))
    plain = derive_student(build_model("resnet20"), StudentSpec(pool_factor=2, red=False), (1, 3, 32, 32))
    with_red = export_onnx(student.model, (1, 3, 32, 32), tmp_path / "red.onnx")
    without = export_onnx(plain.model, (1, 3, 32, 32), tmp_path / "plain.onnx")
    assert {"Sigmoid", "Mul", "Clip"} <= ops(with_red)  # gate, x * gate, ReLU6
    assert "Sigmoid" not in ops(without)
    assert all(n.domain in ("", "ai.onnx") for n in onnx.load(str(with_red)).graph.node)  # standard ops only
    count = lambda p: sum(n.op_type == "Conv" for n in onnx.load(str(p)).graph.node)  # noqa: E731
    assert count(with_red) == count(without) + 2 * len(student.red_pairs)


def test_parity_failure_is_reported(tmp_path):
    model = build_model("resnet-mini")
    path = export_onnx(model, (1, 1, 8, 8), tmp_path / "m.onnx")
    with torch.no_grad():
        model.fc.bias.add_(1.0)
    with pytest.raises(ExportError, match="differs from PyTorch by"):
        check_parity(model, path, (1, 1, 8, 8))


def test_parity_tolerance_grows_with_the_outputs_scale(tmp_path):
    """A diverged student (logits ~1e9) differs from its export by float32 rounding alone: allowed;
    the same relative error is still caught when the difference is real."""
    model = build_model("resnet-mini")
    with torch.no_grad():
        model.fc.weight.mul_(1e9)
        model.fc.bias.mul_(1e9)
    path = export_onnx(model, (1, 1, 8, 8), tmp_path / "big.onnx")
    diff = check_parity(model, path, (1, 1, 8, 8))
    assert diff > 1e-4  # beyond the absolute tolerance, within the relative one
    with torch.no_grad():
        model.fc.bias.add_(1e6)
    with pytest.raises(ExportError, match="allowed .* the largest output"):
        check_parity(model, path, (1, 1, 8, 8))


def test_unexportable_model_is_one_line(tmp_path):
    class Weird(nn.Module):
        def forward(self, x):
            return torch.linalg.eigvals(x)  # no ONNX symbolic

    with pytest.raises(ExportError) as info:
        export_onnx(Weird(), (1, 4, 4), tmp_path / "w.onnx")
    assert "cannot export Weird to ONNX" in info.value.one_line() and "\n" not in info.value.one_line()


def test_export_restores_training_mode(tmp_path):
    model = build_model("resnet-mini").train()
    export_onnx(model, (1, 1, 8, 8), tmp_path / "m.onnx")
    assert model.training


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_student_on_gpu_derives_measures_and_exports(tmp_path):
    from edgemem.distill.budget import measure_memory

    teacher = build_model("resnet20").cuda()
    student = derive_student(teacher, StudentSpec(pool_factor=2, conv="G(4)", width=0.5), (1, 3, 32, 32))
    assert all(p.is_cuda for p in student.model.parameters())
    path = export_onnx(student.model, (1, 3, 32, 32), tmp_path / "gpu.onnx")
    assert check_parity(student.model, path, (1, 3, 32, 32), atol=1e-3) <= 1e-3
    cpu = derive_student(teacher.cpu(), StudentSpec(pool_factor=2, conv="G(4)", width=0.5), (1, 3, 32, 32))
    assert measure_memory(student.model, (1, 3, 32, 32)).peak_activation_bytes == measure_memory(cpu.model, (1, 3, 32, 32)).peak_activation_bytes
