"""Small helpers the zoo families share: channel-dim handling and weight initialisation."""

from __future__ import annotations

import torch
from torch import nn


def add_channel_dim(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """Accept inputs without a channel axis: (N, L) for 1-D models, (N, H, W) for 2-D ones."""
    if x.dim() == spatial_dims + 1:
        return x.unsqueeze(1)
    return x


def conv_nd(spatial_dims: int) -> type[nn.Module]:
    return {1: nn.Conv1d, 2: nn.Conv2d}[spatial_dims]


def batchnorm_nd(spatial_dims: int) -> type[nn.Module]:
    return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[spatial_dims]


def adaptive_avgpool_nd(spatial_dims: int) -> type[nn.Module]:
    return {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d}[spatial_dims]


def kaiming_init(model: nn.Module, mode: str = "fan_out") -> None:
    """He initialisation for convolutions, unit/zero for norms, zero bias for linear layers."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode=mode, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
