"""Stems of pooled students: how the stem takes the extra stride k (``StudentSpec.stem``).

* ``strided`` (ReDistill's rule): the stem convolution's stride grows. A 3x3 convolution at stride 4
  reads 3 of every 4 rows and columns: 7 of every 16 pixels never reach the network.
* ``patchify``: the stem convolution followed by an m x m average pool, written as one convolution
  of stride ``s * m`` and kernel ``K + (m - 1) * s`` (s, K: the stem's own stride and kernel), which
  reads every pixel. Its weights start as that composition of the stem's weights with the box
  filter, so a stem initialised from the teacher computes the teacher stem's output averaged over
  each m x m cell (before its BatchNorm). Same input and output tensors as the strided stem, so
  the same peak; the weights grow from ``K^2`` to ``(K + (m-1) s)^2`` per channel pair (ResNet-20
  x4: 432 -> 1,728 parameters).
* ``patchify_sampled``: the same convolution, initialised as the strided stem (its 3x3 taps in the
  first corner of the larger kernel, the others zero): the student starts as the strided one and
  training can learn to read the pixels it skipped.
"""

from __future__ import annotations

import torch
from torch import nn

from edgemem.errors import ConfigError

STEMS = ("strided", "patchify", "patchify_sampled")  # stem name -> patchify init: PATCHIFY_INIT
PATCHIFY_INIT = {"patchify": "average", "patchify_sampled": "sampled"}


def _single(value, what: str, path: str) -> int:
    values = set(value) if isinstance(value, (tuple, list)) else {value}
    if len(values) != 1:
        raise ConfigError(f"patchify stem: {path} has anisotropic {what} {tuple(value)}")
    return int(values.pop())


def patchify_conv(conv: nn.Module, factor: int, path: str, init: str = "average") -> nn.Module:
    """A convolution of stride ``s * factor`` whose kernel covers every pixel, initialised from
    ``conv``'s weights: ``average`` = ``conv`` followed by a ``factor`` x ``factor`` average pool;
    ``sampled`` = ``conv`` at stride ``s * factor`` (the strided stem), the other taps zero."""
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ConfigError(f"patchify stem: {path} needs integer zero padding, not {conv.padding!r}/{conv.padding_mode}",
                          hint="use the strided stem")
    if _single(conv.dilation, "dilation", path) != 1:
        raise ConfigError(f"patchify stem: {path} is dilated", hint="use the strided stem")
    stride = _single(conv.stride, "stride", path)
    kernel = _single(conv.kernel_size, "kernel", path)
    padding = _single(conv.padding, "padding", path)
    dims = conv.weight.dim() - 2
    size = kernel + (factor - 1) * stride
    new = type(conv)(conv.in_channels, conv.out_channels, size, stride * factor, padding, groups=conv.groups,
                     bias=conv.bias is not None).to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        weight = torch.zeros_like(new.weight)
        cells = _offsets(factor, dims) if init == "average" else [(0,) * dims]
        for offsets in cells:
            window = tuple(slice(o * stride, o * stride + kernel) for o in offsets)
            weight[(Ellipsis, *window)] += conv.weight / len(cells)
        new.weight.copy_(weight)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def _offsets(factor: int, dims: int) -> list[tuple[int, ...]]:
    if dims == 1:
        return [(a,) for a in range(factor)]
    return [(a, b) for a in range(factor) for b in range(factor)]
