"""Cheap convolutions: drop-in replacements for a dense k x k convolution (same in/out channels,
stride, padding and output size), chosen by name from one table.

Moonshine (``BayesWatch/pytorch-moonshine``, ``models/blocks.py``), every conv bias-free like the
teacher's:
  ``G(g)``  / ``DConvA<g>``: grouped k x k (N->N, g groups, the stride) -> BN -> ReLU -> 1x1 (N->M)
  ``DW``    / ``DConv``:     the same with a depthwise k x k (g = N); ``DConvG<n>``: n channels per group
  ``B(b)``  / ``ConvB<b>``:  1x1 (N->M/b) -> BN-ReLU -> dense k x k (the stride) -> BN-ReLU -> 1x1 (M/b->M)
  ``BG(b,g)`` / ``A<g>B<b>``: that bottleneck with g groups in the k x k; ``G<n>B<b>``: n channels per
            group; ``DConvB<b>``: depthwise
Online distillation with cheap convolutions (``EthanZhangYC/OD-cheap-convolution``,
``model/cifar10/shiftresnet.py``): the cheap op at stride 1, then a 1x1 conv carrying the stride
(the teacher's BN and ReLU that followed the conv follow it still):
  ``dw``: depthwise k x k -> 1x1;  ``group(g)``: grouped k x k (g groups) -> 1x1;
  ``shift``: a parameter-free shift of channel groups in the k x k directions (ShiftNet) -> 1x1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from edgemem.errors import ConfigError


def _layers(conv: nn.Module):
    dims = conv.weight.dim() - 2
    return {1: (nn.Conv1d, nn.BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d)}[dims]


def _check_groups(path: str, channels: int, groups: int, what: str) -> int:
    if groups < 1 or channels % groups:
        raise ConfigError(f"{path}: {what} needs {groups} groups to divide {channels} channels")
    return groups


class GroupedPointwise(nn.Module):
    """Moonshine G(g)/DW: grouped k x k (stride) -> BN -> ReLU -> 1x1."""

    def __init__(self, conv: nn.Module, groups: int) -> None:
        super().__init__()
        Conv, BN = _layers(conv)
        n, m = conv.in_channels, conv.out_channels
        self.grouped = Conv(n, n, conv.kernel_size, conv.stride, conv.padding, conv.dilation, groups=groups, bias=False)
        self.bn = BN(n)
        self.relu = nn.ReLU()
        self.pointwise = Conv(n, m, 1, bias=conv.bias is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.relu(self.bn(self.grouped(x))))


class BottleneckConv(nn.Module):
    """Moonshine B(b)/BG(b,g): 1x1 down to M/b -> BN-ReLU -> grouped k x k (stride) -> BN-ReLU -> 1x1 up."""

    def __init__(self, conv: nn.Module, reduction: int, groups: Callable[[int], int], path: str) -> None:
        super().__init__()
        Conv, BN = _layers(conv)
        n, m = conv.in_channels, conv.out_channels
        mid = m // reduction
        if mid < 1:
            raise ConfigError(f"{path}: bottleneck {reduction} leaves no channels of {m}")
        g = _check_groups(path, mid, groups(mid), "the bottleneck conv")
        self.down = Conv(n, mid, 1, bias=False)
        self.bn1 = BN(mid)
        self.conv = Conv(mid, mid, conv.kernel_size, conv.stride, conv.padding, conv.dilation, groups=g, bias=False)
        self.bn2 = BN(mid)
        self.relu = nn.ReLU()
        self.up = Conv(mid, m, 1, bias=conv.bias is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.down(x)))
        out = self.relu(self.bn2(self.conv(out)))
        return self.up(out)


class Shift(nn.Module):
    """ShiftNet's shift: channels split into k^d groups, each moved one step in one direction, zero fill.

    Written with pad and slices, so it exports to ONNX as Pad/Slice/Concat and runs anywhere.
    """

    def __init__(self, channels: int, kernel: int, spatial_dims: int) -> None:
        super().__init__()
        self.channels, self.kernel, self.spatial_dims = channels, kernel, spatial_dims
        offsets = [(o,) for o in range(kernel)] if spatial_dims == 1 else [(a, b) for a in range(kernel) for b in range(kernel)]
        n = len(offsets)
        bounds = [i * channels // n for i in range(n + 1)]  # an even split; the centre offset is the identity
        self.groups = [(bounds[i], bounds[i + 1], offsets[i]) for i in range(n) if bounds[i + 1] > bounds[i]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.kernel // 2
        padded = nn.functional.pad(x, (r, r) * self.spatial_dims)
        parts = []
        for start, stop, offset in self.groups:
            if self.spatial_dims == 1:
                parts.append(padded[:, start:stop, offset[0]: offset[0] + x.shape[2]])
            else:
                parts.append(padded[:, start:stop, offset[0]: offset[0] + x.shape[2], offset[1]: offset[1] + x.shape[3]])
        return torch.cat(parts, dim=1)


class OnlineCheap(nn.Module):
    """The online method's cheap conv: depthwise / grouped / shift k x k at stride 1, then a strided 1x1."""

    def __init__(self, conv: nn.Module, kind: str, groups: int, path: str) -> None:
        super().__init__()
        Conv, _ = _layers(conv)
        n, m = conv.in_channels, conv.out_channels
        dims = conv.weight.dim() - 2
        if any(2 * p != d * (k - 1) for p, d, k in zip(conv.padding, conv.dilation, conv.kernel_size)):
            raise ConfigError(f"{path}: the online cheap convs need a size-preserving k x k conv (padding (k-1)/2)")
        if kind == "shift":
            self.cheap = Shift(n, conv.kernel_size[0], dims)
        else:
            g = n if kind == "dw" else _check_groups(path, n, groups, "group conv")
            self.cheap = Conv(n, n, conv.kernel_size, 1, conv.padding, conv.dilation, groups=g, bias=False)
        self.pointwise = Conv(n, m, 1, stride=conv.stride, bias=conv.bias is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.cheap(x))


@dataclass(frozen=True)
class CheapConv:
    pattern: str  # regex over the spec's conv name
    describe: str
    build: Callable  # (conv, path, *numbers) -> nn.Module


# One table: spec name -> replacement. Numbers in the name are passed to ``build`` in order.
CHEAP_CONVS: tuple[CheapConv, ...] = (
    CheapConv(r"G\((\d+)\)|DConvA(\d+)", "grouped k x k with g groups + 1x1 (Moonshine G(g))",
              lambda c, p, g: GroupedPointwise(c, _check_groups(p, c.in_channels, g, "G(g)"))),
    CheapConv(r"DConvG(\d+)", "grouped k x k with n channels per group + 1x1 (Moonshine)",
              lambda c, p, n: GroupedPointwise(c, _check_groups(p, c.in_channels, c.in_channels // n if n else 0, "DConvG<n>"))),
    CheapConv(r"DW|DConv", "depthwise k x k + BN-ReLU + 1x1 (Moonshine)", lambda c, p: GroupedPointwise(c, c.in_channels)),
    CheapConv(r"B\((\d+)\)|ConvB(\d+)", "bottleneck 1x1 / dense k x k / 1x1, reduction b (Moonshine B(b))",
              lambda c, p, b: BottleneckConv(c, b, lambda mid: 1, p)),
    CheapConv(r"BG\((\d+),\s*(\d+)\)", "bottleneck with a grouped k x k: BG(b, g) (Moonshine)",
              lambda c, p, b, g: BottleneckConv(c, b, lambda mid: g, p)),
    CheapConv(r"A(\d+)B(\d+)", "bottleneck b with g groups (Moonshine A<g>B<b>)",
              lambda c, p, g, b: BottleneckConv(c, b, lambda mid: g, p)),
    CheapConv(r"G(\d+)B(\d+)", "bottleneck b with n channels per group (Moonshine G<n>B<b>)",
              lambda c, p, n, b: BottleneckConv(c, b, lambda mid: mid // n if n else 0, p)),
    CheapConv(r"DConvB(\d+)", "bottleneck b with a depthwise k x k (Moonshine)",
              lambda c, p, b: BottleneckConv(c, b, lambda mid: mid, p)),
    CheapConv(r"dw", "depthwise k x k + strided 1x1 (online distillation)", lambda c, p: OnlineCheap(c, "dw", 0, p)),
    CheapConv(r"group\((\d+)\)", "grouped k x k + strided 1x1 (online distillation)", lambda c, p, g: OnlineCheap(c, "group", g, p)),
    CheapConv(r"shift", "shift + strided 1x1 (online distillation)", lambda c, p: OnlineCheap(c, "shift", 0, p)),
)

CONV_NAMES = ("standard", "G(g)", "DW", "B(b)", "BG(b,g)", "dw", "group(g)", "shift",
              "DConvA<g>", "DConvG<n>", "DConv", "ConvB<b>", "A<g>B<b>", "G<n>B<b>", "DConvB<b>")


def cheap_factory(name: str) -> Callable[[nn.Module, str], nn.Module]:
    """``factory(conv, path) -> replacement`` for conv name ``name``; ConfigError for unknown names."""
    for entry in CHEAP_CONVS:
        match = re.fullmatch(entry.pattern, name.strip())
        if match:
            numbers = [int(v) for v in match.groups() if v is not None]
            if any(n < 1 for n in numbers):
                raise ConfigError(f"conv {name!r}: group and bottleneck numbers must be at least 1")
            return lambda conv, path: entry.build(conv, path, *numbers)
    raise ConfigError(f"unknown conv {name!r}", hint=f"choose from {', '.join(CONV_NAMES)}")


def is_replaceable(conv: nn.Module) -> bool:
    """Dense (groups == 1) convolutions with a kernel larger than 1 are what cheap convs replace."""
    return conv.groups == 1 and any(k > 1 for k in conv.kernel_size)
