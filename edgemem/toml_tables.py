"""TOML tables <-> frozen dataclasses: the one typed loader of run configs, profiles and inventories.

``from_table(cls, table, where)`` builds ``cls`` from a TOML table, converting each value to its
field's annotation and naming the file, table and key in every error (a one-line ConfigError):

    bool, int, float, str, Path      exact TOML types (an int is accepted for a float)
    an Enum                          its value, case-insensitive ("FP16" -> Precision.FP16)
    Size (Annotated[int, SIZE])      "256MB", "8GiB" or an int of bytes (edgemem.units.parse_size)
    X | None, tuple[X, ...], dict    optional values, lists, free tables
    a dataclass                      a sub-table, filled over the field's default

A field's TOML key is its name unless ``field(metadata=key("budget"))`` says otherwise; fields
without a default are required. ``to_table`` / ``to_toml`` write a dataclass back so that
``from_table`` reads an equal one. Standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import sys
import tempfile
import types
import typing
from pathlib import Path
from typing import Annotated, Any

from edgemem.errors import ConfigError, EdgememError
from edgemem.units import parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # a dependency on 3.10 (pyproject)
    import tomli as tomllib


class _SizeMarker:
    """Marks an int field written as a size string."""


SIZE = _SizeMarker()
Size = Annotated[int, SIZE]


def key(name: str) -> dict:
    """Field metadata: the TOML key of a field whose Python name differs."""
    return {"toml_key": name}


NOT_IN_TOML = {"toml_skip": True}  # field metadata: set by the loader's caller, never read or written


def toml_key(f: dataclasses.Field) -> str:
    return f.metadata.get("toml_key", f.name)


def toml_fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("toml_skip")]


def read_toml(path: str | Path, what: str = "file") -> dict:
    """The parsed document; a one-line ConfigError naming ``path`` when it is missing or not TOML."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def from_table(cls, table: Any, where: str, base=None):
    """``cls`` (a dataclass) from ``table``; ``base`` supplies the values the table leaves out."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {_kind(table)}")
    fields = {toml_key(f): f for f in toml_fields(cls)}
    unknown = [k for k in table if k not in fields]
    if unknown:
        raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}",
                          hint=f"known: {', '.join(fields)}")
    hints = typing.get_type_hints(cls, include_extras=True)
    if base is None:
        missing = [k for k, f in fields.items() if k not in table and _required(f)]
        if missing:
            raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}")
    values = {}
    for name, value in table.items():
        f = fields[name]
        current = getattr(base, f.name) if base is not None else _default(f)
        inner = f"{where}: [{name}]" if dataclasses.is_dataclass(_bare(hints[f.name])) else _at(where, name)
        values[f.name] = convert(value, hints[f.name], inner, current)
    if base is not None:
        return dataclasses.replace(base, **values)
    return cls(**values)


def convert(value: Any, annotation: Any, where: str, current: Any = None) -> Any:
    """``value`` as ``annotation`` (see the module docstring); ``current`` is the default a sub-table fills."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *marks = typing.get_args(annotation)
        return _size(value, where) if SIZE in marks else convert(value, inner, where, current)
    if origin in (typing.Union, types.UnionType):
        return _union(value, annotation, where, current)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {_kind(value)}")
        inner = typing.get_args(annotation)[0]
        return tuple(convert(v, inner, where) for v in value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {_kind(value)}")
        return dict(value)
    if dataclasses.is_dataclass(annotation):
        return from_table(annotation, value, where, base=current if dataclasses.is_dataclass(current) else None)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum(value, annotation, where)
    return _scalar(value, annotation, where)


def _union(value, annotation, where, current):
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    if value is None:
        return None
    errors = []
    for option in options:
        try:
            return convert(value, option, where, current)
        except ConfigError as exc:
            errors.append(exc)
    raise errors[0]


def _scalar(value, annotation, where):
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_kind(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {_kind(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {_kind(value)}")
        return float(value)
    if annotation in (str, Path):
        if not isinstance(value, (str, Path)):
            raise ConfigError(f"{where}: expected a string, got {_kind(value)}")
        return annotation(value)
    if annotation is Any:
        return value
    raise ConfigError(f"{where}: unsupported setting type {annotation}")


def _enum(value, cls, where):
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        for member in cls:
            if str(member.value).lower() == value.strip().lower():
                return member
    raise ConfigError(f"{where} {value!r}: choose {', '.join(str(m.value) for m in cls)}")


def _size(value, where) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"{where}: expected a size such as \"256MiB\", got {_kind(value)}")
    try:
        return parse_size(value)
    except EdgememError as exc:
        raise ConfigError(f"{where}: {exc.one_line()}") from None


def to_table(obj) -> dict:
    """A dataclass as a TOML-shaped dict (None left out, enums as values, sub-dataclasses as tables)."""
    table = {}
    for f in toml_fields(obj):
        value = _plain(getattr(obj, f.name))
        if value is not None:
            table[toml_key(f)] = value
    return table


def _plain(value):
    if dataclasses.is_dataclass(value):
        return to_table(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    return value


def to_toml(table: dict) -> str:
    """``table`` (see ``to_table``) as TOML text: plain keys first, then one [table] per sub-table."""
    plain = [f"{k} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines = plain
    for name, sub in table.items():
        if isinstance(sub, dict):
            lines += ["", f"[{name}]"] + [f"{k} = {_value(v)}" for k, v in sub.items()]
    return "\n".join(lines) + "\n"


def write_toml(table: dict, path: Path) -> Path:
    """``to_toml(table)`` written atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(to_toml(table))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _bare(annotation):
    """``X`` of ``X | None`` (the type a sub-table is read as)."""
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    return options[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(options) == 1 else annotation


def _at(where: str, name: str) -> str:
    return f"{where} {name}" if where.endswith("]") else f"{where}: {name}"


def _required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
