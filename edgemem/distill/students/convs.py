"""Swap the teacher's dense k x k convolutions for a cheap convolution (module surgery).

Following Moonshine, every dense (groups == 1) convolution with a kernel larger than 1 that runs
after the stem is replaced; the stem and 1x1 convolutions (projection shortcuts, pointwise
layers) stay standard. Depthwise and grouped convolutions are already cheap and stay as they are.
"""

from __future__ import annotations

from torch import nn

from edgemem.distill.students.cheap import cheap_factory, is_replaceable
from edgemem.distill.students.probe import Trace
from edgemem.distill.students.strides import CONV_TYPES
from edgemem.errors import ConfigError


def replace_module(model: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, new)


def replaceable_convs(model: nn.Module, trace: Trace) -> list[str]:
    """Paths of the dense k x k convolutions that run after the stem, in execution order."""
    modules = dict(model.named_modules())
    convs = [c.path for c in trace.leaves() if isinstance(modules[c.path], CONV_TYPES)]
    return [p for p in convs[1:] if is_replaceable(modules[p])]


def apply_cheap_conv(model: nn.Module, conv_name: str, trace: Trace, model_name: str) -> list[str]:
    """Replace every replaceable conv of ``model`` in place; returns the replaced paths."""
    factory = cheap_factory(conv_name)
    paths = replaceable_convs(model, trace)
    if not paths:
        raise ConfigError(
            f"conv {conv_name!r} does not apply to {model_name}: it has no dense k x k convolution after its stem "
            "(its convolutions are already depthwise/grouped or 1x1)"
        )
    modules = dict(model.named_modules())
    for path in paths:
        conv = modules[path]
        replace_module(model, path, factory(conv, path).to(device=conv.weight.device, dtype=conv.weight.dtype))
    return paths
