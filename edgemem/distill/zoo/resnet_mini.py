"""ResNet-mini: a stem conv and three residual BasicBlocks, in 2-D (8x8 digits) or 1-D (MNIST-1D).

The measured anchors of distill-methods.md b6 use exactly these: ``resnet-mini`` (2-D, a 3x3 stem
with 32 channels, blocks of 32/64/128 channels with strides 1/2/2; 308,074 parameters) and
``resnet1d`` (1-D, a k=5 stem and constant width 96, strides 1/2/2; 187,498 parameters). Both
accept inputs without a channel axis: (N, 8, 8) or (N, 40). A strided block, or one whose
channel count changes, has a 1x1 conv + BN projection shortcut.
"""

from __future__ import annotations

import torch
from torch import nn

from edgemem.distill.zoo.common import adaptive_avgpool_nd, add_channel_dim, batchnorm_nd, conv_nd, kaiming_init


class MiniBlock(nn.Module):
    def __init__(self, spatial_dims: int, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        conv, bn = conv_nd(spatial_dims), batchnorm_nd(spatial_dims)
        self.conv1 = conv(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = bn(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv(planes, planes, 3, padding=1, bias=False)
        self.bn2 = bn(planes)
        self.shortcut = (
            nn.Sequential(conv(in_planes, planes, 1, stride=stride, bias=False), bn(planes))
            if stride != 1 or in_planes != planes else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNetMini(nn.Module):
    def __init__(self, spatial_dims: int = 2, num_classes: int = 10, in_channels: int = 1,
                 widths=(32, 64, 128), strides=(1, 2, 2), stem_kernel: int = 3, stem_stride: int = 1) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        conv, bn = conv_nd(spatial_dims), batchnorm_nd(spatial_dims)
        self.conv1 = conv(in_channels, widths[0], stem_kernel, stride=stem_stride, padding=stem_kernel // 2, bias=False)
        self.bn1 = bn(widths[0])
        self.relu = nn.ReLU()
        blocks, planes = [], widths[0]
        for width, stride in zip(widths, strides):
            blocks.append(MiniBlock(spatial_dims, planes, width, stride))
            planes = width
        self.layers = nn.Sequential(*blocks)
        self.avgpool = adaptive_avgpool_nd(spatial_dims)(1)
        self.fc = nn.Linear(planes, num_classes)
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(add_channel_dim(x, self.spatial_dims))))
        x = self.layers(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_mini(num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    """2-D ResNet-mini for 8x8 digits (widths 32/64/128)."""
    return ResNetMini(2, num_classes=num_classes, in_channels=in_channels, **kwargs)


def resnet1d(num_classes: int = 10, in_channels: int = 1, width: int = 96, **kwargs) -> nn.Module:
    """1-D ResNet-mini for MNIST-1D (constant width, default 96; k=5 stem)."""
    kwargs.setdefault("widths", (width, width, width))
    kwargs.setdefault("stem_kernel", 5)
    return ResNetMini(1, num_classes=num_classes, in_channels=in_channels, **kwargs)


NAMES = {"resnet-mini": resnet_mini, "resnet1d": resnet1d}
INPUT_SHAPES = {"resnet-mini": (1, 1, 8, 8), "resnet1d": (1, 1, 40)}
