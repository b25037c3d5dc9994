"""The held-out denoising loss: mean MSE between predicted and true noise on held-out images.

Every held-out image gets ``draws`` (timestep, noise) pairs drawn from a generator seeded with
``seed`` alone, so every model of a run is scored on exactly the same noisy inputs; timesteps are
stratified over [0, T) (draw j of image i falls in stratum (i + j) mod draws of draws equal strata), so few draws
still cover the whole schedule.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def denoising_loss(model, schedule, images: torch.Tensor, draws: int = 4, seed: int = 0, batch_size: int = 256,
                   device=None) -> float:
    """Mean over images and draws of mean-squared noise-prediction error (model in eval mode)."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    generator = torch.Generator().manual_seed(10_007 + seed)
    total, count, T = 0.0, 0, schedule.num_timesteps
    for draw in range(draws):
        for start in range(0, len(images), batch_size):
            x0 = images[start:start + batch_size]
            index = torch.arange(start, start + len(x0))
            stratum = (index + draw) % draws
            u = torch.rand(len(x0), generator=generator)
            t = ((stratum + u) * T / draws).long().clamp(max=T - 1)
            noise = torch.randn(x0.shape, generator=generator)
            x_t = schedule.q_sample(x0, t, noise).to(device)
            eps = model(x_t, t.float().to(device))
            total += float(F.mse_loss(eps.cpu(), noise, reduction="sum"))
            count += noise.numel()
    model.train(was_training)
    return total / max(count, 1)
