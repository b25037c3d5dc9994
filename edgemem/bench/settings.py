"""Command-line settings that become targets and request flags: profiles, SSH defaults, hosts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from edgemem.bench.fleet import FleetEntry, SshDefaults, load_inventory, target_for
from edgemem.errors import UsageError


@dataclass(frozen=True)
class Settings:
    """Flags a --profile may fill in; an explicit flag always wins."""

    backend: str | None = None
    precision: str | None = None
    budget: str | None = None
    workspace: str | None = None
    remote_python: str | None = None
    device_python: str | None = None  # from a profile: used for SSH devices, not for --host local
    tegrastats_interval_ms: int = 100
    profile: str | None = None


def apply_profile(settings: Settings, name: str | None) -> Settings:
    if name is None:
        return settings
    from edgemem.profiles import load_profile

    p = load_profile(name)
    return replace(settings, backend=settings.backend or p.backend, precision=settings.precision or p.precision,
                   budget=settings.budget or str(p.budget_bytes),
                   workspace=settings.workspace or (str(p.workspace_bytes) if p.workspace_bytes else None),
                   device_python=p.remote_python,
                   tegrastats_interval_ms=p.tegrastats_interval_ms, profile=p.name)


def ssh_defaults(port, identity, ssh_config, known_hosts, fingerprint, trust_on_first_use, connect_timeout_s,
                 remote_dir, settings: Settings) -> SshDefaults:
    return SshDefaults(port=port, identity=identity, ssh_config=ssh_config, known_hosts=known_hosts,
                       fingerprint=fingerprint, trust_on_first_use=trust_on_first_use, remote_dir=remote_dir,
                       remote_python=settings.remote_python, device_python=settings.device_python,
                       connect_timeout_s=connect_timeout_s)


def fleet_entries(host: str, hosts: tuple[str, ...], inventory: Path | None, defaults: SshDefaults) -> list[FleetEntry]:
    """--inventory, else --hosts, else the single --host."""
    if inventory is not None and hosts:
        raise UsageError("--inventory and --hosts exclude each other")
    if inventory is not None:
        return load_inventory(inventory, defaults)
    if hosts:
        if len(set(hosts)) != len(hosts):
            raise UsageError("--hosts names a host twice")
        if defaults.fingerprint:
            raise UsageError("--fingerprint pins one host's key; use an inventory file for several hosts")
        return [FleetEntry(h, target_for(h, defaults)) for h in hosts]
    return [FleetEntry(host, target_for(host, defaults))]
