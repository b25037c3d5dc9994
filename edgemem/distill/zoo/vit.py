"""Small Vision Transformers (Dosovitskiy et al. 2021) for 32x32 images, plain or in stages.

Patch embedding by a strided conv (``patch_embed``: kernel ``patch_size``, stride
``patch_stride``, default the same), a class token and learned positional embeddings, pre-norm
blocks (multi-head self-attention written with plain Linear and matmul ops so it exports to ONNX
as ordinary ops, then a GELU MLP), a final LayerNorm and a linear ``head`` on the class token.

With ``stages`` (block counts per stage) and ``token_strides`` (one per stage boundary) the
blocks are separated by ``TokenPool`` modules that average-pool the patch tokens on their grid,
as in pooling-based ViTs (PiT): the token count, and with it the memory of every later block,
drops by stride^2. The forward reads every grid size from the tensors, so a derived student with
a larger patch stride (edgemem.distill.students.vit) runs the same code.

| name | patch | dim | stages (blocks) | token strides | heads | MLP |
|---|---|---|---|---|---|---|
| ``vit-tiny`` | 4 | 192 | 6 | - | 3 | 384 |
| ``vit-mini`` | 4 | 96 | 4 | - | 3 | 192 |
| ``vit-mini-pool`` | 2 | 96 | 2 + 2 | 2 | 3 | 192 |
| ``vit-micro`` (tests) | 4 | 16 | 2 | - | 2 | 32 |
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from edgemem.distill.zoo.common import add_channel_dim


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"ViT dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(n, length, dim))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
    """(N, g*g, D) patch tokens -> (N, D, g, g); the grid is square."""
    n, length, dim = tokens.shape
    side = math.isqrt(length)
    if side * side != length:
        raise ValueError(f"{length} patch tokens do not form a square grid")
    return tokens.transpose(1, 2).reshape(n, dim, side, side)


class TokenPool(nn.Module):
    """Average-pool the patch tokens on their grid by ``stride``; the ``prefix`` tokens (class token) pass through."""

    def __init__(self, stride: int, prefix: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self.prefix = prefix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        grid = tokens_to_grid(x[:, self.prefix:])
        pooled = F.avg_pool2d(grid, self.stride, self.stride, ceil_mode=True).flatten(2).transpose(1, 2)
        return torch.cat([x[:, :self.prefix], pooled], dim=1)


class ViT(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32, patch_size: int = 4,
                 dim: int = 192, depth: int = 6, heads: int = 3, mlp_dim: int = 384, patch_stride: int | None = None,
                 stages=None, token_strides=()) -> None:
        super().__init__()
        stride = patch_stride or patch_size
        stages = tuple(stages) if stages is not None else (depth,)
        if len(tuple(token_strides)) != len(stages) - 1:
            raise ValueError(f"{len(stages)} stages need {len(stages) - 1} token strides, got {list(token_strides)}")
        if image_size < patch_size or (image_size - patch_size) % stride:
            raise ValueError(f"image size {image_size} is not covered by patches of {patch_size} at stride {stride}")
        grid = (image_size - patch_size) // stride + 1
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=stride)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
        layers: list[nn.Module] = []
        for index, count in enumerate(stages):
            if index:
                layers.append(TokenPool(int(token_strides[index - 1])))
            layers += [Block(dim, heads, mlp_dim) for _ in range(count)]
        self.blocks = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(add_channel_dim(x, 2)).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def vit_tiny(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """ViT-tiny for 32x32 inputs (patch 4, dim 192, depth 6, 3 heads)."""
    return ViT(num_classes=num_classes, in_channels=in_channels, **kwargs)


def vit_mini(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """A CPU-sized ViT for 32x32 inputs (patch 4, dim 96, depth 4, 3 heads, MLP 192)."""
    options = {"dim": 96, "depth": 4, "heads": 3, "mlp_dim": 192, **kwargs}
    return ViT(num_classes=num_classes, in_channels=in_channels, **options)


def vit_mini_pool(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """``vit-mini`` in two stages: patch 2 (16x16 tokens), 2 blocks, token pool 2 (8x8), 2 blocks."""
    options = {"patch_size": 2, "dim": 96, "heads": 3, "mlp_dim": 192, "stages": (2, 2), "token_strides": (2,), **kwargs}
    return ViT(num_classes=num_classes, in_channels=in_channels, **options)


def vit_micro(num_classes: int = 10, in_channels: int = 3, **kwargs) -> nn.Module:
    """Test-size ViT (patch 4, dim 16, depth 2, 2 heads)."""
    options = {"dim": 16, "depth": 2, "heads": 2, "mlp_dim": 32, **kwargs}
    return ViT(num_classes=num_classes, in_channels=in_channels, **options)


NAMES = {"vit-tiny": vit_tiny, "vit-mini": vit_mini, "vit-mini-pool": vit_mini_pool, "vit-micro": vit_micro}
INPUT_SHAPE = (1, 3, 32, 32)
