"""The ``[denoise]`` settings of a run config (``--task denoise``; standard library only).

The noise schedule is ReDistill's CIFAR-10 one (T = 1000, betas 1e-4 .. 0.02, linear). Training
is Adam with a linear warm-up, gradient clipping and an exponential moving average of the weights
(the reference: lr 2e-4, warm-up 5,000 steps, clip 1.0, EMA 0.9999 over 800k steps; the defaults
here are scaled to runs of a few thousand steps). ``[train]`` still gives batch_size, threads,
device, eval_batch_size and divergence_factor; ``--epochs`` / ``--teacher-epochs`` count passes
over the training images.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.errors import ConfigError

SAMPLERS = ("ddim", "ddpm")


@dataclass(frozen=True)
class DenoiseOptions:
    num_timesteps: int = 1000  # T of the forward process
    beta_1: float = 1e-4
    beta_T: float = 0.02
    lr: float = 2e-4  # Adam
    warmup_steps: int = 200  # linear learning-rate warm-up (reference: 5,000 of 800k)
    grad_clip: float = 1.0  # max gradient norm
    ema_decay: float = 0.999  # EMA of the weights; the EMA model is evaluated, sampled and exported (0: off)
    gt_weight: float | None = None  # weight of MSE(eps_student, true noise); None: the method's default
    kd_weight: float | None = None  # weight of MSE(eps_student, eps_teacher)
    red_weight: float | None = None  # weight of the RED feature loss (mean cosine distance of channel-mean maps)
    eval_draws: int = 4  # held-out loss: (timestep, noise) draws per held-out image, fixed by the seed
    sampler: str = "ddim"  # ddim (deterministic) | ddpm (ancestral)
    sample_steps: int = 100  # reverse steps when sampling (of the T)
    num_samples: int = 256  # images sampled per model for the quality figure (0: no sampling)
    grid_samples: int = 64  # of which this many go into OUT/<model>/samples.png
    quality_epochs: int = 8  # epochs of the feature extractor (a classifier trained on the training images)


def validate_denoise(options: DenoiseOptions) -> DenoiseOptions:
    checks = [
        (options.num_timesteps >= 2, "num_timesteps must be >= 2"),
        (0 < options.beta_1 < options.beta_T < 1, "betas must satisfy 0 < beta_1 < beta_T < 1"),
        (options.lr > 0, "lr must be positive"),
        (options.warmup_steps >= 0, "warmup_steps must be >= 0"),
        (options.grad_clip > 0, "grad_clip must be positive"),
        (0 <= options.ema_decay < 1, "ema_decay must be in [0, 1)"),
        (all(w is None or w >= 0 for w in (options.gt_weight, options.kd_weight, options.red_weight)),
         "loss weights must be >= 0"),
        (options.eval_draws >= 1, "eval_draws must be >= 1"),
        (options.sampler in SAMPLERS, f"sampler {options.sampler!r}: choose {' or '.join(SAMPLERS)}"),
        (1 <= options.sample_steps <= options.num_timesteps, "sample_steps must be in [1, num_timesteps]"),
        (options.num_samples >= 0, "num_samples must be >= 0"),
        (0 <= options.grid_samples, "grid_samples must be >= 0"),
        (options.quality_epochs >= 1, "quality_epochs must be >= 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"[denoise] {message}")
    return options
