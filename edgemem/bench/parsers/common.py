"""Pieces shared by the log parsers: the number grammar and unit factors."""

from __future__ import annotations

import math

# C++ ostream default formatting: 6 significant digits, may print 1e-05, inf, nan, -nan.
NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|-?nan"

MIB = 1 << 20
UNIT_BYTES = {"k": 1000, "K": 1024, "kB": 1024, "KB": 1024, "M": MIB, "MB": MIB, "MiB": MIB, "G": 1 << 30,
              "GB": 1 << 30, "GiB": 1 << 30, "B": 1, "": 1}


def number(text: str) -> float:
    """A number as trtexec prints it (``inf``/``nan`` included)."""
    value = text.strip().lower()
    if value in ("inf", "+inf"):
        return math.inf
    if value == "-inf":
        return -math.inf
    if value in ("nan", "-nan"):
        return math.nan
    return float(value)


def mib_bytes(value: float) -> int:
    return int(round(value * MIB))
