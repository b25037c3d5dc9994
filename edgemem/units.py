"""Sizes and durations: the only place where "256MB" / "256MiB" are parsed.

MB, GB, KB are decimal (10^6, 10^9, 10^3 bytes); MiB, GiB, KiB are binary (2^20, 2^30, 2^10).
A bare number is bytes. Single letters (``256M``) are refused as ambiguous.
"""

from __future__ import annotations

import re

from edgemem.errors import UsageError

_FACTORS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Return the number of bytes in ``text`` ("256MB" -> 256000000, "1.5GiB" -> 1610612736)."""
    if isinstance(text, int):
        if text < 0:
            raise UsageError(f"size must not be negative: {text}")
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise UsageError(f"cannot read size {text!r}", hint="write it like 256MB, 512MiB or 1048576")
    number, unit = match.group(1), match.group(2).lower()
    if unit in ("k", "m", "g", "t"):
        raise UsageError(
            f"ambiguous size unit in {text!r}",
            hint=f"write {unit.upper()}B for 10^{ {'k': 3, 'm': 6, 'g': 9, 't': 12}[unit]} or {unit.upper()}iB for 2^{ {'k': 10, 'm': 20, 'g': 30, 't': 40}[unit]}",
        )
    if unit not in _FACTORS:
        raise UsageError(f"unknown size unit {match.group(2)!r} in {text!r}", hint="use B, KB, MB, GB, KiB, MiB or GiB")
    return int(round(float(number) * _FACTORS[unit]))


def format_bytes(n_bytes: int | float | None, binary: bool = True) -> str:
    """Human-readable size: binary units by default ("3.66 MiB"), decimal with ``binary=False``."""
    if n_bytes is None:
        return "-"
    sign = "-" if n_bytes < 0 else ""
    value = float(abs(n_bytes))
    step, names = (1024.0, ["B", "KiB", "MiB", "GiB", "TiB"]) if binary else (1000.0, ["B", "kB", "MB", "GB", "TB"])
    for name in names:
        if value < step or name == names[-1]:
            return f"{sign}{int(value)} {name}" if name == "B" else f"{sign}{value:.2f} {name}"
        value /= step
    raise AssertionError("unreachable")


_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*(ms|s|m|min|h)?\s*$")


def parse_duration_s(text: str | float) -> float:
    """Seconds from "10", "10s", "500ms", "2m", "1h"."""
    if isinstance(text, (int, float)):
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise UsageError(f"cannot read duration {text!r}", hint="write it like 10s, 500ms or 2m")
    factor = {None: 1.0, "s": 1.0, "ms": 1e-3, "m": 60.0, "min": 60.0, "h": 3600.0}[match.group(2)]
    return float(match.group(1)) * factor


def parse_shape(text: str) -> tuple[int, ...]:
    """"1x3x224x224" (or "1,3,224,224") -> (1, 3, 224, 224)."""
    parts = re.split(r"[x,]", text.strip().lower())
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise UsageError(f"cannot read shape {text!r}", hint="write it like 1x3x224x224") from None
    if not dims or any(d < 0 for d in dims):
        raise UsageError(f"cannot read shape {text!r}", hint="write it like 1x3x224x224")
    return dims
