"""Batch augmentations, one function per name, every random draw from the generator passed in.

* ``crop_flip`` (CIFAR, image folders): zero-pad by size/8 (at least 1; zero is the mean after
  standardisation), random crop back to the original size, random horizontal flip. On 1-D
  signals: the same pad-and-crop along the length, no flip.
* ``shift`` (digits): circular roll by -1, 0 or +1 along every spatial axis.
* ``none``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_batch(x: torch.Tensor, name: str, generator: torch.Generator) -> torch.Tensor:
    try:
        function = AUGMENTATIONS[name]
    except KeyError:
        raise ValueError(f"unknown augmentation {name!r}; known: {', '.join(AUGMENTATIONS)}") from None
    return function(x, generator)


def no_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return x


def crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random pad-and-crop (every spatial axis) then, for images, a random horizontal flip."""
    spatial = x.shape[2:]
    pads = [max(1, size // 8) for size in spatial]
    padding = [p for pad in reversed(pads) for p in (pad, pad)]
    padded = F.pad(x, padding)
    offsets = [torch.randint(0, 2 * pad + 1, (x.shape[0],), generator=generator) for pad in pads]
    out = _gather(padded, [off[:, None] + torch.arange(size) for off, size in zip(offsets, spatial)])
    if x.dim() == 4:
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    return out


def shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Circular roll by -1, 0 or +1 pixels along each spatial axis, independently per example."""
    spatial = x.shape[2:]
    indices = []
    for size in spatial:
        step = torch.randint(-1, 2, (x.shape[0],), generator=generator)
        indices.append((torch.arange(size)[None, :] - step[:, None]) % size)
    return _gather(x, indices)


def _gather(x: torch.Tensor, indices: list[torch.Tensor]) -> torch.Tensor:
    """out[n, c, i, j] = x[n, c, rows[n, i], cols[n, j]] (or the 1-D analogue)."""
    n = torch.arange(x.shape[0])
    if len(indices) == 1:
        (cols,) = indices
        picked = x.permute(0, 2, 1)[n[:, None], cols]  # N x L x C
        return picked.permute(0, 2, 1).contiguous()
    rows, cols = indices
    picked = x.permute(0, 2, 3, 1)[n[:, None, None], rows[:, :, None], cols[:, None, :]]  # N x H x W x C
    return picked.permute(0, 3, 1, 2).contiguous()


AUGMENTATIONS = {"none": no_augment, "crop_flip": crop_flip, "shift": shift}
