"""Flag values parsed by the framework (typer ``parser=``): a bad value is click's usage error, exit 2.

Sizes and durations go through edgemem.units; NAME=SHAPE and SYMBOL=N bindings are checked to be
whole, positive and within int64 here; comma lists of choices are split and checked against an
Enum. Output paths are checked before any work (a missing folder, a directory where a file goes,
a file where a folder goes).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import typer

from edgemem.errors import EdgememError, UsageError
from edgemem.units import parse_duration_s, parse_shape, parse_size

MAX_DIM = 2**63 - 1  # ONNX dims are int64
E = TypeVar("E", bound=Enum)


def _usage(parse: Callable):
    def parser(value):
        if value is None or not isinstance(value, str):
            return value
        try:
            return parse(value)
        except EdgememError as exc:
            raise typer.BadParameter(exc.one_line()) from None

    return parser


size = _usage(parse_size)
duration_s = _usage(parse_duration_s)


def _positive_size(text: str) -> int:
    value = parse_size(text)
    if value <= 0:
        raise UsageError(f"{text!r}: a budget must be more than 0 bytes")
    return value


budget_size = _usage(_positive_size)


def _dims(values: Iterable[int], text: str, example: str) -> None:
    for d in values:
        if not 1 <= d <= MAX_DIM:
            raise UsageError(f"{text!r}: every dimension must be 1 .. 2^63-1", hint=f"write it like {example}")


def _shape_binding(text: str) -> tuple[str, tuple[int, ...]]:
    name, sep, shape = text.rpartition("=")
    if not sep or not name:
        raise UsageError(f"{text!r}: expected NAME=1x3x224x224")
    dims = parse_shape(shape)
    _dims(dims, text, "NAME=1x3x224x224")
    return name, dims


def _dim_binding(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip().isdigit():
        raise UsageError(f"{text!r}: expected SYMBOL=N, e.g. batch=1")
    _dims((int(value),), text, "batch=1")
    return name.strip(), int(value)


shape_binding = _usage(_shape_binding)
dim_binding = _usage(_dim_binding)


def choice_list(enum: type[E], what: str = "choice") -> Callable[[str], tuple[E, ...]]:
    """A parser of "a,b" into Enum members (case-insensitive), for repeatable comma-separated flags."""

    def parse(text: str) -> tuple[E, ...]:
        members = []
        for item in (v.strip() for v in text.split(",")):
            if not item:
                continue
            match = next((m for m in enum if m.value.lower() == item.lower()), None)
            if match is None:
                raise UsageError(f"unknown {what} {item!r}", hint=f"choose from {', '.join(m.value for m in enum)}")
            members.append(match)
        return tuple(members)

    return _usage(parse)


def metavar(enum: type[Enum], many: bool = False) -> str:
    """``[a|b|c]`` (or ``a|b|c,...`` for comma lists) for --help."""
    names = "|".join(m.value for m in enum)
    return f"{names},..." if many else f"[{names}]"


def flatten(groups: Iterable[Iterable[E]] | None) -> tuple[E, ...]:
    """Repeated comma lists as one tuple, first occurrence first."""
    return tuple(dict.fromkeys(m for group in groups or () for m in group))


def output_file(path: Path | None, flag: str) -> Path | None:
    """A file the command will write: its folder must exist and it must not be a directory."""
    if path is None:
        return None
    if path.is_dir():
        raise UsageError(f"{flag} {path}: is a directory", hint="give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {str(path.parent)!r} does not exist")
    return path


def output_dir(path: Path | None, flag: str) -> Path | None:
    """A folder the command will create or fill: it must not be a file, nor sit under one."""
    if path is None:
        return None
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            raise UsageError(f"{flag} {path}: {str(part)!r} is a file, not a folder", hint="give a folder name")
    return path


def bindings(values, flag: str) -> dict:
    """Repeated NAME=VALUE pairs as a dict; a name given twice is a usage error."""
    result = {}
    for name, value in values or ():
        if name in result:
            raise UsageError(f"{flag} names {name!r} twice")
        result[name] = value
    return result
