"""CIFAR-style ResNet-(6n+2) (He et al. 2016, section 4.2): ResNet-20/32/44/56/110.

A 3x3 stem with 16 channels, three stages of n BasicBlocks with 16/32/64 channels and strides
1/2/2, global average pooling and a linear classifier. The shortcut is option A (parameter free:
subsample by the stride, zero-pad the new channels), as in the paper: ResNet-20 has 0.27 M
parameters. ``DownsampleA`` is a module with a ``stride`` attribute so student transforms see it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgemem.distill.zoo.common import add_channel_dim, kaiming_init


class DownsampleA(nn.Module):
    """Option-A shortcut: ``x[..., ::stride, ::stride]`` padded with zero channels up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride if isinstance(self.stride, int) else self.stride[0]
        x = x[:, :, ::s, ::s]
        extra = self.out_channels - self.in_channels
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = DownsampleA(in_planes, planes, stride) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, widths=(16, 32, 64)) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        planes = widths[0]
        stages = []
        for i, width in enumerate(widths):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(planes, width, 2 if (i > 0 and j == 0) else 1))
                planes = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], num_classes)
        kaiming_init(self, mode="fan_in")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = add_channel_dim(x, 2)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def cifar_resnet(depth: int):
    def factory(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
        return CifarResNet(depth, num_classes=num_classes, in_channels=in_channels, **kwargs)

    factory.__doc__ = f"CIFAR ResNet-{depth} (option-A shortcuts)."
    return factory


NAMES = {f"resnet{d}": cifar_resnet(d) for d in (20, 32, 44, 56, 110)}
INPUT_SHAPE = (1, 3, 32, 32)
