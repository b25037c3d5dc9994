"""Width multiplier: every layer's channel count times w, resized in place during one forward.

Each Conv/Linear gets ``max(1, round(c * w))`` output channels, except the last one that runs
(the classifier keeps its outputs); input channels, BatchNorm/LayerNorm sizes and depthwise groups
follow what actually arrives, so residual additions and concatenations stay consistent. Weights
keep the teacher's leading channels (a deterministic start; a width student is trained anyway).
Parameter-free leaves that declare ``in_channels``/``out_channels`` (an option-A shortcut) are
updated the same way. A model with parameters outside Conv/Linear/BatchNorm/LayerNorm layers
(a ViT's class token and positional embedding) is refused with the parameter's name.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from edgemem.distill.students.probe import Trace, run_forward
from edgemem.errors import ConfigError

CONVS = (nn.Conv1d, nn.Conv2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
RESIZABLE = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)


def scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _slice(param: torch.Tensor | None, *sizes: int):
    if param is None:
        return None
    if any(s > d for s, d in zip(sizes, param.shape)):
        return None
    index = tuple(slice(0, s) for s in sizes)
    return param.detach()[index].clone()


def _new_param(old, sizes, init) -> nn.Parameter | None:
    if old is None:
        return None
    value = _slice(old, *sizes)
    if value is None:
        value = init(torch.empty(*sizes, dtype=old.dtype, device=old.device))
    return nn.Parameter(value, requires_grad=old.requires_grad)


def _resize_conv(m: nn.Module, cin: int, cout: int) -> None:
    depthwise = m.groups == m.in_channels and m.groups > 1
    groups = cin if depthwise else math.gcd(m.groups, cin, cout)
    if depthwise:
        cout = cin * (m.out_channels // m.in_channels)
    k = tuple(m.kernel_size)
    fan_in = max(1, cin // groups * math.prod(k))
    bound = 1 / math.sqrt(fan_in)
    m.weight = _new_param(m.weight, (cout, cin // groups, *k), lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)))
    m.bias = _new_param(m.bias, (cout,), lambda t: nn.init.uniform_(t, -bound, bound))
    m.in_channels, m.out_channels, m.groups = cin, cout, groups


def _resize_linear(m: nn.Linear, cin: int, cout: int) -> None:
    bound = 1 / math.sqrt(max(1, cin))
    m.weight = _new_param(m.weight, (cout, cin), lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5)))
    m.bias = _new_param(m.bias, (cout,), lambda t: nn.init.uniform_(t, -bound, bound))
    m.in_features, m.out_features = cin, cout


def _resize_norm(m: nn.Module, c: int) -> None:
    m.weight = _new_param(m.weight, (c,), nn.init.ones_)
    m.bias = _new_param(m.bias, (c,), nn.init.zeros_)
    if isinstance(m, NORMS):
        if m.running_mean is not None:
            m.running_mean = _slice(m.running_mean, c) if c <= m.running_mean.numel() else m.running_mean.new_zeros(c)
            m.running_var = _slice(m.running_var, c) if c <= m.running_var.numel() else m.running_var.new_ones(c)
        m.num_features = c
    else:
        m.normalized_shape = (c,)


def check_resizable(model: nn.Module, model_name: str) -> None:
    modules = dict(model.named_modules())
    for name, _ in model.named_parameters():
        owner = name.rpartition(".")[0]
        module = modules[owner]
        if not isinstance(module, RESIZABLE):
            raise ConfigError(
                f"width multiplier does not apply to {model_name}: parameter {name!r} belongs to "
                f"{type(module).__name__}, which it cannot resize (only Conv, Linear, BatchNorm, LayerNorm)"
            )
        if isinstance(module, nn.LayerNorm) and len(module.normalized_shape) != 1:
            raise ConfigError(f"width multiplier does not apply to {model_name}: {owner} normalises over {tuple(module.normalized_shape)}")


def apply_width(model: nn.Module, width: float, input_shape, trace: Trace, model_name: str) -> None:
    """Resize ``model`` in place to ``width``; checks that its output shape is unchanged."""
    if not width > 0:
        raise ConfigError(f"width multiplier must be positive, got {width}")
    check_resizable(model, model_name)
    modules = dict(model.named_modules())
    weighted = [c.path for c in trace.leaves() if isinstance(modules[c.path], CONVS + (nn.Linear,))]
    if not weighted:
        raise ConfigError(f"width multiplier does not apply to {model_name}: no Conv/Linear layer runs")
    keep_out = weighted[-1]
    done: set[str] = set()

    def hook_for(path: str, module: nn.Module):
        def hook(mod, args):
            if path in done or not args or not isinstance(args[0], torch.Tensor):
                return
            done.add(path)
            x = args[0]
            if isinstance(mod, CONVS):
                _resize_conv(mod, x.shape[1], mod.out_channels if path == keep_out else scaled(mod.out_channels, width))
            elif isinstance(mod, nn.Linear):
                _resize_linear(mod, x.shape[-1], mod.out_features if path == keep_out else scaled(mod.out_features, width))
            elif isinstance(mod, NORMS):
                _resize_norm(mod, x.shape[1])
            elif isinstance(mod, nn.LayerNorm):
                _resize_norm(mod, x.shape[-1])
            else:  # parameter-free module declaring its channels
                mod.in_channels, mod.out_channels = x.shape[1], scaled(mod.out_channels, width)
        return hook

    handles = []
    for path, module in modules.items():
        declares = isinstance(getattr(module, "in_channels", None), int) and isinstance(getattr(module, "out_channels", None), int)
        if isinstance(module, RESIZABLE) or (declares and not list(module.parameters())):
            handles.append(module.register_forward_pre_hook(hook_for(path, module)))
    try:
        try:
            output = run_forward(model, tuple(input_shape))
        except ConfigError as exc:
            raise ConfigError(f"width {width:g} breaks {model_name}: {exc.message} (its forward may hard-code a channel count)") from None
    finally:
        for handle in handles:
            handle.remove()
    shapes = tuple(tuple(o.shape) for o in (output if isinstance(output, (list, tuple)) else (output,)) if hasattr(o, "shape"))
    if shapes != trace.output_shapes:
        raise ConfigError(f"width {width:g} changes {model_name}'s output shape {trace.output_shapes} -> {shapes}")
