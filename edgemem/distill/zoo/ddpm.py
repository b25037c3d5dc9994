"""A DDPM U-Net noise predictor (Ho et al. 2020) with ReDistill's per-level pooling strides.

``eps = UNet(x_t, t)``: ``x_t`` a noisy image batch (N x C x H x W), ``t`` its diffusion
timesteps as a float tensor (N,). The timestep embedding is sinusoidal, computed from ``t`` in the
forward pass (no table in the weights), then Linear -> SiLU -> Linear. ``levels`` = len(ch_mult)
resolution levels of ``num_res_blocks`` residual blocks (GroupNorm -> SiLU -> 3x3 conv, plus the
projected time embedding; self-attention in the levels listed in ``attn``), a middle of two
blocks, and the mirrored up path with skip concatenations.

``pool_strides`` (ReDistill's ``pipeline_ddpm/model/model.py`` parameterisation): entry 0 is the
stride of the ``head`` convolution, entry i > 0 the stride of the downsampling between level i-1
and i. Downsampling is a 3x3 convolution at that stride; the up path mirrors it with transposed
convolutions of kernel = stride (``tail`` included), so stride 1 steps keep the resolution.
Teacher ``[1, 2, 2, 2]`` runs its levels at 32/16/8/4 on CIFAR; ReDistill's x2 student
``[2, 2, 2, 1]`` at 16/8/4/4: every tensor of the first three levels has a quarter of the
elements, which is the 4x lower theoretical peak.

Two options the student derivation sets (students/denoiser.py): ``stem = "shuffle"`` makes a
strided head space-to-depth + 3x3 conv and the output 3x3 conv + depth-to-space (every pixel kept);
``time_recompute`` has every block compute the timestep embedding from ``t`` where it uses it, so no
time tensor but ``t`` stays live across the peak (same function, a test checks equality).

``ddpm-unet`` is ReDistill's CIFAR-10 configuration (ch 128, ch_mult [1, 2, 2, 2], attention at
level 1, 2 residual blocks, dropout 0.1: 34,760,195 parameters, 34,564,739 for the x2 student,
whose transposed convolutions have other kernels); ``ddpm-unet-small`` (ch 32, one block per
level: 1,463,203) is what trains on a CPU; ``ddpm-unet-tiny`` is for tests.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding (N, dim) of float timesteps (N,): [sin(t f_i), cos(t f_i)], f_i = 10000^(-2i/dim)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device) * (-math.log(10000.0) / half))
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class TimeEmbedding(nn.Module):
    def __init__(self, ch: int, tdim: int) -> None:
        super().__init__()
        self.ch = ch
        self.mlp = nn.Sequential(nn.Linear(ch, tdim), nn.SiLU(), nn.Linear(tdim, tdim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.ch))


class AttnBlock(nn.Module):
    """Single-head self-attention over the H*W positions, residual."""

    def __init__(self, ch: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, ch * 3, 1)
        self.proj = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).unbind(1)
        attn = torch.softmax((q.transpose(1, 2) @ k) * (c ** -0.5), dim=-1)  # N x HW x HW
        out = (v @ attn.transpose(1, 2)).reshape(n, c, h, w)
        return x + self.proj(out)


class ResBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, tdim: int, dropout: float, attn: bool, groups: int) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.GroupNorm(groups, in_ch), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.temb_proj = nn.Sequential(nn.SiLU(), nn.Linear(tdim, out_ch))
        self.block2 = nn.Sequential(nn.GroupNorm(groups, out_ch), nn.SiLU(), nn.Dropout(dropout),
                                    nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else nn.Identity()
        self.attn = AttnBlock(out_ch, groups) if attn else nn.Identity()

    def forward(self, x: torch.Tensor, temb) -> torch.Tensor:
        """``temb``: the time embedding, or a function computing it (recomputed here, after block1).
        The shortcut runs first, so ``x`` is free once block1 has normalised it (same result)."""
        skip = self.shortcut(x)
        h = self.block1(x)
        h = h + self.temb_proj(temb() if callable(temb) else temb)[:, :, None, None]
        return self.attn(self.block2(h) + skip)


class DownSample(nn.Module):
    def __init__(self, ch: int, stride: int) -> None:
        super().__init__()
        self.main = nn.Conv2d(ch, ch, 3, stride=stride, padding=1)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class UpSample(nn.Module):
    def __init__(self, ch: int, stride: int) -> None:
        super().__init__()
        self.main = nn.ConvTranspose2d(ch, ch, stride, stride=stride)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class UNet(nn.Module):
    """Noise predictor ``forward(x, t)``; see the module docstring for the parameters."""

    edgemem_task = "denoise"

    def __init__(self, in_channels: int = 3, ch: int = 128, ch_mult=(1, 2, 2, 2), attn=(1,), num_res_blocks: int = 2,
                 dropout: float = 0.1, pool_strides=None, groups: int = 32, num_timesteps: int = 1000,
                 stem: str = "conv", time_recompute: bool = False) -> None:
        super().__init__()
        ch_mult, attn = tuple(int(m) for m in ch_mult), tuple(int(a) for a in attn)
        strides = tuple(int(s) for s in pool_strides) if pool_strides is not None else (1,) + (2,) * (len(ch_mult) - 1)
        _check(ch, ch_mult, attn, strides, groups, num_res_blocks)
        if stem not in STEMS:
            raise ValueError(f"stem {stem!r}: choose {', '.join(STEMS)}")
        self.config = {"in_channels": in_channels, "ch": ch, "ch_mult": list(ch_mult), "attn": list(attn),
                       "num_res_blocks": num_res_blocks, "dropout": dropout, "pool_strides": list(strides),
                       "groups": groups, "num_timesteps": num_timesteps, "stem": stem, "time_recompute": time_recompute}
        self.pool_strides = strides
        self.num_timesteps = num_timesteps
        self.time_recompute = bool(time_recompute)
        tdim = ch * 4
        self.time_embedding = TimeEmbedding(ch, tdim)
        self.head = _head(in_channels, ch, strides[0], stem)
        self.downblocks, chs = self._down_path(ch, ch_mult, attn, num_res_blocks, dropout, strides, groups, tdim)
        now = chs[-1]
        self.middleblocks = nn.ModuleList([ResBlock(now, now, tdim, dropout, True, groups),
                                           ResBlock(now, now, tdim, dropout, False, groups)])
        self.upblocks = nn.ModuleList()
        for i, mult in reversed(list(enumerate(ch_mult))):
            for _ in range(num_res_blocks + 1):
                self.upblocks.append(ResBlock(chs.pop() + now, ch * mult, tdim, dropout, i in attn, groups))
                now = ch * mult
            if i != 0:
                self.upblocks.append(UpSample(now, strides[i]))
        self.tail = nn.Sequential(nn.GroupNorm(groups, now), nn.SiLU(), *_tail_output(now, in_channels, strides[0], stem))
        nn.init.zeros_(self.tail[2].weight)  # starts by predicting zero noise (as the DDPM reference's gain 1e-5)
        nn.init.zeros_(self.tail[2].bias)

    @staticmethod
    def _down_path(ch, ch_mult, attn, num_res_blocks, dropout, strides, groups, tdim):
        blocks, chs, now = nn.ModuleList(), [ch], ch
        for i, mult in enumerate(ch_mult):
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(now, ch * mult, tdim, dropout, i in attn, groups))
                now = ch * mult
                chs.append(now)
            if i != len(ch_mult) - 1:
                blocks.append(DownSample(now, strides[i + 1]))
                chs.append(now)
        return blocks, chs

    @property
    def total_stride(self) -> int:
        return math.prod(self.pool_strides)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.time_recompute:  # every block computes the embedding from t when it needs it (nothing lives between blocks)
            def temb():
                return self.time_embedding(t)
        else:
            temb = self.time_embedding(t)
        h = self.head(x)
        skips = [h]
        for layer in self.downblocks:
            h = layer(h, temb)
            skips.append(h)
        for layer in self.middleblocks:
            h = layer(h, temb)
        for layer in self.upblocks:
            if isinstance(layer, ResBlock):
                h = torch.cat([h, skips.pop()], dim=1)
            h = layer(h, temb)
        return self.tail(h)


STEMS = ("conv", "shuffle")


def _head(in_channels: int, ch: int, stride: int, stem: str) -> nn.Module:
    """conv: a 3x3 convolution at the head's stride; shuffle: space-to-depth by the stride, then a 3x3 convolution."""
    if stem == "shuffle" and stride > 1:
        return nn.Sequential(nn.PixelUnshuffle(stride), nn.Conv2d(in_channels * stride * stride, ch, 3, padding=1))
    return nn.Conv2d(in_channels, ch, 3, stride=stride, padding=1)


def _tail_output(ch: int, out_channels: int, stride: int, stem: str) -> list[nn.Module]:
    """conv: a transposed convolution of kernel = stride; shuffle: a 3x3 convolution predicting the stride x stride
    sub-pixels of every output pixel, then depth-to-space."""
    if stem == "shuffle" and stride > 1:
        return [nn.Conv2d(ch, out_channels * stride * stride, 3, padding=1), nn.PixelShuffle(stride)]
    return [nn.ConvTranspose2d(ch, out_channels, stride, stride=stride)]


def _check(ch, ch_mult, attn, strides, groups, num_res_blocks) -> None:
    if not ch_mult or len(strides) != len(ch_mult):
        raise ValueError(f"pool_strides {list(strides)} needs one entry per level of ch_mult {list(ch_mult)}")
    if any(s < 1 for s in strides) or num_res_blocks < 1:
        raise ValueError("pool strides and num_res_blocks must be >= 1")
    if any(a < 0 or a >= len(ch_mult) for a in attn):
        raise ValueError(f"attention levels {list(attn)} are outside the {len(ch_mult)} levels")
    if any((ch * m) % groups for m in (1, *ch_mult)):
        raise ValueError(f"GroupNorm groups {groups} do not divide every channel count of ch {ch} x {list(ch_mult)}")


def ddpm_unet(in_channels: int = 3, **kwargs) -> UNet:
    """ReDistill's CIFAR-10 DDPM U-Net: ch 128, ch_mult [1,2,2,2], attention at level 1, 2 blocks, dropout 0.1."""
    return UNet(in_channels=in_channels, **kwargs)


def ddpm_unet_small(in_channels: int = 3, **kwargs) -> UNet:
    """The same U-Net at CPU scale: ch 32, one residual block per level, GroupNorm of 8 groups."""
    options = {"ch": 32, "num_res_blocks": 1, "groups": 8, "dropout": 0.1, **kwargs}
    return UNet(in_channels=in_channels, **options)


def ddpm_unet_tiny(in_channels: int = 3, **kwargs) -> UNet:
    """Test-size U-Net: ch 8, two levels ([1, 2]), one block, attention at level 1."""
    options = {"ch": 8, "ch_mult": (1, 2), "num_res_blocks": 1, "groups": 4, "dropout": 0.0, **kwargs}
    return UNet(in_channels=in_channels, **options)


NAMES = {"ddpm-unet": ddpm_unet, "ddpm-unet-small": ddpm_unet_small, "ddpm-unet-tiny": ddpm_unet_tiny}
INPUT_SHAPE = (1, 3, 32, 32)
