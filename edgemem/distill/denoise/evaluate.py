"""The held-out denoising loss: mean MSE between predicted and true noise on held-out images (and per timestep band).

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


BAND_EDGES = (0, 10, 30, 100, 200, 400, 700, 1000)  # timestep bands of band_losses (T = 1000)


@torch.no_grad()
def band_losses(model, schedule, images: torch.Tensor, edges=BAND_EDGES, seed: int = 0, batch_size: int = 256) -> list[float]:
    """The held-out noise-prediction MSE in each timestep band [edges[i], edges[i + 1]): one draw
    (timestep uniform in the band, noise) per image and band, from a generator seeded with ``seed``
    alone, so every model sees the same noisy inputs. Shows where two models differ: pixel-level
    noise at small t, near-identity (eps ~ x_t) at large t."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(20_011 + seed)
    losses = []
    for low, high in zip(edges, edges[1:]):
        total = 0.0
        t_all = torch.randint(int(low), int(high), (len(images),), generator=generator)
        noise_all = torch.randn(images.shape, generator=generator)
        for start in range(0, len(images), batch_size):
            t, noise = t_all[start:start + batch_size], noise_all[start:start + batch_size]
            x_t = schedule.q_sample(images[start:start + batch_size], t, noise).to(device)
            total += float(F.mse_loss(model(x_t, t.float().to(device)).cpu(), noise, reduction="sum"))
        losses.append(total / max(noise_all.numel(), 1))
    model.train(was_training)
    return losses
