"""Fleets: an inventory of devices (TOML) and one job run on all of them concurrently.

Inventory (``--inventory devices.toml``; deploy/inventory.example.toml is an example)::

    [defaults]                      # applies to every device unless it sets its own
    remote_python = "/usr/bin/python3"
    known_hosts = "~/.ssh/known_hosts"

    [[device]]
    name = "orin-1"                 # label in tables and result files
    host = "nvidia@10.0.0.5"        # user@host, an ssh-config alias, or "local"
    port = 22                       # optional; also identity, ssh_config, fingerprint,
    profile = "jetson-orin-nano-8gb"  # trust_on_first_use, remote_dir, remote_python, tools

Every key is typed and checked (a wrong one is a one-line error naming the file, the device
and the key). For each device a key set in its table wins, then [defaults], then the command
line's flag, then the built-in default; a device's ``profile`` sets its backend, precision,
budget, workspace and Python like --profile does (explicit flags still win). Each device runs
in its own thread with its own SSH connection; one device failing does not stop the others;
every outcome (result or one-line error) comes back in inventory order. Ctrl-C and SIGTERM
cancel every device's job (stop.py) and each keeps its partial result.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from edgemem.bench.client import SshOptions
from edgemem.bench.request import BenchRequest
from edgemem.bench.result import BenchResult
from edgemem.bench.run import LOCAL, RunPolicy, Target, attach_bench, run_bench
from edgemem.bench.stop import StopRequest, stop_on_signals
from edgemem.errors import ConfigError, EdgememError, UsageError
from edgemem.profiles import load_profile, read_toml

KEY_TYPES = {"name": str, "host": str, "port": int, "identity": str, "ssh_config": str, "known_hosts": str,
             "fingerprint": str, "trust_on_first_use": bool, "remote_dir": str, "remote_python": str, "profile": str,
             "tools": dict, "connect_timeout_s": (int, float)}
TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", dict: "a table", (int, float): "a number"}
DEVICE_ONLY = ("name", "host")
DEFAULT_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SshDefaults:
    """Connection settings of a command line (None: not given) or of one inventory device."""

    port: int | None = None
    identity: str | None = None
    ssh_config: str | None = None
    known_hosts: str | None = None
    fingerprint: str | None = None
    trust_on_first_use: bool = False
    remote_dir: str | None = None
    remote_python: str | None = None  # everywhere, local included
    device_python: str | None = None  # SSH devices only (a profile's /usr/bin/python3)
    connect_timeout_s: float | None = None


@dataclass(frozen=True)
class FleetEntry:
    name: str
    target: Target
    profile: str | None = None
    tools: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FleetOutcome:
    entry: FleetEntry
    result: BenchResult | None
    error: str | None  # one line, when the run could not produce a result
    error_code: str | None = None


def target_for(host: str, d: SshDefaults, name: str | None = None) -> Target:
    if host == LOCAL:
        return Target(name or LOCAL, None, d.remote_dir, d.remote_python)
    timeout = d.connect_timeout_s if d.connect_timeout_s is not None else DEFAULT_CONNECT_TIMEOUT_S
    options = SshOptions(destination=host, port=d.port, identity=expand(d.identity), ssh_config=expand(d.ssh_config),
                         known_hosts=expand(d.known_hosts), fingerprint=d.fingerprint,
                         trust_on_first_use=d.trust_on_first_use, connect_timeout_s=float(timeout))
    return Target(name or host, options, d.remote_dir, d.remote_python or d.device_python)


def expand(path: str | None) -> str | None:
    return str(Path(path).expanduser()) if path else None


def check_table(table: object, where: str, allowed: tuple[str, ...]) -> dict:
    """Every key known and of its type, else a one-line ConfigError naming ``where`` and the key."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r}", hint=f"known: {', '.join(sorted(allowed))}")
        expected = KEY_TYPES[key]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(f"{where}: {key} must be {TYPE_WORDS[expected]}, not {value!r}")
    for tool, path in (table.get("tools") or {}).items():
        if not isinstance(path, str):
            raise ConfigError(f"{where}: tools.{tool} must be a string (a path on the device)")
    return table


def given(overrides: SshDefaults | None) -> dict:
    """The command line's settings that were given (None and False mean: not given)."""
    if overrides is None:
        return {}
    return {f.name: getattr(overrides, f.name) for f in fields(overrides) if getattr(overrides, f.name) not in (None, False)}


def profile_python(path: Path, where: str, name: str | None) -> str | None:
    """The device profile's Python, after checking the profile exists and is valid."""
    if name is None:
        return None
    try:
        return load_profile(name).remote_python
    except EdgememError as exc:
        raise ConfigError(f"{path}: {where}: profile {name!r}: {exc.message}", hint=exc.hint) from None


def entry_for(path: Path, index: int, device: object, defaults: dict, cli: dict) -> FleetEntry:
    where = f"device {index}"
    device = check_table(device, f"{path}: {where}", tuple(KEY_TYPES))
    if not isinstance(device.get("host"), str):
        raise ConfigError(f"{path}: {where}: host must be a string (user@host, alias or local)")
    name = str(device.get("name") or device["host"])
    where = f"device {index} ({name})"
    inventory = {**defaults, **device}
    merged = {**cli, **inventory}
    if "fingerprint" in inventory and "trust_on_first_use" not in inventory:
        merged["trust_on_first_use"] = False  # a pinned fingerprint is never loosened by a flag
    python = profile_python(path, where, merged.get("profile"))
    keys = {f.name for f in fields(SshDefaults)}
    settings = SshDefaults(**{k: v for k, v in merged.items() if k in keys})
    if python is not None:
        settings = replace(settings, device_python=python)
    return FleetEntry(name, target_for(device["host"], settings, name), merged.get("profile"), dict(merged.get("tools") or {}))


def load_inventory(path: Path, overrides: SshDefaults | None = None) -> list[FleetEntry]:
    data = read_toml(path)
    check_table({k: v for k, v in data.items() if k not in ("defaults", "device")}, str(path), ())
    defaults = check_table(data.get("defaults", {}), f"{path}: [defaults]", tuple(k for k in KEY_TYPES if k not in DEVICE_ONLY))
    devices = data.get("device")
    if not isinstance(devices, list) or not devices:
        raise ConfigError(f"{path}: no [[device]] entries")
    cli = given(overrides)
    if cli.get("fingerprint") and len(devices) > 1:
        raise UsageError("--fingerprint pins one host's key; set fingerprint per device in the inventory")
    entries, names = [], set()
    for index, device in enumerate(devices, 1):
        entry = entry_for(path, index, device, defaults, cli)
        if entry.name in names:
            raise ConfigError(f"{path}: device name {entry.name!r} appears twice")
        names.add(entry.name)
        entries.append(entry)
    return entries


def run_fleet(jobs: list[tuple[FleetEntry, BenchRequest]], artifacts_root: Path, max_parallel: int = 8,
              on_progress: Callable[[str, dict], None] | None = None, cancel: StopRequest | None = None,
              policy: RunPolicy = RunPolicy()) -> list[FleetOutcome]:
    """Run every (entry, request) concurrently; outcomes in the order given."""
    stop = cancel if cancel is not None else StopRequest()

    def one(job: tuple[FleetEntry, BenchRequest]) -> FleetOutcome:
        entry, request = job
        return outcome(entry, lambda: run_bench(request, entry.target, artifacts_root, on_progress, stop, policy))

    with stop_on_signals(stop), ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(jobs)))) as pool:
        return [future.result() for future in [pool.submit(one, job) for job in jobs]]


def attach(run_id: str, entry: FleetEntry, artifacts_root: Path, on_progress: Callable[[str, dict], None] | None = None,
           cancel: StopRequest | None = None, policy: RunPolicy = RunPolicy()) -> FleetOutcome:
    """Reattach to run ``run_id`` on one device (Ctrl-C and SIGTERM cancel it, as for a new run)."""
    stop = cancel if cancel is not None else StopRequest()
    with stop_on_signals(stop):
        return outcome(entry, lambda: attach_bench(run_id, entry.target, artifacts_root, on_progress, stop, policy))


def outcome(entry: FleetEntry, work: Callable[[], BenchResult]) -> FleetOutcome:
    try:
        return FleetOutcome(entry, work(), None)
    except UsageError:
        raise  # the same for every device: stop and say it once
    except EdgememError as exc:
        return FleetOutcome(entry, None, exc.one_line(), getattr(exc, "code", "error"))
    except Exception as exc:  # one device's bug must not hide the others' results
        return FleetOutcome(entry, None, f"internal error: {type(exc).__name__}: {exc}", "internal")
