"""ReDistill's residual encoded (RED) block and how it is attached to a student.

``RED(x) = x * Sigmoid(BN(Conv1x1(x))) + ReLU6(BN(Conv3x3(x)))`` over the student's channels
(1-D or 2-D), as ``reed/modules.py::ResidualEncodedModule`` builds it (convs with bias). The
blocks live in the student's ``red_blocks`` ModuleDict, so they are ordinary submodules (in the
state dict, exported as ordinary ops); a forward hook (output points) or forward pre-hook (input
points) on the module at the moved point replaces that activation by the block's output, which is
what ReDistill's ``DistillationHook`` does. Hooks are picklable objects, so ``copy.deepcopy`` and
``torch.save(model)`` keep them pointing at the copied block.
"""

from __future__ import annotations

import torch
from torch import nn

CONTAINER = "red_blocks"


class RedBlock(nn.Module):
    def __init__(self, channels: int, spatial_dims: int = 2, logit_kernel: int = 1, res_kernel: int = 3) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[spatial_dims]
        bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[spatial_dims]
        self.gate = nn.Sequential(conv(channels, channels, logit_kernel, padding=logit_kernel // 2), bn(channels), nn.Sigmoid())
        self.enc = nn.Sequential(conv(channels, channels, res_kernel, padding=res_kernel // 2), bn(channels), nn.ReLU6())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x) + self.enc(x)


class RedOutputHook:
    """Forward hook: the module's output is replaced by ``red(output)``."""

    def __init__(self, red: RedBlock) -> None:
        self.red = red

    def __call__(self, module, args, output):
        return self.red(output)


class RedInputHook:
    """Forward pre-hook: the module's first input is replaced by ``red(input)``."""

    def __init__(self, red: RedBlock) -> None:
        self.red = red

    def __call__(self, module, args):
        return (self.red(args[0]), *args[1:])


def _device_of(*modules):
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")


def block_key(path: str, is_input: bool) -> str:
    return path.replace(".", "_") + ("__in" if is_input else "__out")


def attach_red(model: nn.Module, path: str, is_input: bool, channels: int, spatial_dims: int) -> str:
    """Insert a RED block at the output (or input) of module ``path``; returns the block's module path."""
    if not hasattr(model, CONTAINER):
        model.add_module(CONTAINER, nn.ModuleDict())
    container = getattr(model, CONTAINER)
    key = block_key(path, is_input)
    target = model.get_submodule(path)
    red = RedBlock(channels, spatial_dims).to(_device_of(target, model))
    container[key] = red
    if is_input:
        target.register_forward_pre_hook(RedInputHook(red))
    else:
        target.register_forward_hook(RedOutputHook(red))
    return f"{CONTAINER}.{key}"
