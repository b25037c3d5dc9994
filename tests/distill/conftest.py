"""Shared tiny fixtures for the student-derivation tests: user models that are not in the zoo."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn


class UserCNN(nn.Module):
    """A user's plain CNN: biased convs, no BatchNorm, 2x2 max-pools between stages."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))


class FunctionalShortcutNet(nn.Module):
    """Downsamples its shortcut in code (F.avg_pool2d): moving the conv's stride breaks the add."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.conv = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.conv(x) + F.avg_pool2d(x, 2)
        return self.head(x.mean(dim=(2, 3)))


class UpsamplingNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.down = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(8, 8, 2, stride=2)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.head(self.up(self.mid(self.down(x))))


class HardcodedViewNet(nn.Module):
    """Flattens with a hard-coded channel count: a width multiplier cannot apply."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.conv(x).mean(dim=(2, 3)).view(-1, 16))


@pytest.fixture
def one_thread():
    """Pin torch to one thread (CI runs two workers on two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def user_cnn():
    torch.manual_seed(0)
    return UserCNN()
