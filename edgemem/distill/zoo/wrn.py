"""Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016) as Moonshine builds it.

Pre-activation blocks ``BN-ReLU-conv1-BN-ReLU-conv2 + shortcut`` (a 1x1 conv shortcut where the
channel count changes), channels 16, 16k, 32k, 64k, n = (d-4)/6 blocks per group, strides 1/2/2,
final BN-ReLU, global average pooling and a linear classifier. ``block="bottle"`` is Moonshine's
``BottleBlock`` (one conv per block: ``BN-ReLU-conv1 + shortcut``), the teacher shape of its
bottleneck rows. WRN-40-2 has 2,243,546 trainable parameters, WRN-16-2 691,674.
Names: ``wrn-40-2``, ``wrn-16-1``, ``wrn-40-2-bottle`` (any d = 6n+4 and k work).
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn

from edgemem.distill.zoo.common import add_channel_dim


class WideBottle(nn.Module):
    """Moonshine's BottleBlock: a single (cheap-bottleneck) conv per residual block."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.equal_in_out = in_planes == out_planes
        self.conv_shortcut = None if self.equal_in_out else nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)

    def residual(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv1(pre)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu1(self.bn1(x))
        return self.residual(pre) + (x if self.conv_shortcut is None else self.conv_shortcut(pre))


class WideBasic(WideBottle):
    """Pre-activation BasicBlock: BN-ReLU-conv1-BN-ReLU-conv2 + shortcut."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__(in_planes, out_planes, stride)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)

    def residual(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu2(self.bn2(self.conv1(pre))))


class NetworkBlock(nn.Module):
    def __init__(self, n: int, in_planes: int, out_planes: int, block: type[nn.Module], stride: int) -> None:
        super().__init__()
        self.layer = nn.Sequential(*[block(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1) for i in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    def __init__(self, depth: int = 40, widen: float = 2, num_classes: int = 10, in_channels: int = 3, block: str = "basic") -> None:
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WRN depth must be 6n+4 (10, 16, 22, 28, 40, ...), got {depth}")
        blocks = {"basic": WideBasic, "bottle": WideBottle}
        if block not in blocks:
            raise ValueError(f"WRN block must be one of {', '.join(blocks)}, got {block!r}")
        n = (depth - 4) // 6
        channels = [16, int(16 * widen), int(32 * widen), int(64 * widen)]
        self.conv1 = nn.Conv2d(in_channels, channels[0], 3, stride=1, padding=1, bias=False)
        self.block1 = NetworkBlock(n, channels[0], channels[1], blocks[block], 1)
        self.block2 = NetworkBlock(n, channels[1], channels[2], blocks[block], 2)
        self.block3 = NetworkBlock(n, channels[2], channels[3], blocks[block], 2)
        self.bn1 = nn.BatchNorm2d(channels[3])
        self.relu = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[3], num_classes)
        for m in self.modules():  # Moonshine's initialisation
            if isinstance(m, nn.Conv2d):
                m.weight.data.normal_(0, math.sqrt(2.0 / (m.kernel_size[0] * m.kernel_size[1] * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()
            elif isinstance(m, nn.Linear):
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = add_channel_dim(x, 2)
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        x = self.relu(self.bn1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


PATTERN = re.compile(r"^wrn-(\d+)-(\d+(?:\.\d+)?)(-bottle)?$")


def wrn_from_name(name: str):
    """Factory for ``wrn-<depth>-<widen>[-bottle]``, or None when ``name`` is not of that form."""
    match = PATTERN.match(name)
    if not match:
        return None
    depth, widen, bottle = int(match.group(1)), float(match.group(2)), bool(match.group(3))

    def factory(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
        kwargs.setdefault("block", "bottle" if bottle else "basic")
        return WideResNet(depth, widen, num_classes=num_classes, in_channels=in_channels, **kwargs)

    factory.__doc__ = f"WRN-{depth}-{widen:g}" + (" with Moonshine BottleBlocks" if bottle else "")
    return factory


NAMES = {name: wrn_from_name(name) for name in ("wrn-16-1", "wrn-16-2", "wrn-40-1", "wrn-40-2", "wrn-28-10", "wrn-40-2-bottle")}
INPUT_SHAPE = (1, 3, 32, 32)
