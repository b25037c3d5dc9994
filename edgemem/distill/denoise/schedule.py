"""The DDPM noise schedule (Ho et al. 2020): linear betas, forward noising and the reverse steps.

``q_sample(x0, t, noise) = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``; the model predicts the
noise (``mean_type = epsilon``). Sampling walks ``steps`` evenly spaced timesteps of the T: with
``ddpm`` (ancestral sampling of the respaced chain with its posterior variance, the reference's
``fixedsmall``) or ``ddim`` (eta = 0, deterministic, Song et al. 2021). x0 predictions are clipped
to [-1, 1] as the reference sampler does.
"""

from __future__ import annotations

import torch


class NoiseSchedule:
    def __init__(self, num_timesteps: int = 1000, beta_1: float = 1e-4, beta_T: float = 0.02) -> None:
        self.num_timesteps = num_timesteps
        betas = torch.linspace(beta_1, beta_T, num_timesteps, dtype=torch.float64)
        self.alphas_bar = torch.cumprod(1.0 - betas, dim=0)

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return values.to(like.device)[t.long()].float().view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t for clean images ``x0`` at integer timesteps ``t``."""
        return self._at(self.alphas_bar.sqrt(), t, x0) * x0 + self._at((1 - self.alphas_bar).sqrt(), t, x0) * noise

    def timesteps(self, steps: int) -> list[int]:
        """``steps`` timesteps from T-1 down to 0, evenly spaced."""
        steps = max(1, min(int(steps), self.num_timesteps))
        grid = torch.linspace(0, self.num_timesteps - 1, steps).round().long().unique()
        return [int(t) for t in reversed(grid.tolist())]

    def step(self, x_t: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor, method: str,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """One reverse step from timestep ``t`` to ``t_prev`` (-1: the end, clean images)."""
        abar = float(self.alphas_bar[t])
        abar_prev = float(self.alphas_bar[t_prev]) if t_prev >= 0 else 1.0
        x0 = ((x_t - (1 - abar) ** 0.5 * eps) / abar ** 0.5).clamp(-1, 1)
        if method == "ddim":
            eps = (x_t - abar ** 0.5 * x0) / (1 - abar) ** 0.5  # the noise consistent with the clipped x0
            return abar_prev ** 0.5 * x0 + (1 - abar_prev) ** 0.5 * eps
        beta = 1 - abar / abar_prev  # the respaced chain's beta
        mean = (abar_prev ** 0.5 * beta / (1 - abar)) * x0 + ((1 - beta) ** 0.5 * (1 - abar_prev) / (1 - abar)) * x_t
        if t_prev < 0:
            return mean
        variance = beta * (1 - abar_prev) / (1 - abar)
        noise = torch.randn(x_t.shape, generator=generator).to(x_t.device)
        return mean + variance ** 0.5 * noise
