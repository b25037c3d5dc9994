"""ReDistill's own theoretical peak memory formula, to compare with the analyzer.

``analysis/peak_memory.py::ImageNet_ResNet_PeakMemHook`` (mengtang-lab/ReDistill) records each
module's input and output size at batch 1 and takes the maximum of these per-layer entries:
  conv1, maxpool:  input + output
  each block:      max over conv1..conv3 of (input + output) + residual, where residual is
                   input + output of ``downsample[0]`` when the block has one, else the input of
                   the whole stage (``layerN``), not of the block
It ignores tensors that are live at the same time beyond these pairs (a bottleneck's block input
while conv3 writes its output) and counts a projection block's input twice (it feeds conv1 and
the shortcut). RED blocks do not enter it. The analyzer instead follows every tensor's lifetime
in the exported graph; both are reported side by side in docs/distill-students.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgemem.errors import ConfigError


@dataclass(frozen=True)
class RedistillPeak:
    peak_bytes: int
    layers: tuple[tuple[str, int], ...]  # (conv1 | maxpool | layerN.i, bytes), in ReDistill's order


def _sizes(model, input_shape, element_bytes: int) -> dict:
    import torch

    from edgemem.distill.export import model_device

    sizes: dict = {}
    handles = []
    for name, module in model.named_modules():
        def hook(mod, args, output, name=name):
            if name not in sizes and args:
                out = output[0] if isinstance(output, tuple) else output
                sizes[name] = (math.prod(args[0].shape[1:]) * element_bytes, math.prod(out.shape[1:]) * element_bytes)
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(*input_shape, device=model_device(model)))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return sizes


def redistill_resnet_peak(model, input_shape, element_bytes: int = 4) -> RedistillPeak:
    """ReDistill's estimate for a torchvision-layout ResNet (conv1, maxpool, layer1..layer4)."""
    stages = [n for n in ("layer1", "layer2", "layer3", "layer4") if hasattr(model, n)]
    if not hasattr(model, "conv1") or not stages:
        raise ConfigError(f"ReDistill's ResNet formula needs conv1 and layer1..layer4; {type(model).__name__} has not")
    sizes = _sizes(model, input_shape, element_bytes)

    def conv(path: str) -> int:
        i, o = sizes[path]
        return i + o

    layers = [("conv1", conv("conv1"))]
    if "maxpool" in sizes:
        layers.append(("maxpool", conv("maxpool")))
    for stage in stages:
        stage_input = sizes[stage][0]
        for index, block in enumerate(getattr(model, stage)):
            path = f"{stage}.{index}"
            convs = [conv(f"{path}.{c}") for c in ("conv1", "conv2", "conv3") if f"{path}.{c}" in sizes]
            residual = conv(f"{path}.downsample.0") if getattr(block, "downsample", None) is not None else stage_input
            layers.append((path, max(convs) + residual))
    return RedistillPeak(max(b for _, b in layers), tuple(layers))
