"""Parsers for repeated CLI values (NAME=VALUE pairs, comma lists) shared by the commands."""

from __future__ import annotations

from edgemem.errors import UsageError
from edgemem.units import parse_shape


def parse_input_shapes(values: list[str] | None) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in values or []:
        name, sep, shape = item.rpartition("=")
        if not sep or not name:
            raise UsageError(f"--input-shape {item!r}: expected NAME=1x3x224x224")
        shapes[name] = parse_shape(shape)
    return shapes


def parse_dims(values: list[str] | None) -> dict[str, int]:
    dims = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise UsageError(f"--dim {item!r}: expected SYMBOL=N, e.g. batch=1")
        dims[name.strip()] = int(value)
    return dims


def parse_list(values: list[str] | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        return default
    items = []
    for value in values:
        items.extend(v.strip() for v in value.split(",") if v.strip())
    return tuple(dict.fromkeys(items))
