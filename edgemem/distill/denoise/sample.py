"""Sampling from a trained noise predictor, with progress, and PNG grids of the samples.

``generate`` starts from seeded Gaussian noise (the same starting noise for every model of a run,
so their grids are comparable image by image) and runs ``steps`` reverse steps of the schedule
(``ddim`` or ``ddpm``) in batches; ``progress.step`` is called after every reverse step of every
batch. ``save_grid`` writes images in [-1, 1] as one PNG (matplotlib's image writer, no pyplot).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch


@torch.no_grad()
def generate(model, schedule, count: int, image_shape, steps: int, method: str = "ddim", seed: int = 0,
             batch_size: int = 256, progress=None, name: str = "sampling", device=None) -> torch.Tensor:
    """``count`` images (count x C x H x W in [-1, 1]) from ``model``."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    timesteps = schedule.timesteps(steps)
    batches = math.ceil(count / batch_size) if count else 0
    if progress is not None:
        progress.phase(name, 1, batches * len(timesteps))
    generator = torch.Generator().manual_seed(20_011 + seed)
    images = []
    try:
        for start in range(0, count, batch_size):
            n = min(batch_size, count - start)
            x = torch.randn((n, *image_shape), generator=generator).to(device)
            for index, t in enumerate(timesteps):
                t_prev = timesteps[index + 1] if index + 1 < len(timesteps) else -1
                eps = model(x, torch.full((n,), float(t), device=device))
                x = schedule.step(x, t, t_prev, eps, method, generator)
                if progress is not None:
                    progress.step(1, float(t))
            images.append(x.clamp(-1, 1).cpu())
    finally:
        if progress is not None:
            progress.phase_end()
        model.train(was_training)
    return torch.cat(images) if images else torch.empty((0, *image_shape))


def grid_image(images: torch.Tensor, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """H x W x C uint8 mosaic of images in [-1, 1] (N x C x H x W), ``pad`` white pixels between them."""
    n, c, h, w = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, dtype=np.uint8)
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i in range(n):
        r, col = divmod(i, columns)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = pixels[i]
    return canvas


def save_grid(images: torch.Tensor, path: str | Path, columns: int | None = None) -> Path:
    """Write ``images`` as one PNG grid; returns the path."""
    from matplotlib import image as mpimg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = grid_image(images, columns)
    if canvas.shape[2] == 1:
        mpimg.imsave(path, canvas[:, :, 0], cmap="gray", vmin=0, vmax=255)
    else:
        mpimg.imsave(path, canvas)
    return path
