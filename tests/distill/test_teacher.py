"""load_teacher: zoo names, user factories, weights files, and one-line errors for bad ones."""

from __future__ import annotations

import textwrap

import pytest
import torch

from edgemem.distill.teacher import load_teacher
from edgemem.distill.zoo import build_model
from edgemem.errors import ConfigError

USER_MODULE = textwrap.dedent("""
    import torch
    from torch import nn

    def make(num_classes=10, in_channels=3):
        return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                             nn.Flatten(), nn.Linear(4, num_classes))

    def no_args():
        return nn.Sequential(nn.Flatten(), nn.Linear(12, 2))

    def not_a_module(num_classes=10):
        return 42

    def broken(num_classes=10):
        raise RuntimeError("boom")
""")


def one_line(info) -> str:
    line = info.value.one_line()
    assert "\n" not in line
    return line


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"user_teachers_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.fixture
def saved(tmp_path):
    """wrn-16-1 weights saved in the ways users save them."""
    torch.manual_seed(1)
    model = build_model("wrn-16-1", num_classes=5)
    state = model.state_dict()
    paths = {
        "plain": tmp_path / "plain.pt",
        "checkpoint": tmp_path / "ckpt.pt",
        "state_dict": tmp_path / "lightning.ckpt",
        "parallel": tmp_path / "ddp.pth",
    }
    torch.save(state, paths["plain"])
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 3}, paths["checkpoint"])
    torch.save({"state_dict": state, "epoch": 3}, paths["state_dict"])
    torch.save({f"module.{k}": v for k, v in state.items()}, paths["parallel"])
    return model, paths


def test_zoo_teacher_without_weights_is_trainable():
    model = load_teacher("resnet20", num_classes=4, in_channels=1, weights=None)
    assert model.conv1.in_channels == 1 and model.fc.out_features == 4 and model.training


@pytest.mark.parametrize("kind", ["plain", "checkpoint", "state_dict", "parallel"])
def test_weights_load_from_every_layout(saved, kind):
    model, paths = saved
    teacher = load_teacher("wrn-16-1", num_classes=5, in_channels=3, weights=paths[kind])
    assert not teacher.training
    for key, value in model.state_dict().items():
        assert torch.equal(teacher.state_dict()[key], value), key


def test_user_factory_by_module_and_by_file(user_module, tmp_path):
    model = load_teacher(f"{user_module}:make", num_classes=3, in_channels=1, weights=None)
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    from_file = load_teacher(f"{tmp_path / (user_module + '.py')}:make", num_classes=6, in_channels=3, weights=None)
    assert from_file(torch.randn(1, 3, 8, 8)).shape == (1, 6)
    assert load_teacher(f"{user_module}:no_args", num_classes=3, in_channels=1, weights=None)(torch.randn(1, 12)).shape == (1, 2)


@pytest.mark.parametrize("spec, message", [
    ("no_such_module_xyz:make", "cannot import no_such_module_xyz: ModuleNotFoundError"),
    ("{mod}:missing", "has no callable 'missing'"),
    ("{mod}:not_a_module", "returned int, not a torch.nn.Module"),
    ("{mod}:broken", "the factory failed: RuntimeError: boom"),
    ("resnet19", "unknown model 'resnet19'"),
    ("/no/such/file.py:make", "does not exist"),
])
def test_bad_teacher_specs(user_module, spec, message):
    with pytest.raises(ConfigError) as info:
        load_teacher(spec.format(mod=user_module), num_classes=3, in_channels=3, weights=None)
    assert message in one_line(info)


def test_missing_empty_and_corrupt_files(tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x02not a pickle, not a zip" * 20)
    truncated = tmp_path / "truncated.pt"
    torch.save(build_model("wrn-16-1").state_dict(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:5000])
    cases = [(tmp_path / "absent.pt", "does not exist"), (empty, "empty"), (corrupt, "not a readable PyTorch weights file"),
             (truncated, "not a readable PyTorch weights file")]
    for path, message in cases:
        with pytest.raises(ConfigError) as info:
            load_teacher("wrn-16-1", 10, 3, path)
        line = one_line(info)
        assert str(path) in line and message in line


def test_file_without_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], path)
    with pytest.raises(ConfigError) as info:
        load_teacher("wrn-16-1", 10, 3, path)
    assert "holds no state dict" in one_line(info)


def test_mismatching_weights_name_the_first_key(saved):
    _, paths = saved
    with pytest.raises(ConfigError) as info:  # wrn-16-1 weights into wrn-16-2
        load_teacher("wrn-16-2", num_classes=5, in_channels=3, weights=paths["plain"])
    line = one_line(info)
    assert str(paths["plain"]) in line and "'block1.layer.0.conv1.weight' has shape (16, 16, 3, 3) in the file" in line
    assert "expects (32, 16, 3, 3)" in line
    with pytest.raises(ConfigError) as info:  # right architecture, wrong number of classes
        load_teacher("wrn-16-1", num_classes=10, in_channels=3, weights=paths["checkpoint"])
    assert "'fc.weight' has shape (5, 64)" in one_line(info)


def test_missing_and_unexpected_keys(saved, tmp_path):
    model, _ = saved
    state = model.state_dict()
    missing = {k: v for k, v in state.items() if k != "bn1.running_var"}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(ConfigError, match="key 'bn1.running_var' \\(64,\\) is missing from the file"):
        load_teacher("wrn-16-1", 5, 3, tmp_path / "missing.pt")
    torch.save({**state, "extra.weight": torch.zeros(2)}, tmp_path / "extra.pt")
    with pytest.raises(ConfigError, match="the file has key 'extra.weight'"):
        load_teacher("wrn-16-1", 5, 3, tmp_path / "extra.pt")
    no_counters = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(no_counters, tmp_path / "old.pt")  # files from before BN counted batches still load
    load_teacher("wrn-16-1", 5, 3, tmp_path / "old.pt")
