"""Denoiser students: ReDistill's aggressive pooling for a U-Net noise predictor.

A **denoiser** is a module with ``edgemem_task = "denoise"``, a ``forward(x, t)`` (noisy images,
float timesteps), a ``pool_strides`` list (entry 0: the head's stride; entry i: the downsampling
into level i; the up path mirrors it) and ``config``, its constructor's keyword arguments, as
``zoo/ddpm.py``'s UNet has. For a pool factor k the head takes k times its stride and the
**latest** downsampling steps give up a factor k in total, so the bottleneck resolution is
unchanged: ReDistill's ``[1, 2, 2, 2] -> [2, 2, 2, 1]`` at k = 2. The student is the same class
rebuilt with the new strides; every weight whose shape is unchanged is copied from the source
(only the transposed convolutions of the up path change kernel).

**RED blocks** (students/red.py) go where ReDistill's ``reedx2_dist_config.yaml`` puts them.
Resampling events are the head, the tail and every convolution that changes the spatial size,
each taken as the largest module around it with the same input and output (``downblocks.2``
around ``downblocks.2.main``, ``tail`` around its transposed convolution). A student event whose
resolutions moved and that still resamples is paired with the teacher event that makes the same
resolution step (same input and output size): RED blocks at its input (not for the head, whose
input is the image) and its output (not for the tail, whose output is the prediction). For the
CIFAR U-Net at k = 2 that is head <-> downblocks.2, downblocks.2 <-> downblocks.5, downblocks.5
<-> downblocks.8, upblocks.7 <-> upblocks.3, upblocks.11 <-> upblocks.7, tail <-> upblocks.11:
ten blocks, as in the config.
"""

from __future__ import annotations

import math

from edgemem.distill.students.probe import Trace, probe
from edgemem.distill.students.red import attach_red
from edgemem.distill.students.spec import RedPair, Student, StudentSpec
from edgemem.errors import ConfigError

TASK = "denoise"


def is_denoiser(model) -> bool:
    return getattr(model, "edgemem_task", None) == TASK


def bound_timestep(model, value: float = 0.0):
    """``model`` as a one-input module (its timesteps fixed at ``value``), for probes and hooks."""
    from torch import nn

    class Bound(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, x):
            import torch

            return self.net(x, torch.full((x.shape[0],), float(value), device=x.device))

    return Bound()


def probe_denoiser(model, input_shape) -> Trace:
    """``probe`` of a denoiser at timestep 0, with its own module paths."""
    trace = probe(bound_timestep(model), input_shape)
    calls = {}
    for path, call in trace.calls.items():
        if path.startswith("net"):
            own = path[len("net."):] if path != "net" else ""
            calls[own] = type(call)(own, call.order, call.start, call.in_shape, call.out_shape, call.leaf, call.type_name)
    return Trace(calls, trace.output_shapes, {p[len("net."):] for p in trace.repeated if p.startswith("net.")})


def plan_strides(strides, k: int, name: str) -> list[int]:
    """The head gains k, the latest downsampling steps lose k in total (the bottleneck stays)."""
    new, remaining = list(strides), k
    for index in range(len(new) - 1, 0, -1):
        g = math.gcd(new[index], remaining)
        new[index] //= g
        remaining //= g
    if remaining != 1:
        after = math.prod(strides[1:])
        raise ConfigError(f"pool factor {k} does not apply to {name}: it downsamples {after}x after its head, "
                          f"so the head cannot take {k}x more with the bottleneck resolution unchanged")
    new[0] *= k
    return new


def rebuild(model, pool_strides, **options):
    """The same denoiser class built with other pooling strides (and ``options``, constructor keywords
    its config already names, e.g. stem and time_recompute)."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or not hasattr(model, "pool_strides"):
        raise ConfigError(f"{type(model).__name__}: a denoiser needs pool_strides and config (its constructor's "
                          "keyword arguments) to derive students")
    options = {key: value for key, value in options.items() if key in config}
    try:
        return type(model)(**{**config, **options, "pool_strides": list(pool_strides)})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{type(model).__name__} cannot be rebuilt with pool_strides {list(pool_strides)}: {exc}") from None


STEMS = {"strided": "conv", "patchify": "shuffle"}  # StudentSpec.stem -> the U-Net's stem
DESCRIBED = {"stem": "space-to-depth stem and depth-to-space output", "time_recompute": "time embedding recomputed in every block"}


def copy_head_sampled(source, target) -> bool:
    """A space-to-depth stem (PixelUnshuffle(2), then a 3x3 conv over the 2x2 cells) starts as the
    source's 3x3 stride-1 stem read at the even pixels, exactly what a stride-2 stem of the source's
    weights computes (ReDistill's rule): pixel offset a in -1..1 around pixel 2i lies in cell
    i + (a // 2) at sub-pixel a % 2. Every pixel reaches the stem; training decides how to use the
    others (an average over the cell would start as a low-pass filter, which hides the noise a
    denoiser predicts). False (left as built) when the shapes do not allow it."""
    import torch

    conv_t, conv = source.head, target.head[1]
    r = target.pool_strides[0]
    if not isinstance(conv_t, torch.nn.Conv2d) or tuple(conv_t.weight.shape[2:]) != (3, 3) or conv_t.stride != (1, 1) or r != 2:
        return False
    weight = torch.zeros_like(conv.weight)
    for a in (-1, 0, 1):  # the source kernel's offsets
        for b in (-1, 0, 1):
            (cell_a, sub_a), (cell_b, sub_b) = divmod(a, r), divmod(b, r)
            for c in range(conv_t.weight.shape[1]):  # PixelUnshuffle: channel c * r^2 + sub_a * r + sub_b
                weight[:, c * r * r + sub_a * r + sub_b, cell_a + 1, cell_b + 1] = conv_t.weight[:, c, a + 1, b + 1]
    with torch.no_grad():
        conv.weight.copy_(weight)
        conv.bias.copy_(conv_t.bias)
    return True


def copy_tail_subpixels(source, target) -> bool:
    """A depth-to-space output layer starts as the source's 1x1 output layer repeated for every
    sub-pixel (each output pixel of a 2x2 cell predicted as the teacher would at the cell); False
    when the source's output layer is not a stride-1 transposed convolution of kernel 1."""
    import torch

    conv_t, conv = source.tail[2], target.tail[2]
    if tuple(conv_t.weight.shape[2:]) != (1, 1) or conv.weight.shape[1] != conv_t.weight.shape[0]:
        return False
    channels = conv_t.weight.shape[1]
    factor2 = conv.weight.shape[0] // channels
    with torch.no_grad():
        conv.weight.zero_()
        for c in range(channels):  # PixelShuffle reads output channel c * r^2 + sub-pixel
            conv.weight[c * factor2:(c + 1) * factor2, :, 1, 1] = conv_t.weight[:, c, 0, 0]
            conv.bias[c * factor2:(c + 1) * factor2] = conv_t.bias[c]
    return True


def copy_matching(source, target) -> int:
    """Copy every parameter/buffer whose name and shape match; returns how many were copied."""
    state, own, copied = source.state_dict(), target.state_dict(), 0
    for key, value in state.items():
        if key in own and own[key].shape == value.shape:
            own[key].copy_(value)
            copied += 1
    return copied


def derive_denoiser_student(teacher, spec: StudentSpec, input_shape, name: str) -> Student:
    """The denoiser student ``spec`` names (pool factor only; RED blocks when ``spec.red``)."""
    if spec.conv != "standard" or spec.width != 1.0:
        what = f"conv {spec.conv!r}" if spec.conv != "standard" else f"width {spec.width:g}"
        raise ConfigError(f"{what} does not apply to {name}: denoiser students are derived by pooling only")
    input_shape = tuple(int(d) for d in input_shape)
    strides = list(teacher.pool_strides)
    if spec.pool_factor == 1:
        model = rebuild(teacher, strides)
        copy_matching(teacher, model)
        return Student(model.train(teacher.training), spec, [], f"{name}: teacher architecture")
    new = plan_strides(strides, spec.pool_factor, name)
    stem = STEMS.get(spec.stem)
    if stem is None:
        raise ConfigError(f"stem {spec.stem!r} does not apply to {name}: choose {', '.join(STEMS)}")
    model = rebuild(teacher, new, stem=stem, time_recompute=True)
    copy_matching(teacher, model)
    if stem == "shuffle":
        copy_head_sampled(teacher, model)
        copy_tail_subpixels(teacher, model)
    extras = [text for key, text in DESCRIBED.items() if model.config.get(key) not in (None, False, "conv")]
    description = f"{name}: pool x{spec.pool_factor}, strides {strides} -> {new}" + "".join(f", {e}" for e in extras)
    pairs = []
    if spec.red:
        pairs = attach_red_blocks(model, probe_denoiser(teacher, input_shape), input_shape)
        description += f", {len(pairs)} RED blocks"
    return Student(model.train(teacher.training), spec, pairs, description)


RESAMPLERS = ("Conv2d", "ConvTranspose2d", "PixelUnshuffle", "PixelShuffle")


def resampling_events(trace: Trace) -> list[tuple[str, tuple, tuple]]:
    """(module path, in shape, out shape) of the head, the tail and every size-changing conv,
    each widened to the largest module around it with the same input and output shapes."""
    convs = [c for c in trace.leaves() if c.type_name in RESAMPLERS]
    if not convs:
        return []
    chosen = {convs[0].path, convs[-1].path} | {c.path for c in convs if c.in_shape[2:] != c.out_shape[2:]}
    events = []
    for call in sorted((trace.calls[p] for p in chosen), key=lambda c: c.start):
        path = call.path
        while "." in path:
            parent = trace.calls.get(path.rpartition(".")[0])
            if parent is None or parent.in_shape != call.in_shape or parent.out_shape != call.out_shape:
                break
            path = parent.path
        events.append((path, call.in_shape, call.out_shape))
    return events


def attach_red_blocks(student, teacher_trace: Trace, input_shape) -> list[RedPair]:
    """Attach RED blocks at the moved resampling events of ``student``; their pairs with the teacher."""
    student_events = resampling_events(probe_denoiser(student, input_shape))
    teacher_events = resampling_events(teacher_trace)
    teacher_by_path = {path: (i, o) for path, i, o in teacher_events}
    head, tail = student_events[0][0], student_events[-1][0]
    planned = []
    for path, s_in, s_out in student_events:
        if s_in[2:] == s_out[2:] or teacher_by_path.get(path) == (s_in, s_out):
            continue  # no resolution step, or the same one as in the teacher
        match = next((p for p, t_in, t_out in teacher_events if t_in[2:] == s_in[2:] and t_out[2:] == s_out[2:]), None)
        if match is None:
            continue
        if path != head:
            planned.append((path, True, s_in[1], f"{match}:input"))
        if path != tail:
            planned.append((path, False, s_out[1], match))
    pairs = []
    for path, is_input, channels, teacher_point in planned:
        point = attach_red(student, path, is_input, channels, 2)
        pairs.append(RedPair(point, teacher_point, channels))
    return pairs
