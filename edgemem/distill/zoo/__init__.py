"""Teachers built in code, no downloads: one file per family, one table from name to factory.

``ZOO`` maps every listed name to a factory ``factory(num_classes=10, in_channels=3, **kwargs)``;
``build_model`` also accepts the open-ended forms ``wrn-<d>-<k>[-bottle]`` and CIFAR
``resnet<6n+2>``. ``default_input_shape`` gives the batch-1 input each model is meant for.
"""

from __future__ import annotations

import difflib
import re
from typing import Callable

from edgemem.errors import ConfigError

from edgemem.distill.zoo import cifar_resnet, ddpm, imagenet_resnet, mobilenetv2, resnet_mini, vgg, vit, wrn

Factory = Callable[..., "object"]

ZOO: dict[str, Factory] = {
    **cifar_resnet.NAMES,
    **wrn.NAMES,
    **imagenet_resnet.NAMES,
    **mobilenetv2.NAMES,
    **vgg.NAMES,
    **vit.NAMES,
    **resnet_mini.NAMES,
}

_INPUT_SHAPES: dict[str, tuple[int, ...]] = {
    **{name: cifar_resnet.INPUT_SHAPE for name in cifar_resnet.NAMES},
    **{name: wrn.INPUT_SHAPE for name in wrn.NAMES},
    **{name: imagenet_resnet.INPUT_SHAPE for name in imagenet_resnet.NAMES},
    **mobilenetv2.INPUT_SHAPES,
    **{name: vgg.INPUT_SHAPE for name in vgg.NAMES},
    **{name: vit.INPUT_SHAPE for name in vit.NAMES},
    **resnet_mini.INPUT_SHAPES,
}
_DEFAULT_IN_CHANNELS = {"resnet-mini": 1, "resnet1d": 1}
# noise predictors forward(x, t) for --task denoise (edgemem.distill.denoise), factory(in_channels=3, **kwargs)
DENOISERS: dict[str, Factory] = dict(ddpm.NAMES)
_CIFAR_RESNET = re.compile(r"^resnet(\d+)$")


def _resolve(name: str) -> tuple[Factory, tuple[int, ...]]:
    key = name.strip().lower()
    if key in ZOO:
        return ZOO[key], _INPUT_SHAPES[key]
    factory = wrn.wrn_from_name(key)
    if factory is not None:
        return factory, wrn.INPUT_SHAPE
    match = _CIFAR_RESNET.match(key)
    if match and int(match.group(1)) >= 8 and (int(match.group(1)) - 2) % 6 == 0:
        return cifar_resnet.cifar_resnet(int(match.group(1))), cifar_resnet.INPUT_SHAPE
    if key in DENOISERS:
        raise ConfigError(f"{name!r} is a denoiser (a DDPM noise predictor), not a classifier", hint="use --task denoise")
    close = difflib.get_close_matches(key, ZOO, n=3, cutoff=0.6)
    raise ConfigError(
        f"unknown model {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""),
        hint=f"zoo names: {', '.join(sorted(ZOO))}; also wrn-<depth>-<width>[-bottle] and CIFAR resnet<6n+2>, "
             "or package.module:factory for your own model",
    )


def build_model(name: str, num_classes: int = 10, in_channels: int | None = None, **kwargs):
    """Build zoo model ``name``. ``in_channels=None`` uses the family's default (3; 1 for resnet-mini/resnet1d)."""
    factory, _ = _resolve(name)
    if in_channels is None:
        in_channels = _DEFAULT_IN_CHANNELS.get(name.strip().lower(), 3)
    try:
        return factory(num_classes=num_classes, in_channels=in_channels, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"cannot build {name!r}: {' '.join(str(exc).split())}") from None


def default_input_shape(name: str, in_channels: int | None = None) -> tuple[int, ...]:
    """The batch-1 input shape model ``name`` is meant for, e.g. (1, 3, 32, 32) or (1, 1, 40)."""
    _, shape = _resolve(name)
    if in_channels is not None:
        shape = (shape[0], in_channels, *shape[2:])
    return tuple(shape)


__all__ = ["DENOISERS", "ZOO", "build_model", "default_input_shape"]
