"""MobileNetV2 (Sandler et al. 2018), laid out like torchvision's.

``features``: a 3x3/2 ConvBNReLU6 stem, 17 inverted residual blocks (expand 1x1, depthwise 3x3,
project 1x1; identity shortcut when stride 1 and channels equal), a 1x1 ConvBNReLU6 to 1280;
then global average pooling and ``classifier`` (Dropout, Linear). ``width_mult`` rounds channel
counts to multiples of 8 as the reference does; ``first_stride=1`` is the usual CIFAR variant.
"""

from __future__ import annotations

import torch
from torch import nn

from edgemem.distill.zoo.common import add_channel_dim

_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes: int, out_planes: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = [ConvBNReLU(inp, hidden, 1)] if expand_ratio != 1 else []
        layers += [ConvBNReLU(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, oup, 1, bias=False), nn.BatchNorm2d(oup)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0, first_stride: int = 2, dropout: float = 0.2) -> None:
        super().__init__()
        input_channel = make_divisible(32 * width_mult)
        last_channel = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU(in_channels, input_channel, stride=first_stride)]
        for t, c, n, s in _SETTINGS:
            output_channel = make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel, s if i == 0 else 1, t))
                input_channel = output_channel
        features.append(ConvBNReLU(input_channel, last_channel, 1))
        self.features = nn.Sequential(*features)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(add_channel_dim(x, 2))
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def mobilenetv2(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """MobileNetV2 (width_mult=1.0, ImageNet stem stride 2)."""
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels, **kwargs)


def mobilenetv2_cifar(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """MobileNetV2 for 32x32 inputs: stem stride 1."""
    kwargs.setdefault("first_stride", 1)
    return MobileNetV2(num_classes=num_classes, in_channels=in_channels, **kwargs)


NAMES = {"mobilenetv2": mobilenetv2, "mobilenetv2-cifar": mobilenetv2_cifar}
INPUT_SHAPES = {"mobilenetv2": (1, 3, 224, 224), "mobilenetv2-cifar": (1, 3, 32, 32)}
