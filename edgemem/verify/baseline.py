"""A runtime baseline from a device profile's ``[baseline.<backend>]`` table (profiles/README.md)."""

from __future__ import annotations

from pathlib import Path

from edgemem.errors import ConfigError, EdgememError
from edgemem.memory.runtime.prediction import RuntimeBaseline
from edgemem.profiles import read_toml
from edgemem.units import parse_size

FIELDS = {"import": "import_bytes", "session": "session_bytes", "per_node": "per_node_bytes", "inputs": "inputs_bytes",
          "first_run": "first_run_bytes"}


def baseline_from_table(table: dict | None, backend: str, where: str) -> RuntimeBaseline:
    """``RuntimeBaseline`` for ``backend``; every figure None (unknown) unless the table says measured."""
    if not table or table.get("status", "unknown") == "unknown":
        return RuntimeBaseline(source=f"unknown: {where} has no measured {backend} baseline")
    if table.get("status") != "measured":
        raise ConfigError(f"{where}: [baseline.{backend}] status must be \"measured\" or \"unknown\"")
    values = {}
    for key, field in FIELDS.items():
        if key not in table:
            raise ConfigError(f"{where}: [baseline.{backend}] lacks {key}", hint="see profiles/README.md")
        try:
            values[field] = parse_size(str(table[key]))
        except EdgememError as exc:
            raise ConfigError(f"{where}: [baseline.{backend}] {key}: {exc.message}") from None
    return RuntimeBaseline(**values, source=f"measured on the device ({where}: {table.get('measured_with', 'no details')})")


def profile_baseline(path: str | Path, backend: str) -> RuntimeBaseline:
    path = Path(path)
    table = (read_toml(path).get("baseline") or {}).get(backend)
    return baseline_from_table(table, backend, f"profile {path.stem}")
