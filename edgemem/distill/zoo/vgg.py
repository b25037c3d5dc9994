"""VGG-11/13/16/19 with BatchNorm, CIFAR-style (Simonyan & Zisserman 2015; the CIFAR variant of
pytorch-cifar / RepDistiller): 3x3 conv-BN-ReLU stacks separated by 2x2 max-pools, global average
pooling and one linear classifier on 512 features.
"""

from __future__ import annotations

import torch
from torch import nn

from edgemem.distill.zoo.common import add_channel_dim, kaiming_init

_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


class VGG(nn.Module):
    def __init__(self, config, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in config:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, item, 3, padding=1, bias=False), nn.BatchNorm2d(item), nn.ReLU()]
                channels = item
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        kaiming_init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(add_channel_dim(x, 2))
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def vgg(depth: int):
    def factory(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
        return VGG(_CONFIGS[depth], num_classes=num_classes, in_channels=in_channels, **kwargs)

    factory.__doc__ = f"VGG-{depth} with BatchNorm (CIFAR layout)."
    return factory


NAMES = {f"vgg{d}": vgg(d) for d in _CONFIGS}
INPUT_SHAPE = (1, 3, 32, 32)
