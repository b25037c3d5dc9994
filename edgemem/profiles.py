"""DeviceProfile: one device's memory, versions and bench defaults, from profiles/<name>.toml.

Profiles are typed TOML read by the shared loader (edgemem.toml_tables) into the dataclasses
below and checked when loaded (every problem named with its file and key). Sizes are written as
strings ("8GiB"). The directory is $EDGEMEM_PROFILES, else profiles/ next to the edgemem package
(a source checkout), else <prefix>/share/edgemem/profiles where a wheel install puts them
(pyproject's data-files). profiles/README.md documents the schema and units.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgemem.budget import Precision
from edgemem.errors import ConfigError
from edgemem.toml_tables import NOT_IN_TOML, Size, from_table, key, read_toml

SCHEMA = 1
BACKENDS = ("tensorrt", "onnxruntime", "tvm")

__all__ = ["DeviceProfile", "BenchDefaults", "load_profile", "list_profiles", "profiles_dir", "read_toml"]


@dataclass(frozen=True)
class BenchDefaults:
    """The ``[bench]`` table: what ``--profile`` fills in when the flag is not given."""

    budget_bytes: Size | None = field(default=None, metadata=key("budget"))  # None: usable_memory
    backend: str = "tensorrt"
    precision: Precision = Precision.FP16
    workspace_bytes: Size | None = field(default=None, metadata=key("workspace"))
    remote_python: str = "/usr/bin/python3"
    tegrastats_interval_ms: int = 100


@dataclass(frozen=True)
class DeviceProfile:
    schema: int
    name: str
    title: str
    soc: str
    compute_capability: str
    memory_bytes: Size = field(metadata=key("memory"))  # physical RAM, shared by CPU and GPU
    usable_memory_bytes: Size = field(metadata=key("usable_memory"))  # what one application can plan to use headless
    jetpack: tuple[str, ...]
    tensorrt: tuple[str, ...]
    python: tuple[str, ...]
    precisions: tuple[Precision, ...]
    bench: BenchDefaults
    linux_memtotal_bytes: Size | None = field(default=None, metadata=key("linux_memtotal"))  # below nominal: carve-outs
    dla_cores: int = 0
    notes: tuple[str, ...] = ()
    # [baseline.<backend>] runtime baselines for verify, typed by edgemem.verify.baseline
    baseline: dict = field(default_factory=dict, hash=False)
    path: str = field(default="", metadata=NOT_IN_TOML)

    @property
    def budget_bytes(self) -> int:
        """--profile's default budget: [bench] budget, else usable_memory."""
        return self.bench.budget_bytes if self.bench.budget_bytes is not None else self.usable_memory_bytes

    @property
    def backend(self) -> str:
        return self.bench.backend

    @property
    def precision(self) -> Precision:
        return self.bench.precision

    @property
    def workspace_bytes(self) -> int | None:
        return self.bench.workspace_bytes

    @property
    def remote_python(self) -> str:
        return self.bench.remote_python

    @property
    def tegrastats_interval_ms(self) -> int:
        return self.bench.tegrastats_interval_ms


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


def profile_from_toml(path: Path) -> DeviceProfile:
    data = read_toml(path, "profile")
    if "schema" in data and data["schema"] != SCHEMA:
        raise ConfigError(f"{path}: schema {data['schema']!r} is not supported (expected {SCHEMA})")
    profile = dataclasses.replace(from_table(DeviceProfile, data, str(path)), path=str(path))
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
    if Precision.FP32 not in p.precisions:
        problems.append("precisions must include fp32")
    if p.precision not in p.precisions:
        problems.append(f"[bench] precision {p.precision.value!r} is not among precisions {[x.value for x in p.precisions]}")
    if p.backend not in BACKENDS:
        problems.append(f"[bench] backend {p.backend!r}: choose {', '.join(BACKENDS)}")
    if not 10 <= p.tegrastats_interval_ms <= 10000:
        problems.append("[bench] tegrastats_interval_ms must be 10..10000")
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
