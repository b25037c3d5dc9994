"""ViT students: the patch-embedding stride is the pooling knob (ReDistill's rule for token models).

A token model's memory is set by its token count: every token map is N x D and attention holds
h x N x N scores, so the peak falls with the patch stride. ``token_layout`` reads a ViT from one
traced forward pass (``probe``), so zoo and user models are handled alike: the **patch
embedding** is the first convolution that runs, when what follows it works on (N, L, D) token
maps (a LayerNorm on 3-D tensors); **token pools** are modules with an integer ``stride`` that
turn L tokens into fewer; **blocks** are the modules that map token maps to token maps of the same
shape and hold a LayerNorm as a direct child; **positional tables** are parameters shaped
(1, prefix + g^2, D) for the patch grid g (prefix: class/distillation tokens).

For a pool factor k (``apply_patch_stride``) the patch embedding takes stride s*k and kernel
kernel + (k-1)*s (non-overlapping patches of k*p when kernel = stride; the new kernel starts as
the old one spread over k x k pixels, i.e. the old embedding of the k-times average-pooled image);
the **latest** token pools give up a factor k in total, as ReDistill moves the latest CNN
downsampling into the stem, so a staged ViT keeps its final token grid; what the pools cannot
absorb shrinks the final grid (a plain ViT has no pool: its grid shrinks by k). Positional tables
are resized to the new grid by bilinear interpolation. The student's forward must read its grid
sizes from the tensors; one that hard-codes them is refused with the error of its forward.

Feature pairs (``RedPair``) for the token-alignment loss pair the last block of every stage (and
the middle block of a one-stage ViT) with the same block of the teacher; for a CNN teacher
(``cross_pairs``) the student's blocks at the same relative depth are paired with the teacher's
stage outputs (the last module to produce each spatial size). The trainer (trainers/tokens.py)
turns token maps into grids and resizes them to the teacher's grid.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from edgemem.distill.students.probe import Trace, probe
from edgemem.distill.students.spec import RedPair, Student, StudentSpec
from edgemem.errors import ConfigError

TOKEN_METHOD = "token_kd"  # what --method auto trains a pooled ViT student with


@dataclass(frozen=True)
class TokenLayout:
    patch_path: str  # the patch-embedding convolution
    kernel: int
    stride: int
    grid: int  # side of the patch grid after the embedding
    dim: int  # token width D
    prefix: int  # tokens before the patch tokens (class token)
    pools: tuple[tuple[str, int], ...]  # token pools (path, stride) in execution order
    blocks: tuple[str, ...]  # transformer blocks in execution order
    stage_ends: tuple[str, ...]  # the last block of every stage (blocks between pools)
    positional: tuple[str, ...]  # parameter names resized with the grid

    def tokens_per_stage(self) -> list[int]:
        """Token count (prefix included) of each stage, pools applied in order."""
        counts, grid = [], self.grid
        counts.append(self.prefix + grid * grid)
        for _, stride in self.pools:
            grid = -(-grid // stride)
            counts.append(self.prefix + grid * grid)
        return counts


def is_token_model(trace: Trace) -> bool:
    """A ViT-like model: a convolution runs first and a LayerNorm later sees (N, L, D) token maps."""
    leaves = trace.leaves()
    if not leaves or leaves[0].type_name != "Conv2d":
        return False
    return any(c.type_name == "LayerNorm" and c.in_shape is not None and len(c.in_shape) == 3 for c in leaves)


def token_layout(model, trace: Trace, name: str) -> TokenLayout:
    """Read the patch embedding, pools, blocks and positional tables of ``model`` from ``trace``."""
    from torch import nn

    if not is_token_model(trace):
        raise ConfigError(f"{name} is not a ViT-like model (a patch-embedding conv followed by token maps)")
    modules = dict(model.named_modules())
    patch = trace.leaves()[0]
    conv = modules[patch.path]
    if conv.kernel_size[0] != conv.kernel_size[1] or conv.stride[0] != conv.stride[1] or patch.out_shape[2] != patch.out_shape[3]:
        raise ConfigError(f"{name}: the patch embedding {patch.path} is not square; only square patches are derived")
    grid, dim = patch.out_shape[2], patch.out_shape[1]
    calls = sorted(trace.calls.values(), key=lambda c: c.start)
    token_calls = [c for c in calls if c.in_shape is not None and len(c.in_shape) == 3 and c.out_shape is not None and len(c.out_shape) == 3]
    prefix = _prefix(token_calls, grid, name)
    pools = tuple((c.path, int(modules[c.path].stride)) for c in token_calls
                  if isinstance(getattr(modules[c.path], "stride", None), int) and c.out_shape[1] <= c.in_shape[1])
    blocks = tuple(c.path for c in token_calls if c.in_shape == c.out_shape
                   and any(isinstance(child, nn.LayerNorm) for child in modules[c.path].children()))
    if not blocks:
        raise ConfigError(f"{name}: no transformer block found (a module mapping token maps to token maps with a LayerNorm child)")
    positional = tuple(n for n, p in model.named_parameters()
                       if p.dim() == 3 and p.shape[0] == 1 and p.shape[1] == prefix + grid * grid and p.shape[2] == dim)
    stage_ends = _stage_ends(blocks, [p for p, _ in pools], trace)
    return TokenLayout(patch.path, conv.kernel_size[0], conv.stride[0], grid, dim, prefix, pools, blocks, stage_ends, positional)


def _prefix(token_calls, grid: int, name: str) -> int:
    if not token_calls:
        raise ConfigError(f"{name}: no module works on token maps after the patch embedding")
    prefix = token_calls[0].in_shape[1] - grid * grid
    if prefix < 0 or prefix > 8:
        raise ConfigError(f"{name}: the first token map has {token_calls[0].in_shape[1]} tokens for a {grid}x{grid} patch grid")
    return prefix


def _stage_ends(blocks, pool_paths, trace: Trace) -> tuple[str, ...]:
    starts = {p: trace.calls[p].start for p in (*blocks, *pool_paths)}
    ends, current = [], None
    for path in sorted(starts, key=starts.get):
        if path in pool_paths:
            if current is not None:
                ends.append(current)
            current = None
        else:
            current = path
    if current is not None:
        ends.append(current)
    if len(ends) == 1 and len(blocks) > 1:  # one stage: also align the middle of it
        ends.insert(0, blocks[len(blocks) // 2 - 1])
    return tuple(ends)


def plan_token_strides(layout: TokenLayout, k: int) -> tuple[dict, int]:
    """({pool path: new stride}, remainder): the latest pools give up k first; the remainder shrinks the grid."""
    remaining, new = k, {}
    for path, stride in reversed(layout.pools):
        g = math.gcd(stride, remaining)
        if g > 1:
            new[path] = stride // g
            remaining //= g
    return new, remaining


def apply_patch_stride(model, layout: TokenLayout, k: int, input_shape, name: str) -> list[str]:
    """Pool ``model`` (a deep copy) by ``k`` in place; returns notes for the description."""
    import torch
    from torch import nn

    conv = model.get_submodule(layout.patch_path)
    kernel, stride = layout.kernel + (k - 1) * layout.stride, layout.stride * k
    if kernel > min(input_shape[2:]) + 2 * conv.padding[0]:
        raise ConfigError(f"pool factor {k} does not apply to {name}: a {kernel}x{kernel} patch is larger than the "
                          f"{input_shape[2]}x{input_shape[3]} input")
    new = nn.Conv2d(conv.in_channels, conv.out_channels, kernel, stride=stride, padding=conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        if layout.kernel == layout.stride:  # the old kernel spread over k x k pixels: embeds the k-pooled image
            new.weight.copy_(conv.weight.repeat_interleave(k, 2).repeat_interleave(k, 3) / (k * k))
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    _set_module(model, layout.patch_path, new.to(conv.weight.device))
    grid = (input_shape[2] + 2 * conv.padding[0] - kernel) // stride + 1
    for param in layout.positional:
        _resize_positional(model, param, layout.prefix, grid)
    strides, remainder = plan_token_strides(layout, k)
    for path, value in strides.items():
        model.get_submodule(path).stride = value
    notes = [f"patch stride {layout.stride} -> {stride} ({layout.grid}x{layout.grid} -> {grid}x{grid} tokens)"]
    if strides:
        notes.append("token pools " + ", ".join(f"{p} stride {dict(layout.pools)[p]} -> {s}" for p, s in strides.items()))
    if remainder > 1:
        notes.append(f"final token grid {remainder}x smaller" + ("" if layout.pools else " (no token pool to absorb it)"))
    return notes


def _set_module(model, path: str, module) -> None:
    parent, _, child = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _resize_positional(model, name: str, prefix: int, grid: int) -> None:
    import torch
    import torch.nn.functional as F
    from torch import nn

    owner_path, _, attr = name.rpartition(".")
    owner = model.get_submodule(owner_path) if owner_path else model
    table = getattr(owner, attr).detach()
    old = math.isqrt(table.shape[1] - prefix)
    patches = table[:, prefix:].transpose(1, 2).reshape(1, table.shape[2], old, old)
    resized = F.interpolate(patches, size=(grid, grid), mode="bilinear", align_corners=False)
    setattr(owner, attr, nn.Parameter(torch.cat([table[:, :prefix], resized.flatten(2).transpose(1, 2)], dim=1)))


def derive_vit_student(teacher, spec: StudentSpec, input_shape, name: str, trace: Trace | None = None) -> Student:
    """The ViT student ``spec`` names: pool factor k = patch stride x k (see the module docstring)."""
    if spec.conv != "standard":
        raise ConfigError(f"conv {spec.conv!r} does not apply to {name}: a ViT has no convolution after its patch "
                          "embedding to make cheap")
    if spec.width != 1.0:
        raise ConfigError(f"width {spec.width:g} does not apply to {name}: ViT students change the patch stride, not the width")
    input_shape = tuple(int(d) for d in input_shape)
    trace = trace or probe(teacher, input_shape)
    layout = token_layout(teacher, trace, name)
    model = copy.deepcopy(teacher)
    if spec.pool_factor == 1:
        return Student(model, spec, [], f"{name}: teacher architecture")
    notes = apply_patch_stride(model, layout, spec.pool_factor, input_shape, name)
    try:
        student_trace = probe(model, input_shape)
    except ConfigError as exc:
        raise ConfigError(f"pool factor {spec.pool_factor} breaks {name}: {exc.message}") from None
    if student_trace.output_shapes != trace.output_shapes:
        raise ConfigError(f"pool factor {spec.pool_factor} breaks {name}: its output shape changes "
                          f"{trace.output_shapes} -> {student_trace.output_shapes}")
    model.train(teacher.training)
    student_layout = token_layout(model, student_trace, name)
    pairs = [RedPair(point, point, student_layout.dim) for point in student_layout.stage_ends]
    description = f"{name}: pool x{spec.pool_factor}: " + "; ".join(notes)
    return Student(model, spec, pairs, description, TOKEN_METHOD)


def cross_pairs(student, teacher, input_shape) -> list[RedPair]:
    """Pairs for a ViT student of a CNN teacher: the teacher's stage outputs with the student's
    blocks at the same relative depth (the last stage with the last block)."""
    name = type(student).__name__
    layout = token_layout(student, probe(student, input_shape), name)
    stages = cnn_stage_outputs(probe(teacher, input_shape))
    if not stages:
        raise ConfigError(f"{type(teacher).__name__} has no spatial feature map to align a ViT student with")
    count = len(layout.blocks)
    chosen = [layout.blocks[max(0, round((i + 1) * count / len(stages)) - 1)] for i in range(len(stages))]
    return [RedPair(s, t, layout.dim) for s, t in zip(chosen, stages)]


def cnn_stage_outputs(trace: Trace) -> list[str]:
    """For every spatial size a CNN produces (sizes > 1), the module that finishes last among those
    whose output has that size: its stage output (``layer1`` ... ``layer3`` of a CIFAR ResNet)."""
    last: dict[tuple, tuple[int, str]] = {}
    for call in trace.calls.values():
        shape = call.out_shape
        if call.path and shape is not None and len(shape) == 4 and shape[2] * shape[3] > 1:
            key = tuple(shape[2:])
            if key not in last or call.order > last[key][0]:
                last[key] = (call.order, call.path)
    return [path for _, path in sorted(last.values())]


def predicted_peak_bytes(layout: TokenLayout, input_shape, heads: int, bytes_per_element: int = 4) -> int:
    """The live-set peak of a zoo ViT (attention as zoo/vit.py writes it), by stage:
    max(image + patch tokens, 7 N D while the qkv projection is permuted, 2 h N^2 + 2 N D in attention)."""
    image = math.prod(input_shape[1:])
    terms = [image + layout.grid * layout.grid * layout.dim]
    for tokens in layout.tokens_per_stage():
        terms += [7 * tokens * layout.dim, 2 * heads * tokens * tokens + 2 * tokens * layout.dim]
    return max(terms) * bytes_per_element
