"""Where a network downsamples: its stem and its later downsampling events, read from a trace.

The stem is the first convolution that runs. Pooling layers that run after it and before any
other convolution or linear layer (ResNet's max-pool) belong to the stem. Every later leaf module
with a ``stride`` attribute whose output is spatially smaller than its input downsamples; leaves
reading the same resolution form one event (a block's strided conv and its strided shortcut).
An event's ``block`` is the smallest enclosing module that makes the same resolution step and
holds another convolution (``layer2.0`` for ResNet, the inverted-residual body for MobileNetV2):
ReDistill's RED points are that block's input and output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from edgemem.distill.students.probe import Trace
from edgemem.errors import ConfigError

CONV_TYPES = (nn.Conv1d, nn.Conv2d)
WEIGHTED_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
POOL_TYPES = (nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)
GLOBAL_POOL_TYPES = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)


@dataclass(frozen=True)
class Event:
    modules: tuple[str, ...]  # strided leaves that read the same resolution
    stride: int
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]
    block: str


@dataclass(frozen=True)
class StrideMap:
    spatial_dims: int
    stem: str
    stem_stride: int
    stem_pools: tuple[tuple[str, int], ...]  # (path, stride) of pooling layers folded into the stem
    events: tuple[Event, ...]
    final_size: tuple[int, ...]  # resolution of the last spatial layer before global pooling

    @property
    def stem_total_stride(self) -> int:
        return self.stem_stride * math.prod(s for _, s in self.stem_pools)

    @property
    def total_stride(self) -> int:
        return self.stem_total_stride * math.prod(e.stride for e in self.events)


def stride_value(module: nn.Module, path: str) -> int:
    """The module's stride as one int; anisotropic strides are refused."""
    stride = getattr(module, "stride", 1)
    values = set(stride) if isinstance(stride, (tuple, list)) else {stride}
    if len(values) != 1:
        raise ConfigError(f"{path} has anisotropic stride {tuple(stride)}; aggressive pooling needs the same stride in every spatial dimension")
    return int(values.pop())


def spatial(shape, spatial_dims: int):
    if shape is None or len(shape) != spatial_dims + 2:
        return None
    return tuple(shape[2:])


def _weighted_leaves(model: nn.Module, trace: Trace) -> list[str]:
    modules = dict(model.named_modules())
    return [c.path for c in trace.leaves() if isinstance(modules[c.path], WEIGHTED_TYPES)]


def find_block(model: nn.Module, trace: Trace, members: tuple[str, ...], spatial_dims: int) -> str:
    """Smallest module around ``members`` that makes their resolution step and holds another conv."""
    parts = [p.split(".") for p in members]
    common = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        common.append(level[0])
    candidate = ".".join(common)
    if not candidate:  # members in different top-level modules: the first one stands for the event
        candidate = members[0]
    step = (spatial(trace.calls[members[0]].in_shape, spatial_dims), spatial(trace.calls[members[0]].out_shape, spatial_dims))
    weighted = set(_weighted_leaves(model, trace)) - set(members)
    while True:
        inside = any(w == candidate or w.startswith(candidate + ".") for w in weighted)
        parent = candidate.rsplit(".", 1)[0] if "." in candidate else ""
        if inside or not parent or parent not in trace.calls:
            return candidate
        call = trace.calls[parent]
        if (spatial(call.in_shape, spatial_dims), spatial(call.out_shape, spatial_dims)) != step:
            return candidate
        candidate = parent


def map_strides(model: nn.Module, trace: Trace) -> StrideMap:
    """Read the stem, stem pools and downsampling events of ``model`` from ``trace``."""
    modules = dict(model.named_modules())
    leaves = trace.leaves()
    convs = [c for c in leaves if isinstance(modules[c.path], CONV_TYPES)]
    if not convs:
        raise ConfigError(f"{type(model).__name__} has no Conv1d/Conv2d layer; aggressive pooling moves downsampling into the first convolution")
    stem = convs[0]
    dims = modules[stem.path].weight.dim() - 2
    stem_pools: list[tuple[str, int]] = []
    events: list[Event] = []
    groups: dict[tuple, list[str]] = {}
    weighted_seen = False
    final_size = spatial(stem.out_shape, dims)
    for call in leaves:
        module = modules[call.path]
        size_in, size_out = spatial(call.in_shape, dims), spatial(call.out_shape, dims)
        if call.start <= stem.start or size_in is None or size_out is None:
            continue
        if not isinstance(module, GLOBAL_POOL_TYPES):
            if any(o > i for o, i in zip(size_out, size_in)):
                raise ConfigError(f"{call.path} ({call.type_name}) upsamples {size_in} -> {size_out}; aggressive pooling handles networks that only downsample")
            final_size = size_out
        strided = hasattr(module, "stride") and not isinstance(module, GLOBAL_POOL_TYPES) and size_out != size_in and stride_value(module, call.path) > 1
        if strided and isinstance(module, POOL_TYPES) and not weighted_seen:
            stem_pools.append((call.path, stride_value(module, call.path)))
        elif strided:
            groups.setdefault(size_in, []).append(call.path)
        if isinstance(module, WEIGHTED_TYPES):
            weighted_seen = True
    for size_in, members in groups.items():
        strides = {stride_value(modules[p], p) for p in members}
        if len(strides) != 1:
            raise ConfigError(f"{', '.join(members)} read the same resolution with different strides {sorted(strides)}")
        out = spatial(trace.calls[members[0]].out_shape, dims)
        events.append(Event(tuple(members), strides.pop(), size_in, out, find_block(model, trace, tuple(members), dims)))
    return StrideMap(dims, stem.path, stride_value(modules[stem.path], stem.path), tuple(stem_pools), tuple(events), final_size)
