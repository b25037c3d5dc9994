"""Shape-preserving replacements for one block, chosen by name from one table (``REPLACEMENTS``).

* ``separable`` -- the paper's replacement: two depthwise-separable convolutions,
  ``depthwise k x k (the block's stride) -> pointwise 1x1 -> ReLU -> depthwise k x k ->
  pointwise 1x1 [-> ReLU]``. The paper's Keras convolutions carry their ReLU; a PyTorch
  convolution does not (its BatchNorm and ReLU follow as modules of their own), so the final
  ReLU is there only when the teacher block's output is non-negative on real data (a residual
  block that ends in ReLU). A conv block keeps its kernel, stride, padding and dilation; a
  residual block gets 3 x 3 kernels and the stride its input/output sizes imply.
* any cheap convolution of ``students/cheap.py`` (``DW``, ``G(4)``, ``B(2)``, ``dw``, ``shift``
  ...) -- on a conv block, ``cheap_factory(name)(conv, path)``; on a residual block, a copy of the
  teacher's block with every dense k x k convolution inside swapped (its BatchNorms, shortcut and
  1x1 convolutions start from the teacher's weights).

Every replacement is checked to map the block's input shape to its output shape.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from edgemem.distill.blockwise.blocks import Block
from edgemem.distill.students.cheap import cheap_factory, is_replaceable
from edgemem.distill.students.convs import replace_module
from edgemem.distill.students.strides import CONV_TYPES
from edgemem.errors import ConfigError

SEPARABLE = "separable"


class SeparablePair(nn.Module):
    """[depthwise k x k -> pointwise 1x1 -> ReLU] then [depthwise k x k -> pointwise 1x1 (-> ReLU)]."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, kernel: int, stride: int, padding,
                 dilation: int = 1, final_relu: bool = False) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}[dims]
        same = dilation * (kernel - 1) // 2 if kernel % 2 else "same"
        self.depthwise1 = conv(in_channels, in_channels, kernel, stride, padding, dilation, groups=in_channels, bias=False)
        self.pointwise1 = conv(in_channels, out_channels, 1)
        self.relu = nn.ReLU()
        self.depthwise2 = conv(out_channels, out_channels, kernel, 1, same, dilation, groups=out_channels, bias=False)
        self.pointwise2 = conv(out_channels, out_channels, 1)
        self.final = nn.ReLU() if final_relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.pointwise1(self.depthwise1(x)))
        return self.final(self.pointwise2(self.depthwise2(x)))


def _separable(teacher: nn.Module, block: Block, final_relu: bool) -> nn.Module:
    module = teacher.get_submodule(block.path)
    dims = len(block.in_shape) - 2
    if dims not in (1, 2):
        raise ConfigError(f"block {block.path}: separable replacements need 1-D or 2-D feature maps, got {block.in_shape}")
    if isinstance(module, CONV_TYPES):
        k, s, d = module.kernel_size, module.stride, module.dilation
        if len(set(k)) != 1 or len(set(s)) != 1 or len(set(d)) != 1 or module.padding_mode != "zeros":
            raise ConfigError(f"block {block.path}: separable replacements need square kernels, strides and dilations "
                              "and zero padding", hint="use --replacement with a cheap convolution, e.g. DW")
        padding = module.padding if isinstance(module.padding, str) else module.padding[0]
        return SeparablePair(dims, block.in_shape[1], block.out_shape[1], k[0], s[0], padding, d[0], final_relu)
    stride = _stride(block)
    return SeparablePair(dims, block.in_shape[1], block.out_shape[1], 3, stride, 1, 1, final_relu)


def _stride(block: Block) -> int:
    """The stride s with ceil(in / s) = out in every spatial dimension (a 3x3, padding 1 step)."""
    sizes = list(zip(block.in_shape[2:], block.out_shape[2:]))
    largest = max((i for i, _ in sizes), default=1)
    stride = next((s for s in range(1, largest + 1) if all(-(-i // s) == o for i, o in sizes)), None)
    if stride is None:
        raise ConfigError(f"block {block.path}: maps {block.in_shape} to {block.out_shape}, not a strided 3x3 step; "
                          "no separable pair reproduces it", hint="use --blocks conv")
    return stride


def _cheap(name: str) -> Callable[[nn.Module, Block, bool], nn.Module]:
    factory = cheap_factory(name)

    def build(teacher: nn.Module, block: Block, final_relu: bool) -> nn.Module:
        module = teacher.get_submodule(block.path)
        if isinstance(module, CONV_TYPES):
            return factory(module, block.path)
        replacement = copy.deepcopy(module)
        inner = [p for p, m in replacement.named_modules() if isinstance(m, CONV_TYPES) and is_replaceable(m)]
        if not inner:
            raise ConfigError(f"block {block.path} has no dense k x k convolution for {name!r} to replace")
        for path in inner:
            replace_module(replacement, path, factory(replacement.get_submodule(path), f"{block.path}.{path}"))
        return replacement

    return build


def cheap_applies(teacher: nn.Module, block: Block) -> bool:
    """Whether a cheap convolution has something to replace in ``block``."""
    module = teacher.get_submodule(block.path)
    return any(isinstance(m, CONV_TYPES) and is_replaceable(m) for m in module.modules())


# name -> builder(teacher, block, final_relu); names not listed here are cheap convolutions
REPLACEMENTS: dict[str, Callable[[nn.Module, Block, bool], nn.Module]] = {SEPARABLE: _separable}


def replacement_builder(name: str) -> Callable[[nn.Module, Block, bool], nn.Module]:
    """The builder for ``name``: ``separable`` or any cheap convolution name (ConfigError otherwise)."""
    if name in REPLACEMENTS:
        return REPLACEMENTS[name]
    try:
        return _cheap(name)
    except ConfigError as exc:
        raise ConfigError(f"replacement {name!r}: {exc.message}", hint=f"separable, or {exc.hint}") from None


def build_replacement(name: str, teacher: nn.Module, block: Block, final_relu: bool, seed: int) -> nn.Module:
    """The replacement for ``block``, initialised from ``seed`` (the same on every worker), shape-checked."""
    builder = replacement_builder(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = builder(teacher, block, final_relu)
    device = next((t.device for t in teacher.parameters()), torch.device("cpu"))
    module = module.to(device)
    with torch.no_grad():
        was_training = module.training
        module.eval()
        shape = tuple(module(torch.zeros(block.in_shape, device=device)).shape)
        module.train(was_training)
    if shape != tuple(block.out_shape):
        raise ConfigError(f"replacement {name!r} for block {block.path} maps {block.in_shape} to {shape}, "
                          f"the block gives {block.out_shape}", hint="choose another --replacement")
    return module


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def smaller_replacements(name: str, teacher: nn.Module, blocks: list[Block], final_relu: dict[str, bool]
                         ) -> tuple[list[Block], dict[str, bool], list[str]]:
    """Build every block's replacement once (a block no replacement fits fails here, before any
    training) and keep the blocks whose replacement has fewer parameters than the teacher's block:
    (those blocks re-indexed in execution order, their final_relu by new key, one note per block left
    as it is). A stem convolution with 3 input channels, for example, has no smaller separable pair."""
    kept: list[Block] = []
    skipped: list[str] = []
    for block in blocks:
        ours = parameter_count(build_replacement(name, teacher, block, final_relu[block.key], 0))
        theirs = parameter_count(teacher.get_submodule(block.path))
        if ours < theirs:
            kept.append(block)
        else:
            skipped.append(f"{block.path}: {name} has {ours:,} parameters, the block {theirs:,}")
    renamed = [Block(i, b.path, b.kind, b.type_name, b.in_shape, b.out_shape) for i, b in enumerate(kept)]
    relu = {new.key: final_relu[old.key] for new, old in zip(renamed, kept)}
    return renamed, relu, skipped
