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


def rebuild(model, pool_strides):
    """The same denoiser class built with other pooling strides."""
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or not hasattr(model, "pool_strides"):
        raise ConfigError(f"{type(model).__name__}: a denoiser needs pool_strides and config (its constructor's "
                          "keyword arguments) to derive students")
    try:
        return type(model)(**{**config, "pool_strides": list(pool_strides)})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{type(model).__name__} cannot be rebuilt with pool_strides {list(pool_strides)}: {exc}") from None


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
    model = rebuild(teacher, new)
    copy_matching(teacher, model)
    description = f"{name}: pool x{spec.pool_factor}, strides {strides} -> {new}"
    pairs = []
    if spec.red:
        pairs = attach_red_blocks(model, probe_denoiser(teacher, input_shape), input_shape)
        description += f", {len(pairs)} RED blocks"
    return Student(model.train(teacher.training), spec, pairs, description)


def resampling_events(trace: Trace) -> list[tuple[str, tuple, tuple]]:
    """(module path, in shape, out shape) of the head, the tail and every size-changing conv,
    each widened to the largest module around it with the same input and output shapes."""
    convs = [c for c in trace.leaves() if c.type_name in ("Conv2d", "ConvTranspose2d")]
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
