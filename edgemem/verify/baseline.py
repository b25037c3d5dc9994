"""A runtime baseline from a device profile's ``[baseline.<backend>]`` table (profiles/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgemem.errors import ConfigError
from edgemem.memory.runtime.prediction import RuntimeBaseline
from edgemem.profiles import DeviceProfile
from edgemem.toml_tables import Size, from_table, key

STATUSES = ("measured", "unknown")


@dataclass(frozen=True)
class BaselineTable:
    """One ``[baseline.<backend>]`` table; every figure is required when ``status = "measured"``."""

    status: str = "unknown"
    import_bytes: Size | None = field(default=None, metadata=key("import"))
    session_bytes: Size | None = field(default=None, metadata=key("session"))
    per_node_bytes: Size | None = field(default=None, metadata=key("per_node"))
    inputs_bytes: Size | None = field(default=None, metadata=key("inputs"))
    first_run_bytes: Size | None = field(default=None, metadata=key("first_run"))
    measured_with: str = ""


FIGURES = ("import_bytes", "session_bytes", "per_node_bytes", "inputs_bytes", "first_run_bytes")


def baseline_from_table(table: dict | None, backend: str, where: str) -> RuntimeBaseline:
    """``RuntimeBaseline`` for ``backend``; every figure None (unknown) unless the table says measured."""
    parsed = from_table(BaselineTable, table or {}, f"{where} [baseline.{backend}]")
    if parsed.status not in STATUSES:
        raise ConfigError(f"{where} [baseline.{backend}]: status must be \"measured\" or \"unknown\", got {parsed.status!r}")
    if parsed.status == "unknown":
        return RuntimeBaseline(source=f"unknown: {where} has no measured {backend} baseline")
    missing = [f for f in FIGURES if getattr(parsed, f) is None]
    if missing:
        raise ConfigError(f"{where} [baseline.{backend}]: measured, but {', '.join(missing)} missing",
                          hint="see profiles/README.md")
    return RuntimeBaseline(**{f: getattr(parsed, f) for f in FIGURES},
                           source=f"measured on the device ({where}: {parsed.measured_with or 'no details'})")


def profile_baseline(profile: DeviceProfile, backend: str) -> RuntimeBaseline:
    return baseline_from_table(profile.baseline.get(backend), backend, f"profile {profile.name}")
