"""Aggressive pooling (ReDistill): move downsampling into the stem, keep every weight.

For a factor k the stem convolution takes the stride of the whole stem (its own times that of
any pooling folded into it) times k; the folded pooling layers get stride 1; the last downsampling
events then give up a factor k in total, latest first, so the total stride and the final
resolution are unchanged (ResNet-18: strides [2,2,1,2,2,2] -> [8,1,1,2,2,1]). Only ``stride``
(and, for pooling layers or convolutions that would shrink at stride 1, the kernel or padding)
changes; every weight keeps its shape. RED blocks then go to the stem output and to the input and
output of each remaining downsampling block that now runs at a lower resolution than in the
teacher, each paired with the teacher feature of the same spatial size (the ReDistill ResNet-18
config: conv1 <-> layer2.0, layer2.0 in/out <-> layer3.0 in/out, layer3.0 in/out <-> layer4.0
in/out).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from edgemem.distill.students.convs import replace_module
from edgemem.distill.students.probe import Trace, probe
from edgemem.distill.students.red import attach_red
from edgemem.distill.students.spec import RedPair
from edgemem.distill.students.stems import PATCHIFY_INIT, STEMS, patchify_conv
from edgemem.distill.students.strides import CONV_TYPES, POOL_TYPES, StrideMap, map_strides, spatial
from edgemem.errors import ConfigError


@dataclass(frozen=True)
class PoolPlan:
    stem_stride: int
    new_strides: dict  # event index -> new stride (events not named keep theirs)


def plan_pooling(strides: StrideMap, k: int, model_name: str) -> PoolPlan:
    """New strides for factor ``k``: the stem gains k, the latest events lose k in total."""
    remaining, new = k, {}
    for index in range(len(strides.events) - 1, -1, -1):
        if remaining == 1:
            break
        stride = strides.events[index].stride
        g = _gcd(stride, remaining)
        if g > 1:
            new[index] = stride // g
            remaining //= g
    if remaining != 1:
        after = strides.total_stride // strides.stem_total_stride
        raise ConfigError(
            f"pool factor {k} does not apply to {model_name}: it downsamples {after}x after its stem "
            f"({len(strides.events)} downsampling step{'s' if len(strides.events) != 1 else ''}), "
            f"so the stem cannot take {k}x more with the total stride unchanged"
            + (" (a ViT-like model keeps one resolution after its patch embedding)" if not strides.events else "")
        )
    return PoolPlan(strides.stem_total_stride * k, new)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _as_type(old, value: int, dims: int):
    return value if isinstance(old, int) else (value,) * dims


def set_stride(module: nn.Module, stride: int, dims: int) -> None:
    """Give ``module`` a new stride, keeping its output size at stride 1 and its weight shapes."""
    old = module.stride
    old_value = old if isinstance(old, int) else old[0]
    if isinstance(module, POOL_TYPES):
        kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
        padding = module.padding if isinstance(module.padding, int) else module.padding[0]
        if kernel == old_value and padding == 0:  # non-overlapping pooling stays non-overlapping
            module.kernel_size = _as_type(module.kernel_size, stride, dims)
        elif stride == 1 and 2 * padding != kernel - 1:
            module.kernel_size, module.padding = _as_type(module.kernel_size, 1, dims), _as_type(module.padding, 0, dims)
    elif isinstance(module, CONV_TYPES) and stride == 1 and not isinstance(module.padding, str):
        keeps_size = all(2 * p == d * (k - 1) for p, d, k in zip(module.padding, module.dilation, module.kernel_size))
        if not keeps_size:
            module.padding = "same"
    module.stride = _as_type(old, stride, dims)


def apply_pooling(model: nn.Module, strides: StrideMap, plan: PoolPlan, stem: str = "strided") -> None:
    modules = dict(model.named_modules())
    if stem in PATCHIFY_INIT:
        factor = plan.stem_stride // strides.stem_stride
        replace_module(model, strides.stem, patchify_conv(modules[strides.stem], factor, strides.stem, PATCHIFY_INIT[stem]))
    elif stem == "strided":
        set_stride(modules[strides.stem], plan.stem_stride, strides.spatial_dims)
    else:
        raise ConfigError(f"unknown stem {stem!r}", hint=f"choose one of {', '.join(STEMS)}")
    for path, _ in strides.stem_pools:
        set_stride(modules[path], 1, strides.spatial_dims)
    for index, stride in plan.new_strides.items():
        for path in strides.events[index].modules:
            set_stride(modules[path], stride, strides.spatial_dims)


def _teacher_point(teacher_map: StrideMap, size, is_input: bool, teacher_trace: Trace) -> str | None:
    """Teacher block whose input (or output) has spatial ``size``; else the last leaf with that output size."""
    for event in teacher_map.events:
        if (event.in_size if is_input else event.out_size) == size:
            return f"{event.block}:input" if is_input else event.block
    for call in reversed(teacher_trace.leaves()):
        if spatial(call.out_shape, teacher_map.spatial_dims) == size:
            return call.path
    return None


def pool_student(model: nn.Module, k: int, input_shape, teacher_map: StrideMap, teacher_trace: Trace,
                 red: bool, model_name: str, stem: str = "strided") -> tuple[list[RedPair], list[str]]:
    """Apply factor ``k`` to ``model`` in place with the ``stem`` (stems.STEMS); insert RED blocks
    when ``red``. Returns (pairs, notes)."""
    before = probe(model, input_shape)
    strides = map_strides(model, before)
    plan = plan_pooling(strides, k, model_name)
    apply_pooling(model, strides, plan, stem)
    try:
        after = probe(model, input_shape)
    except ConfigError as exc:
        raise ConfigError(f"pool factor {k} breaks {model_name}: {exc.message} (it probably downsamples in code the transform cannot see)") from None
    final = map_strides(model, after).final_size
    if final != strides.final_size or after.output_shapes != before.output_shapes:
        raise ConfigError(
            f"pool factor {k} changes {model_name}'s final resolution {strides.final_size} -> {final}; "
            "it downsamples in code the transform cannot see (a functional pool or a slice in forward)"
        )
    if not red:
        return [], []
    return _insert_red(model, strides, plan, after, teacher_map, teacher_trace)


STEM_FOLLOWERS = {
    "BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm", "InstanceNorm1d", "InstanceNorm2d",
    "ReLU", "ReLU6", "LeakyReLU", "PReLU", "SiLU", "GELU", "Hardswish", "Hardsigmoid", "Mish", "ELU", "Tanh", "Sigmoid",
}


def stem_feature_point(stem: str, after: Trace) -> str:
    """The module whose output is the stem's feature: the stem conv followed by the normalisation and
    activation modules that run right after it on the same shape (BN -> ReLU), else the conv itself.

    ReDistill's configs name the stem conv; a RED block there sees pre-BatchNorm values, and on
    MNIST-1D it gains 2 points over a student trained without a teacher where one after the stem's
    activation gains 7 (benchmarks/distill_mnist1d.py). The activation's output is also what the
    paired teacher feature is (a block output, after its own activation).
    """
    leaves = after.leaves()
    index = next(i for i, call in enumerate(leaves) if call.path == stem)
    point, shape = stem, leaves[index].out_shape
    for call in leaves[index + 1:]:
        if call.type_name not in STEM_FOLLOWERS or call.out_shape != shape or call.path in after.repeated:
            break
        point = call.path
    return point


def _insert_red(model, strides: StrideMap, plan: PoolPlan, after: Trace, teacher_map: StrideMap, teacher_trace: Trace):
    dims = strides.spatial_dims
    points: list[tuple[str, bool]] = [(stem_feature_point(strides.stem, after), False)]
    for index, event in enumerate(strides.events):
        still_strided = plan.new_strides.get(index, event.stride) > 1
        call = after.calls[event.block]
        if still_strided and spatial(call.in_shape, dims) != event.in_size:
            points += [(event.block, True), (event.block, False)]
    pairs, notes = [], []
    for path, is_input in points:
        call = after.calls[path]
        shape = call.in_shape if is_input else call.out_shape
        teacher = _teacher_point(teacher_map, spatial(shape, dims), is_input, teacher_trace)
        where = f"{path}:input" if is_input else path
        if teacher is None:
            notes.append(f"no teacher feature of size {spatial(shape, dims)} for {where}; no RED block there")
            continue
        student_point = attach_red(model, path, is_input, shape[1], dims)
        pairs.append(RedPair(student_point=student_point, teacher_point=teacher, channels=shape[1]))
    return pairs, notes
