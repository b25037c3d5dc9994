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
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

from edgemem.bench.client import SshOptions
from edgemem.bench.request import BenchRequest
from edgemem.bench.result import BenchResult
from edgemem.bench.run import LOCAL, RunPolicy, Target, attach_bench, run_bench
from edgemem.bench.stop import StopRequest, stop_on_signals
from edgemem.errors import ConfigError, EdgememError, UsageError
from edgemem.profiles import load_profile
from edgemem.toml_tables import from_table, read_toml

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


@dataclass(frozen=True)
class DefaultsTable:
    """``[defaults]`` of an inventory: None where it says nothing (read by edgemem.toml_tables)."""

    port: int | None = None
    identity: str | None = None
    ssh_config: str | None = None
    known_hosts: str | None = None
    fingerprint: str | None = None
    trust_on_first_use: bool | None = None
    remote_dir: str | None = None
    remote_python: str | None = None
    profile: str | None = None
    tools: dict | None = None
    connect_timeout_s: float | None = None


@dataclass(frozen=True)
class DeviceTable(DefaultsTable):
    """One ``[[device]]``: its own keys, plus its name and host."""

    name: str | None = None
    host: str | None = None


def set_keys(table: DefaultsTable) -> dict:
    return {k: v for k, v in asdict(table).items() if v is not None}


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


def check_tools(tools: dict, where: str) -> dict:
    for tool, value in tools.items():
        if not isinstance(value, str):
            raise ConfigError(f"{where}: tools.{tool} must be a string (a path on the device)")
    return dict(tools)


def entry_for(path: Path, index: int, table: object, defaults: dict, cli: dict) -> FleetEntry:
    device = from_table(DeviceTable, table, f"{path}: device {index}")
    if device.host is None:
        raise ConfigError(f"{path}: device {index}: host must be a string (user@host, alias or local)")
    name = device.name or device.host
    where = f"device {index} ({name})"
    inventory = {**defaults, **set_keys(device)}
    merged = {**cli, **inventory}
    if "fingerprint" in inventory and "trust_on_first_use" not in inventory:
        merged["trust_on_first_use"] = False  # a pinned fingerprint is never loosened by a flag
    python = profile_python(path, where, merged.get("profile"))
    keys = {f.name for f in fields(SshDefaults)}
    settings = SshDefaults(**{k: v for k, v in merged.items() if k in keys})
    if python is not None:
        settings = replace(settings, device_python=python)
    tools = check_tools(merged.get("tools") or {}, f"{path}: {where}")
    try:
        target = target_for(device.host, settings, name)
    except UsageError as exc:  # the flag's wording, placed in the file: "--fingerprint 'x' ..." -> "fingerprint 'x' ..."
        raise ConfigError(f"{path}: device {name!r}: {exc.message.removeprefix('--')}", hint=exc.hint) from None
    return FleetEntry(name, target, merged.get("profile"), tools)


def load_inventory(path: Path, overrides: SshDefaults | None = None) -> list[FleetEntry]:
    data = read_toml(path, "inventory")
    extra = sorted(set(data) - {"defaults", "device"})
    if extra:
        raise ConfigError(f"{path}: unknown key {extra[0]!r}", hint="an inventory has [defaults] and [[device]] tables")
    defaults = set_keys(from_table(DefaultsTable, data.get("defaults", {}), f"{path}: [defaults]"))
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
