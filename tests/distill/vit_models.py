"""User ViTs for the ViT-student tests (``tests.distill.vit_models:factory`` as a teacher spec):
other module names than the zoo's, a timm-like layout, 8x8 digits-sized inputs."""

from __future__ import annotations

import torch
from torch import nn


class Mixer(nn.Module):
    """Single-head attention with its own names (nn.MultiheadAttention's fast path does not export to ONNX)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        weights = torch.softmax(q @ k.transpose(1, 2) / q.shape[-1] ** 0.5, dim=-1)
        return self.out(weights @ v)


class UserBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.ln_a = nn.LayerNorm(dim)
        self.mix = Mixer(dim)
        self.ln_b = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.mix(self.ln_a(x))
        return x + self.ff(self.ln_b(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_channels: int, dim: int, patch: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class UserViT(nn.Module):
    """A ViT written like timm's: ``embed.proj``, ``cls``, ``pos``, ``layers``, mean of the tokens as the head input."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 8, patch: int = 2, dim: int = 16,
                 depth: int = 2, hardcoded_grid: bool = False) -> None:
        super().__init__()
        grid = image_size // patch
        self.embed = PatchEmbed(in_channels, dim, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
        self.layers = nn.Sequential(*[UserBlock(dim) for _ in range(depth)])
        self.out_norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)
        self.grid = grid if hardcoded_grid else None

    def forward(self, x):
        if x.dim() == 3:
            x = x.unsqueeze(1)
        tokens = self.embed(x)
        if self.grid is not None:  # a forward that hard-codes its token count
            tokens = tokens.reshape(x.shape[0], self.grid * self.grid, -1)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1) + self.pos
        return self.fc(self.out_norm(self.layers(tokens)).mean(dim=1))


def factory(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    return UserViT(num_classes, in_channels)


def hardcoded(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    return UserViT(num_classes, in_channels, hardcoded_grid=True)


def digits_vit(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """The zoo ViT at digits size (8x8, patch 2, dim 16, 2 blocks, 2 heads)."""
    from edgemem.distill.zoo.vit import ViT

    return ViT(num_classes, in_channels, image_size=8, patch_size=2, dim=16, depth=2, heads=2, mlp_dim=32)
