"""Split a teacher into the blocks that blockwise distillation replaces, from one traced forward.

* ``conv``: every dense k x k convolution (groups 1, a kernel larger than 1) in execution order,
  the stem included, as the paper does (all 13 convolutions of VGG16; the 16 3x3 convolutions of
  ResNet50). 1x1, depthwise and grouped convolutions are cheap already and stay.
* ``residual``: every residual block: a module that is an element of a ``Sequential`` or
  ``ModuleList`` stage, is not itself a container, holds a convolution and runs once (ResNet
  BasicBlock/Bottleneck, WRN blocks, MobileNetV2 inverted residuals, ResNet-mini blocks). Nested
  candidates count once, as the outermost. VGG-style plain stacks have none: use ``conv``.

A block must run exactly once per forward and take and return a single tensor: its input is the
training input of the replacement and its output the target.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgemem.distill.students.cheap import is_replaceable
from edgemem.distill.students.probe import probe, run_forward
from edgemem.distill.students.strides import CONV_TYPES
from edgemem.errors import ConfigError

CONTAINERS = (nn.Sequential, nn.ModuleList)


@dataclass(frozen=True)
class Block:
    index: int  # position in execution order
    path: str  # module path in the teacher
    kind: str  # conv | residual
    type_name: str
    in_shape: tuple[int, ...]  # batch-1 shapes
    out_shape: tuple[int, ...]

    @property
    def key(self) -> str:
        """Stable name of the block's folder and status entries, e.g. ``003-layers.1.conv1``."""
        return f"{self.index:03d}-{self.path}"


def find_blocks(model: nn.Module, input_shape, granularity: str, model_name: str = "the teacher") -> list[Block]:
    """The blocks of ``model`` at ``granularity`` (conv | residual), in execution order."""
    trace = probe(model, tuple(input_shape))
    modules = dict(model.named_modules())
    if granularity == "conv":
        paths = [c.path for c in trace.leaves() if isinstance(modules[c.path], CONV_TYPES) and is_replaceable(modules[c.path])]
    elif granularity == "residual":
        paths = _residual_blocks(model, trace)
    else:
        raise ConfigError(f"blocks {granularity!r}: choose conv or residual")
    if not paths:
        what = "dense k x k convolution" if granularity == "conv" else "residual block (a module inside a Sequential stage that holds a convolution)"
        raise ConfigError(f"{model_name} has no {what} to replace",
                          hint="use --blocks conv for plain convolution stacks" if granularity == "residual" else None)
    repeated = sorted(p for p in paths if p in trace.repeated)
    if repeated:
        raise ConfigError(f"{model_name}: module {repeated[0]} runs more than once per forward; blockwise training needs "
                          "each block to run once", hint="use the other --blocks granularity, or a model that does not reuse modules")
    _check_single_tensor(model, input_shape, paths, model_name)
    calls = sorted((trace.calls[p] for p in paths), key=lambda c: c.start)
    return [Block(i, c.path, granularity, c.type_name, tuple(c.in_shape), tuple(c.out_shape)) for i, c in enumerate(calls)]


def _residual_blocks(model: nn.Module, trace) -> list[str]:
    candidates = []
    for parent_path, parent in model.named_modules():
        if not isinstance(parent, CONTAINERS):
            continue
        for name, child in parent.named_children():
            path = f"{parent_path}.{name}" if parent_path else name
            if isinstance(child, CONTAINERS) or next(child.children(), None) is None:
                continue
            if path in trace.calls and any(isinstance(m, CONV_TYPES) for m in child.modules()):
                candidates.append(path)
    return [p for p in candidates if not any(p.startswith(q + ".") for q in candidates)]


def _check_single_tensor(model: nn.Module, input_shape, paths: list[str], model_name: str) -> None:
    """Every block gets exactly one positional tensor and no keyword arguments, and returns one tensor."""
    import torch

    modules = dict(model.named_modules())
    problems: dict[str, str] = {}
    handles = []

    def pre_hook(path):
        def hook(module, args, kwargs):
            if len(args) != 1 or kwargs or not isinstance(args[0], torch.Tensor):
                problems.setdefault(path, f"it is called with {len(args)} positional and {len(kwargs)} keyword arguments")
        return hook

    def post_hook(path):
        def hook(module, args, output):
            if not isinstance(output, torch.Tensor):
                problems.setdefault(path, f"it returns a {type(output).__name__}")
        return hook

    for path in paths:
        handles.append(modules[path].register_forward_pre_hook(pre_hook(path), with_kwargs=True))
        handles.append(modules[path].register_forward_hook(post_hook(path)))
    try:
        run_forward(model, tuple(input_shape))
    finally:
        for handle in handles:
            handle.remove()
    if problems:
        path, why = next(iter(problems.items()))
        raise ConfigError(f"{model_name}: block {path} does not map one tensor to one tensor ({why})",
                          hint="blockwise training feeds each replacement the block's single input tensor")
