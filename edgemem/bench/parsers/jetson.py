"""Device identity texts -> versions: nvpmodel -q, /etc/nv_tegra_release, CUDA's version file.

L4T -> JetPack uses only the pairs documented in shared/reference/device-formats.md (from
rbonghi/jetson_stats jetson_variables.py); an L4T release not listed maps to None, never a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

L4T_RELEASE = re.compile(r"^#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)")
NV_POWER_MODE = re.compile(r"^NV Power Mode:\s*(.+?)\s*$")
# exact L4T release -> JetPack; a "32.7" key matches every 32.7.x
L4T_TO_JETPACK = {
    "32.7": "4.6.x",
    "35.2.1": "5.1",
    "35.4.1": "5.1.2",
    "36.3.0": "6.0",
    "36.4.0": "6.1",
    "36.4.3": "6.2",
    "38.2": "7.0",
    "39.2.0": "7.2",
}


@dataclass(frozen=True)
class PowerMode:
    name: str | None
    mode_id: int | None
    errors: tuple[str, ...]  # "NVPM ERROR" lines (non-root on older JetPacks)


def parse_nvpmodel(text: str | None) -> PowerMode | None:
    """``nvpmodel -q``: "NV Power Mode: NAME", then the id on its own line."""
    if not text:
        return None
    name, mode_id, errors = None, None, []
    lines = [line.strip() for line in text.splitlines()]
    for i, line in enumerate(lines):
        match = NV_POWER_MODE.match(line)
        if match:
            name = match.group(1)
            following = lines[i + 1] if i + 1 < len(lines) else ""
            mode_id = int(following) if following.isdigit() else None
        elif line.startswith("NVPM ERROR"):
            errors.append(line)
    if name is None and mode_id is None:
        return None
    return PowerMode(name=name, mode_id=mode_id, errors=tuple(errors))


def parse_l4t(lines: list[str] | str | None) -> str | None:
    """First line of /etc/nv_tegra_release -> "32.7.1"."""
    if not lines:
        return None
    first = lines if isinstance(lines, str) else lines[0]
    match = L4T_RELEASE.match(first.strip())
    return f"{match.group(1)}.{match.group(2)}" if match else None


def jetpack_for(l4t: str | None) -> str | None:
    if not l4t:
        return None
    if l4t in L4T_TO_JETPACK:
        return L4T_TO_JETPACK[l4t]
    parts = l4t.split(".")
    for n in (2, 1):
        key = ".".join(parts[:n])
        if key in L4T_TO_JETPACK and len(key.split(".")) < 3:
            return L4T_TO_JETPACK[key]
    return None


def parse_cuda_version(text: str | None) -> str | None:
    """/usr/local/cuda/version.json ({"cuda": {"version": ...}}) or version.txt ("CUDA Version 10.2.300")."""
    if not text:
        return None
    try:
        return str(json.loads(text)["cuda"]["version"])
    except (ValueError, KeyError, TypeError):
        pass
    match = re.search(r"CUDA Version\s+([\d.]+)", text)
    return match.group(1) if match else None
