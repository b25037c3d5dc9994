"""DeviceProfile: one device's memory, versions and bench defaults, from profiles/<name>.toml.

Profiles are typed TOML, validated when loaded (every problem named with its file and key).
Sizes are written as strings ("8GiB") and parsed by edgemem.units.parse_size. The directory is
$EDGEMEM_PROFILES, else profiles/ next to the edgemem package (a source checkout), else
<prefix>/share/edgemem/profiles where a wheel install puts them (pyproject's data-files).
profiles/README.md documents the schema and units.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from edgemem.errors import ConfigError, EdgememError
from edgemem.units import parse_size

SCHEMA = 1
PRECISIONS = ("fp32", "fp16", "int8")
BACKENDS = ("tensorrt", "onnxruntime", "tvm")
REQUIRED = ("schema", "name", "title", "soc", "compute_capability", "memory", "usable_memory", "jetpack",
            "tensorrt", "python", "precisions", "bench")
BENCH_KEYS = ("budget", "backend", "precision", "workspace", "remote_python", "tegrastats_interval_ms")


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    title: str
    soc: str
    compute_capability: str
    memory_bytes: int  # physical RAM, shared by CPU and GPU
    usable_memory_bytes: int  # what one application can plan to use on a headless system
    linux_memtotal_bytes: int | None  # MemTotal Linux reports (below the nominal size: carve-outs)
    jetpack: tuple[str, ...]
    tensorrt: tuple[str, ...]
    python: tuple[str, ...]
    precisions: tuple[str, ...]
    dla_cores: int
    budget_bytes: int  # --profile's default budget
    backend: str
    precision: str
    workspace_bytes: int | None
    remote_python: str
    tegrastats_interval_ms: int
    notes: tuple[str, ...]
    path: str


def profiles_dir() -> Path:
    env = os.environ.get("EDGEMEM_PROFILES")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "profiles"
    installed = Path(sys.prefix) / "share" / "edgemem" / "profiles"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


def list_profiles(directory: Path | None = None) -> list[str]:
    directory = directory or profiles_dir()
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def load_profile(name: str, directory: Path | None = None) -> DeviceProfile:
    """A profile by name (``jetson-orin-nano-8gb``) or by path to a .toml file."""
    path = Path(name)
    if path.suffix != ".toml":
        path = (directory or profiles_dir()) / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(list_profiles(directory)) or "none found"
        raise ConfigError(f"no device profile {name!r} ({path})", hint=f"known profiles: {known}")
    return profile_from_toml(path)


def read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # a dependency on 3.10 (pyproject)
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def profile_from_toml(path: Path) -> DeviceProfile:
    data = read_toml(path)
    where = str(path)
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(missing)}", hint="see profiles/README.md for the schema")
    if data["schema"] != SCHEMA:
        raise ConfigError(f"{where}: schema {data['schema']!r} is not supported (expected {SCHEMA})")
    bench = data["bench"]
    if not isinstance(bench, dict):
        raise ConfigError(f"{where}: [bench] must be a table")
    unknown = sorted(set(bench) - set(BENCH_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown [bench] key(s) {', '.join(unknown)}", hint=f"known: {', '.join(BENCH_KEYS)}")
    memory = size(data, "memory", where)
    usable = size(data, "usable_memory", where)
    budget = size(bench, "budget", where) if "budget" in bench else usable
    precisions = strings(data, "precisions", where)
    profile = DeviceProfile(
        name=text(data, "name", where), title=text(data, "title", where), soc=text(data, "soc", where),
        compute_capability=text(data, "compute_capability", where), memory_bytes=memory, usable_memory_bytes=usable,
        linux_memtotal_bytes=size(data, "linux_memtotal", where) if "linux_memtotal" in data else None,
        jetpack=strings(data, "jetpack", where), tensorrt=strings(data, "tensorrt", where), python=strings(data, "python", where),
        precisions=precisions, dla_cores=integer(data.get("dla_cores", 0), "dla_cores", where),
        budget_bytes=budget, backend=bench.get("backend", "tensorrt"), precision=bench.get("precision", "fp16"),
        workspace_bytes=size(bench, "workspace", where) if "workspace" in bench else None,
        remote_python=bench.get("remote_python", "/usr/bin/python3"),
        tegrastats_interval_ms=integer(bench.get("tegrastats_interval_ms", 100), "tegrastats_interval_ms", where),
        notes=strings(data, "notes", where) if "notes" in data else (), path=where,
    )
    check(profile, path)
    return profile


def check(p: DeviceProfile, path: Path) -> None:
    problems = []
    if p.name != path.stem:
        problems.append(f"name {p.name!r} differs from the file name {path.stem!r}")
    if not 0 < p.usable_memory_bytes <= p.memory_bytes:
        problems.append("usable_memory must be positive and at most memory")
    if p.linux_memtotal_bytes is not None and not p.usable_memory_bytes <= p.linux_memtotal_bytes <= p.memory_bytes:
        problems.append("linux_memtotal must lie between usable_memory and memory")
    if not 0 < p.budget_bytes <= p.memory_bytes:
        problems.append("[bench] budget must be positive and at most memory")
    if not set(p.precisions) <= set(PRECISIONS) or "fp32" not in p.precisions:
        problems.append(f"precisions must include fp32 and come from {', '.join(PRECISIONS)}")
    if p.precision not in p.precisions:
        problems.append(f"[bench] precision {p.precision!r} is not among precisions {list(p.precisions)}")
    if p.backend not in BACKENDS:
        problems.append(f"[bench] backend {p.backend!r}: choose {', '.join(BACKENDS)}")
    if not 10 <= p.tegrastats_interval_ms <= 10000:
        problems.append("[bench] tegrastats_interval_ms must be 10..10000")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))


def text(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value


def strings(data: dict, key: str, where: str) -> tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return tuple(value)


def integer(value, key: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be an integer")
    return value


def size(data: dict, key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a size string such as \"8GiB\"")
    try:
        return parse_size(value)
    except EdgememError as exc:
        raise ConfigError(f"{where}: {key}: {exc.message}") from None
