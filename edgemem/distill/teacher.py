"""Load a teacher: a zoo name or ``package.module:factory`` (or ``path/to/file.py:factory``),
optionally with weights from a state dict or a checkpoint holding one under "model"/"state_dict".

Every way a weights file can be wrong (missing, empty, not a PyTorch file, no state dict inside,
keys or shapes that do not match the model) becomes one ConfigError line naming the file and the
first mismatching key. Files are read with ``torch.load(weights_only=True)``: no code runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from edgemem.errors import ConfigError

STATE_KEYS = ("model", "state_dict", "model_state_dict", "student")


def import_factory(spec: str):
    """``package.module:factory`` or ``path/to/file.py:factory`` -> the callable."""
    module_name, _, attr = spec.rpartition(":")
    if not module_name or not attr:
        raise ConfigError(f"teacher {spec!r}: write a zoo name or package.module:factory")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ConfigError(f"teacher {spec!r}: {path} does not exist")
            unit = importlib.util.spec_from_file_location(f"edgemem_user_teacher_{abs(hash(str(path.resolve())))}", path)
            module = importlib.util.module_from_spec(unit)
            sys.modules[unit.name] = module
            unit.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"teacher {spec!r}: cannot import {module_name}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ConfigError(f"teacher {spec!r}: {module_name} has no callable {attr!r}")
    return factory


def call_factory(factory, spec: str, num_classes: int, in_channels: int | None):
    """Call a user factory with the keyword arguments it accepts (num_classes, in_channels)."""
    from torch import nn

    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        parameters = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {}
    for key, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if value is not None and (takes_any or key in parameters):
            kwargs[key] = value
    try:
        model = factory(**kwargs)
    except Exception as exc:
        raise ConfigError(f"teacher {spec!r}: the factory failed: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"teacher {spec!r}: the factory returned {type(model).__name__}, not a torch.nn.Module")
    return model


def build_teacher(spec: str, num_classes: int, in_channels: int | None):
    from edgemem.distill.zoo import build_model

    if ":" in spec:
        model = call_factory(import_factory(spec), spec, num_classes, in_channels)
    else:
        model = build_model(spec, num_classes=num_classes, in_channels=in_channels)
    if not getattr(model, "edgemem_name", None):
        try:
            model.edgemem_name = spec
        except Exception:  # a module that refuses new attributes keeps its class name
            pass
    return model


def read_state_dict(path: Path) -> dict:
    """The state dict inside ``path``: the file itself, or its "model"/"state_dict" entry."""
    import torch

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: weights file does not exist")
    if not path.is_file() or path.stat().st_size == 0:
        raise ConfigError(f"{path}: weights file is empty or not a file")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: {reason})") from None
    if isinstance(obj, dict):
        for key in STATE_KEYS:
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        raise ConfigError(f"{path}: holds no state dict (expected name -> tensor, or a checkpoint with 'model' or 'state_dict')")
    if all(k.startswith("module.") for k in obj):  # saved from DataParallel / DDP
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def check_state_dict(model, state: dict, path: Path, spec: str) -> None:
    """One line naming the first missing, unexpected or mis-shaped key."""
    expected = model.state_dict()
    for key, value in expected.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue
            raise ConfigError(f"{path}: does not match teacher {spec!r}: key {key!r} {tuple(value.shape)} is missing from the file")
        if tuple(state[key].shape) != tuple(value.shape):
            raise ConfigError(
                f"{path}: does not match teacher {spec!r}: {key!r} has shape {tuple(state[key].shape)} in the file, "
                f"the model expects {tuple(value.shape)}"
            )
    for key in state:
        if key not in expected:
            raise ConfigError(f"{path}: does not match teacher {spec!r}: the file has key {key!r} the model does not")


def load_weights(model, weights: Path | None, spec: str):
    """Load ``weights`` (checked key by key) into ``model`` and put it in eval mode; nothing when None."""
    if weights is not None:
        state = read_state_dict(Path(weights))
        check_state_dict(model, state, Path(weights), spec)
        model.load_state_dict(state, strict=False)
        model.eval()
    return model


def load_teacher(spec: str, num_classes: int, in_channels: int | None, weights: Path | None):
    """Build teacher ``spec``; load ``weights`` when given (then the teacher is in eval mode)."""
    return load_weights(build_teacher(spec, num_classes, in_channels), weights, spec)
