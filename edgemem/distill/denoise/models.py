"""Denoiser teachers: a zoo name (``ddpm-unet``, ``ddpm-unet-small``, ``ddpm-unet-tiny``) or your own
``package.module:factory`` / ``file.py:factory`` returning a denoiser (students/denoiser.py says
what that is), optionally with weights from a state dict or checkpoint (read without running code)."""

from __future__ import annotations

from pathlib import Path

from edgemem.errors import ConfigError


def build_denoiser(spec: str, in_channels: int):
    """Build denoiser ``spec`` for images of ``in_channels`` channels."""
    from edgemem.distill.students.denoiser import is_denoiser
    from edgemem.distill.teacher import call_factory, import_factory
    from edgemem.distill.zoo import DENOISERS

    key = spec.strip().lower()
    if ":" in spec:
        model = call_factory(import_factory(spec), spec, None, in_channels)
    elif key in DENOISERS:
        try:
            model = DENOISERS[key](in_channels=in_channels)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"cannot build {spec!r}: {' '.join(str(exc).split())}") from None
    else:
        raise ConfigError(f"--task denoise: {spec!r} is not a denoiser", hint=f"zoo denoisers: {', '.join(DENOISERS)}, "
                          "or package.module:factory returning a module with edgemem_task = 'denoise'")
    if not is_denoiser(model):
        raise ConfigError(f"teacher {spec!r} is not a denoiser: it needs edgemem_task = 'denoise', forward(x, t), "
                          "pool_strides and config (see edgemem.distill.zoo.ddpm.UNet)")
    if not getattr(model, "edgemem_name", None):
        model.edgemem_name = spec
    return model


def load_denoiser(spec: str, in_channels: int, weights: Path | None):
    """Build denoiser ``spec``; load ``weights`` when given (a state dict, or a checkpoint holding one)."""
    from edgemem.distill.teacher import load_weights

    return load_weights(build_denoiser(spec, in_channels), weights, spec)
