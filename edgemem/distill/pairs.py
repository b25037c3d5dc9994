"""Stage pairs: the points where attention transfer and hints compare student and teacher.

A derived student keeps the teacher's module names (pooling moves strides, cheap convolutions and
width change layers inside blocks), so the natural pairs are the same points in both networks:
the output of every stage, i.e. the input of each block where the teacher downsamples
(``layer2.0:input``, ``layer3.0:input``) and the input of the global pooling (the last stage's
output, as Moonshine's WRN returns its three group outputs). For a pooled student these points run
at a lower resolution than the teacher's; the losses average-pool the teacher's map to the
student's resolution ("matched resolutions", losses.py).
"""

from __future__ import annotations

from torch import nn

from edgemem.distill.students.probe import probe
from edgemem.distill.students.strides import GLOBAL_POOL_TYPES, map_strides, spatial


def stage_points(teacher: nn.Module, input_shape) -> list[str]:
    """Teacher points that end a stage: each downsampling block's input, then the global pool's input."""
    trace = probe(teacher, tuple(input_shape))
    strides = map_strides(teacher, trace)
    points = [f"{event.block}:input" for event in strides.events]
    modules = dict(teacher.named_modules())
    leaves = trace.leaves()
    pools = [c for c in leaves if isinstance(modules[c.path], GLOBAL_POOL_TYPES)]
    if pools:
        points.append(f"{pools[-1].path}:input")
    else:
        spatial_leaves = [c for c in leaves if spatial(c.out_shape, strides.spatial_dims) is not None]
        if spatial_leaves:
            points.append(spatial_leaves[-1].path)
    return list(dict.fromkeys(points))


def stage_pairs(teacher: nn.Module, student: nn.Module, input_shape) -> list[tuple[str, str]]:
    """(student point, teacher point) for every stage point that exists in both networks."""
    names = {name for name, _ in student.named_modules()}
    return [(p, p) for p in stage_points(teacher, input_shape) if p.split(":")[0] in names]
