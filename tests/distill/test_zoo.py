"""The zoo: every model builds and runs on its default input, parameter counts match the papers."""

from __future__ import annotations

import pytest
import torch

from edgemem.distill.zoo import ZOO, build_model, default_input_shape
from edgemem.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")

HEAVY = {"resnet101", "resnet152", "wrn-28-10", "vgg19", "resnet34"}


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def with_bn_stats(model) -> int:
    return sum(v.numel() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked"))


@pytest.mark.parametrize("name", sorted(set(ZOO) - HEAVY))
def test_every_model_runs_on_its_default_input(name):
    model = build_model(name, num_classes=7).eval()
    shape = default_input_shape(name)
    with torch.no_grad():
        out = model(torch.randn(2, *shape[1:]))
    assert tuple(out.shape) == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(HEAVY))
def test_heavy_models_build(name):
    model = build_model(name)
    assert trainable(model) > 10_000_000


@pytest.mark.parametrize("name, classes, params", [
    ("resnet20", 10, 269_722),  # He et al.: 0.27M with option-A shortcuts
    ("resnet56", 10, 853_018),
    ("resnet110", 10, 1_727_962),  # 1.7M
    ("resnet18", 1000, 11_689_512),  # torchvision's counts
    ("resnet50", 1000, 25_557_032),
    ("mobilenetv2", 1000, 3_504_872),
    ("wrn-40-2", 10, 2_243_546),  # Moonshine (reference b2)
    ("wrn-16-2", 10, 691_674),
    ("resnet-mini", 10, 308_074),  # reference b6 digits teacher
    ("resnet1d", 10, 187_498),  # reference b6 MNIST-1D teacher
])
def test_parameter_counts(name, classes, params):
    assert trainable(build_model(name, num_classes=classes)) == params


@pytest.mark.parametrize("name, params", [("wrn-40-2", 2_248_954), ("wrn-16-2", 693_498), ("wrn-40-1", 566_650), ("wrn-16-1", 175_994)])
def test_moonshine_convention_counts_bn_statistics(name, params):
    assert with_bn_stats(build_model(name)) == params


def test_open_ended_names():
    assert trainable(build_model("wrn-22-4")) > 0
    assert sum(1 for m in build_model("resnet26").modules() if type(m).__name__ == "BasicBlock") == 12
    assert default_input_shape("wrn-22-4") == (1, 3, 32, 32)


def test_unknown_name_lists_the_zoo():
    with pytest.raises(ConfigError) as info:
        build_model("resnet19")
    line = info.value.one_line()
    assert "unknown model 'resnet19'" in line and "resnet18" in line and "wrn-40-2" in line
    assert "\n" not in line


def test_bad_keyword_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot build 'vit-tiny'"):
        build_model("vit-tiny", image_size=30)


def test_default_input_shapes():
    assert default_input_shape("resnet20") == (1, 3, 32, 32)
    assert default_input_shape("resnet18") == (1, 3, 224, 224)
    assert default_input_shape("resnet1d") == (1, 1, 40)
    assert default_input_shape("resnet-mini") == (1, 1, 8, 8)
    assert default_input_shape("resnet20", in_channels=1) == (1, 1, 32, 32)


def test_signals_and_digits_without_channel_axis():
    with torch.no_grad():
        assert tuple(build_model("resnet1d").eval()(torch.randn(3, 40)).shape) == (3, 10)  # MNIST-1D (N, 40)
        assert tuple(build_model("resnet-mini").eval()(torch.randn(3, 8, 8)).shape) == (3, 10)  # digits (N, 8, 8)
        assert tuple(build_model("resnet20", in_channels=1).eval()(torch.randn(3, 1, 8, 8)).shape) == (3, 10)
