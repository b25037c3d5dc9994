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

Each device runs in its own thread with its own SSH connection; one device failing does not
stop the others; every outcome (result or one-line error) comes back in inventory order.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from edgemem.bench.client import SshOptions
from edgemem.bench.request import BenchRequest
from edgemem.bench.result import BenchResult
from edgemem.bench.run import LOCAL, Target, run_bench
from edgemem.errors import ConfigError, EdgememError, UsageError

DEVICE_KEYS = {"name", "host", "port", "identity", "ssh_config", "known_hosts", "fingerprint", "trust_on_first_use",
               "remote_dir", "remote_python", "profile", "tools", "connect_timeout_s"}


@dataclass(frozen=True)
class SshDefaults:
    """Connection settings shared by the hosts of one command line or inventory."""

    port: int | None = None
    identity: str | None = None
    ssh_config: str | None = None
    known_hosts: str | None = None
    fingerprint: str | None = None
    trust_on_first_use: bool = False
    remote_dir: str | None = None
    remote_python: str | None = None  # everywhere, local included
    device_python: str | None = None  # SSH devices only (a profile's /usr/bin/python3)
    connect_timeout_s: float = 10.0


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
    options = SshOptions(destination=host, port=d.port, identity=expand(d.identity), ssh_config=expand(d.ssh_config),
                         known_hosts=expand(d.known_hosts), fingerprint=d.fingerprint,
                         trust_on_first_use=d.trust_on_first_use, connect_timeout_s=d.connect_timeout_s)
    return Target(name or host, options, d.remote_dir, d.remote_python or d.device_python)


def expand(path: str | None) -> str | None:
    return str(Path(path).expanduser()) if path else None


def load_inventory(path: Path, overrides: SshDefaults | None = None) -> list[FleetEntry]:
    from edgemem.profiles import read_toml

    if not Path(path).is_file():
        raise ConfigError(f"--inventory {path}: no such file")
    data = read_toml(path)
    defaults = data.get("defaults", {})
    devices = data.get("device")
    if not isinstance(devices, list) or not devices:
        raise ConfigError(f"{path}: no [[device]] entries")
    entries, names = [], set()
    for i, device in enumerate(devices, 1):
        merged = {**defaults, **device}
        unknown = sorted(set(merged) - DEVICE_KEYS)
        if unknown:
            raise ConfigError(f"{path}: device {i}: unknown key(s) {', '.join(unknown)}", hint=f"known: {', '.join(sorted(DEVICE_KEYS))}")
        if not isinstance(merged.get("host"), str):
            raise ConfigError(f"{path}: device {i}: host must be a string (user@host, alias or local)")
        name = str(merged.get("name") or merged["host"])
        if name in names:
            raise ConfigError(f"{path}: device name {name!r} appears twice")
        names.add(name)
        settings = SshDefaults(**{k: merged[k] for k in SshDefaults.__dataclass_fields__ if k in merged})
        if overrides is not None:
            trust = settings.trust_on_first_use or (overrides.trust_on_first_use and not settings.fingerprint)
            settings = replace(settings, trust_on_first_use=trust)  # a pinned fingerprint is never loosened
        try:
            target = target_for(merged["host"], settings, name)
        except UsageError as exc:  # the flag's wording, placed in the file: "--fingerprint 'x' ..." -> "fingerprint 'x' ..."
            raise ConfigError(f"{path}: device {name!r}: {exc.message.removeprefix('--')}", hint=exc.hint) from None
        entries.append(FleetEntry(name, target, merged.get("profile"), dict(merged.get("tools") or {})))
    return entries


def run_fleet(jobs: list[tuple[FleetEntry, BenchRequest]], artifacts_root: Path, max_parallel: int = 8,
              on_progress: Callable[[str, dict], None] | None = None,
              cancel: threading.Event | None = None) -> list[FleetOutcome]:
    """Run every (entry, request) concurrently; outcomes in the order given."""

    def one(job: tuple[FleetEntry, BenchRequest]) -> FleetOutcome:
        entry, request = job
        try:
            return FleetOutcome(entry, run_bench(request, entry.target, artifacts_root, on_progress, cancel), None)
        except UsageError:
            raise  # the same for every device: stop and say it once
        except EdgememError as exc:
            return FleetOutcome(entry, None, exc.one_line(), getattr(exc, "code", "error"))
        except Exception as exc:  # one device's bug must not hide the others' results
            return FleetOutcome(entry, None, f"internal error: {type(exc).__name__}: {exc}", "internal")

    cancel = cancel if cancel is not None else threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(jobs)))) as pool:
        futures = [pool.submit(one, job) for job in jobs]
        try:
            return [future.result() for future in futures]
        except KeyboardInterrupt:
            cancel.set()  # every device cancels its remote job within a fraction of a second
            raise
