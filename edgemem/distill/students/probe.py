"""One traced forward pass: which modules run, in what order, on which shapes.

``probe(model, input_shape)`` runs the model once in eval mode under ``no_grad`` on zeros with
hooks on every module and returns a ``Trace``: for each module path that ran (first call only),
its call index, the shape of its first tensor input and of its first tensor output, and whether
it is a leaf. The student transforms read strides, resolutions and channel counts from it, so
they work on any ``nn.Module`` whose forward runs, not only on the zoo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgemem.errors import ConfigError


@dataclass(frozen=True)
class Call:
    path: str
    order: int  # index of the forward-hook call (post-order: children finish before parents)
    start: int  # index of the pre-hook call (pre-order): the execution order of leaves, even when
    # a forward hook (a RED block) runs other modules before the leaf's own forward hook fires
    in_shape: tuple[int, ...] | None
    out_shape: tuple[int, ...] | None
    leaf: bool
    type_name: str


@dataclass
class Trace:
    calls: dict[str, Call] = field(default_factory=dict)  # path -> first call
    output_shapes: tuple[tuple[int, ...], ...] = ()
    repeated: set[str] = field(default_factory=set)  # modules called more than once

    def leaves(self) -> list[Call]:
        return sorted((c for c in self.calls.values() if c.leaf), key=lambda c: c.start)


def _first_tensor(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (list, tuple)):
        for item in value:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_tensor(list(value.values()))
    return None


def _shape(value) -> tuple[int, ...] | None:
    tensor = _first_tensor(value)
    return tuple(tensor.shape) if tensor is not None else None


def run_forward(model, input_shape):
    """Run ``model`` once in eval mode on zeros; a failing forward becomes one ConfigError line."""
    import torch

    from edgemem.distill.export import model_device

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(torch.zeros(*input_shape, device=model_device(model)))
    except Exception as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        raise ConfigError(f"{type(model).__name__} does not run on input {tuple(input_shape)}: {reason}") from None
    finally:
        model.train(was_training)


def probe(model, input_shape) -> Trace:
    """Trace ``model`` on one zero input of ``input_shape``."""
    trace = Trace()
    starts: dict[str, tuple[int, tuple | None]] = {}
    counter = {"pre": 0, "post": 0}
    handles = []
    modules = dict(model.named_modules())

    def pre_hook(path):
        def hook(module, args):
            counter["pre"] += 1
            if path in starts:
                trace.repeated.add(path)
            else:
                starts[path] = (counter["pre"], _shape(args))
        return hook

    def post_hook(path, leaf):
        def hook(module, args, output):
            counter["post"] += 1
            if path not in trace.calls:
                start, in_shape = starts.get(path, (counter["pre"], _shape(args)))
                trace.calls[path] = Call(path, counter["post"], start, in_shape, _shape(output), leaf, type(module).__name__)
        return hook

    for path, module in modules.items():
        leaf = next(iter(module.children()), None) is None
        handles.append(module.register_forward_pre_hook(pre_hook(path)))
        handles.append(module.register_forward_hook(post_hook(path, leaf)))
    try:
        output = run_forward(model, input_shape)
    finally:
        for handle in handles:
            handle.remove()
    outputs = output if isinstance(output, (list, tuple)) else (output,)
    trace.output_shapes = tuple(tuple(o.shape) for o in outputs if hasattr(o, "shape"))
    return trace
