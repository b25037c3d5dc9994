"""FeatureTaps: outputs and inputs by module path, hooks removed on exit, unknown paths refused."""

from __future__ import annotations

import pytest
import torch

from edgemem.distill.taps import FeatureTaps
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError


def test_captures_outputs_and_inputs():
    model = build_model("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    with FeatureTaps(model, ["layer2.0", "layer3.0:input", "layer3"]) as taps:
        out = model(x)
    assert tuple(taps.outputs["layer2.0"].shape) == (2, 32, 16, 16)
    assert tuple(taps.outputs["layer3.0:input"].shape) == (2, 32, 16, 16)
    with torch.no_grad():
        pooled = model.fc(taps.outputs["layer3"].mean(dim=(2, 3)))
    assert torch.allclose(pooled, out, atol=1e-5)


def test_input_tap_is_what_the_module_receives():
    model = build_model("resnet20").eval()
    with FeatureTaps(model, ["layer2", "layer3.0:input"]) as taps:
        model(torch.randn(1, 3, 32, 32))
    assert torch.equal(taps.outputs["layer2"], taps.outputs["layer3.0:input"])


def test_hooks_are_removed_and_gradients_kept():
    model = build_model("resnet-mini")
    with FeatureTaps(model, ["layers.1"]) as taps:
        model(torch.randn(4, 1, 8, 8))
    assert taps.outputs["layers.1"].requires_grad
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    with FeatureTaps(model, ["layers.1"], detach=True) as taps:
        model(torch.randn(4, 1, 8, 8))
    assert not taps.outputs["layers.1"].requires_grad


def test_unknown_path_lists_close_matches():
    model = build_model("resnet20")
    with pytest.raises(ConfigError) as info:
        FeatureTaps(model, ["layer2.0", "layer2.9", "lyer3"])
    line = info.value.one_line()
    assert "'layer2.9'" in line and "'lyer3'" in line and "close: layer3" in line
    assert "'layer2.0'" not in line
    assert "\n" not in line
