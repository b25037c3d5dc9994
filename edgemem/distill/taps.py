"""Feature taps: capture module outputs (or inputs) by module path with forward hooks.

``with FeatureTaps(model, ["layer2.0", "layer3.0:input"]) as taps: model(x)`` leaves the output
of ``layer2.0`` and the first positional input of ``layer3.0`` in ``taps.outputs``. A path with
the suffix ``:input`` taps the module's input. Hooks are removed on exit; the captured tensors
stay (they keep their autograd graph unless ``detach=True``). Unknown paths fail before any hook
is registered, with the closest module names in the message.
"""

from __future__ import annotations

import difflib

from edgemem.errors import ConfigError

INPUT_SUFFIX = ":input"


def split_point(point: str) -> tuple[str, bool]:
    """``"layer3.0:input"`` -> ("layer3.0", True); ``"layer3.0"`` -> ("layer3.0", False)."""
    if point.endswith(INPUT_SUFFIX):
        return point[: -len(INPUT_SUFFIX)], True
    return point, False


def resolve_modules(model, paths) -> dict:
    """Map each path to its module; one ConfigError naming every unknown path and close matches."""
    modules = dict(model.named_modules())
    found, unknown = {}, []
    for point in paths:
        name, _ = split_point(point)
        if name in modules:
            found[point] = modules[name]
        else:
            unknown.append(point)
    if unknown:
        parts = []
        for point in unknown:
            close = difflib.get_close_matches(split_point(point)[0], [n for n in modules if n], n=3, cutoff=0.5)
            parts.append(f"{point!r}" + (f" (close: {', '.join(close)})" if close else ""))
        raise ConfigError(
            f"{type(model).__name__} has no module {'; '.join(parts)}",
            hint="module paths are the names of model.named_modules(), e.g. layer2.0 or layer2.0:input",
        )
    return found


class FeatureTaps:
    """Context manager: ``.outputs[path]`` holds what the module at ``path`` produced (or received)."""

    def __init__(self, model, paths, detach: bool = False) -> None:
        self.paths = list(dict.fromkeys(paths))
        self.modules = resolve_modules(model, self.paths)
        self.detach = detach
        self.outputs: dict = {}
        self._handles: list = []

    def __enter__(self) -> "FeatureTaps":
        for point, module in self.modules.items():
            _, is_input = split_point(point)
            if is_input:
                self._handles.append(module.register_forward_pre_hook(self._pre_hook(point)))
            else:
                self._handles.append(module.register_forward_hook(self._hook(point)))
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def clear(self) -> None:
        self.outputs.clear()

    def _store(self, point: str, value) -> None:
        if self.detach and hasattr(value, "detach"):
            value = value.detach()
        self.outputs[point] = value

    def _hook(self, point: str):
        def hook(module, args, output):
            self._store(point, output)

        return hook

    def _pre_hook(self, point: str):
        def hook(module, args):
            self._store(point, args[0] if args else None)

        return hook
