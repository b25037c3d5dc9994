"""``edgemem bench``'s flags in small groups (Polygraphy's argument groups are the model): each
group is a set of Annotated options and one function that turns them into what the library takes.
A new flag goes into its group here and into the bench command's signature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgemem.bench.fleet import FleetEntry, SshDefaults, load_inventory, target_for
from edgemem.bench.run import RunPolicy
from edgemem.bench.watch import WatchPolicy
from edgemem.budget import Precision
from edgemem.cli import params
from edgemem.cli.choices import Backend, OrtProvider, TrtMode
from edgemem.errors import UsageError
from edgemem.profiles import load_profile


def _option(*names: str, **kwargs):
    return typer.Option(*names, **kwargs)


# ---- profile: flags a --profile may fill in; an explicit flag always wins ---------------------

@dataclass(frozen=True)
class ProfileDefaults:
    backend: str
    precision: Precision
    budget_bytes: int | None
    workspace_bytes: int | None
    device_python: str | None  # SSH devices only (a profile's /usr/bin/python3)
    tegrastats_interval_ms: int
    profile: str | None


def profile_defaults(name: str | None, backend: Backend | None, precision: Precision | None, budget_bytes: int | None,
                     workspace_bytes: int | None) -> ProfileDefaults:
    if name is None:
        return ProfileDefaults(backend.value if backend else "onnxruntime", precision or Precision.FP32, budget_bytes,
                               workspace_bytes, None, 100, None)
    p = load_profile(name)
    return ProfileDefaults(backend.value if backend else p.backend, precision or p.precision,
                           budget_bytes if budget_bytes is not None else p.budget_bytes,
                           workspace_bytes if workspace_bytes is not None else p.workspace_bytes,
                           p.remote_python, p.tegrastats_interval_ms, p.name)


# ---- SSH -----------------------------------------------------------------------------------------

Port = Annotated[Optional[int], _option("--port", metavar="PORT", min=1, max=65535, help="SSH port.")]
Identity = Annotated[Optional[str], _option("--identity", metavar="FILE", help="SSH private key.")]
SshConfig = Annotated[Optional[str], _option("--ssh-config", metavar="FILE", help="ssh config file instead of ~/.ssh/config.")]
KnownHosts = Annotated[Optional[str], _option("--known-hosts", metavar="FILE", help="known_hosts file to check the host key against.")]
Fingerprint = Annotated[Optional[str], _option("--fingerprint", metavar="SHA256:...", help="Pinned host key fingerprint.")]
TrustOnFirstUse = Annotated[bool, _option("--trust-on-first-use", help="Accept and record an unknown host key (never a changed one).")]
ConnectTimeout = Annotated[float, _option("--connect-timeout", metavar="DURATION", parser=params.duration_s, help="SSH connect timeout.")]
RemotePython = Annotated[Optional[str], _option("--remote-python", metavar="PATH", help="Python on the device (default python3; profiles say /usr/bin/python3).")]
RemoteDir = Annotated[Optional[str], _option("--remote-dir", metavar="DIR", help="Cache folder on the device (default ~/.cache/edgemem).")]


def ssh_defaults(port, identity, ssh_config, known_hosts, fingerprint, trust_on_first_use, connect_timeout_s,
                 remote_python, remote_dir, profile: ProfileDefaults) -> SshDefaults:
    return SshDefaults(port=port, identity=identity, ssh_config=ssh_config, known_hosts=known_hosts, fingerprint=fingerprint,
                       trust_on_first_use=trust_on_first_use, remote_dir=remote_dir, remote_python=remote_python,
                       device_python=profile.device_python, connect_timeout_s=connect_timeout_s)


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


# ---- run control: one bench per device, reattaching, reconnecting -------------------------------

Attach = Annotated[Optional[str], _option("--attach", metavar="RUN_ID", help="Reattach to run RUN_ID on --host (running or finished) and save its result.")]
LockWait = Annotated[float, _option("--lock-wait", metavar="DURATION", parser=params.duration_s, help="Queue this long behind another bench on the device (0s: refuse at once).")]
Reconnect = Annotated[float, _option("--reconnect", metavar="DURATION", parser=params.duration_s, help="How long a lost SSH connection is retried (with backoff) during a run.")]


def run_policy(lock_wait_s: float, reconnect_s: float) -> RunPolicy:
    return RunPolicy(lock_wait_s=lock_wait_s, watch=WatchPolicy(reconnect_s=reconnect_s))


# ---- timing: how long and how often the device measures ----------------------------------------

Warmup = Annotated[float, _option("--warmup", metavar="DURATION", parser=params.duration_s, help="Warm-up time (and at least --warmup-runs runs).")]
WarmupRuns = Annotated[int, _option("--warmup-runs", metavar="N", min=0)]
Duration = Annotated[float, _option("--duration", metavar="DURATION", parser=params.duration_s, help="Timed run length (and at least --runs runs).")]
Runs = Annotated[int, _option("--runs", metavar="N", min=1)]
MaxRuns = Annotated[int, _option("--max-runs", metavar="N", min=1)]
Timeout = Annotated[float, _option("--timeout", metavar="DURATION", parser=params.duration_s, help="Deadline of the whole job on the device; killed and reported after it.")]
MemoryLimit = Annotated[Optional[int], _option("--memory-limit", metavar="SIZE", parser=params.budget_size, help="Kill the measuring process above this (reported as out_of_memory).")]
SampleInterval = Annotated[float, _option("--sample-interval", metavar="DURATION", parser=params.duration_s, help="/proc sampling interval on the device.")]
Baseline = Annotated[float, _option("--baseline", metavar="DURATION", parser=params.duration_s, help="Idle sampling before the run (system-wide baseline).")]


def timing(warmup_s, warmup_runs, duration_s, runs, max_runs, timeout_s, memory_limit_bytes, sample_interval_s, baseline_s) -> dict:
    """The BenchRequest fields of the timing group."""
    return dict(warmup_s=warmup_s, warmup_runs=warmup_runs, duration_s=duration_s, runs=runs, max_runs=max(max_runs, runs),
                timeout_s=timeout_s, memory_limit_bytes=memory_limit_bytes,
                sample_interval_ms=int(round(sample_interval_s * 1000)), baseline_s=baseline_s)


# ---- ONNX Runtime, TensorRT, TVM: the backend options the agent's worker receives ---------------

OrtProviders = Annotated[List[str], _option("--ort-provider", metavar=params.metavar(OrtProvider, many=True), parser=params.choice_list(OrtProvider, "ONNX Runtime provider"), help="ONNX Runtime execution providers, in order.")]
Threads = Annotated[int, _option("--threads", metavar="N", min=0, help="ONNX Runtime intra-op threads (0 = its default).")]
CpuArena = Annotated[bool, _option("--cpu-arena/--no-cpu-arena", help="ONNX Runtime CPU memory arena.")]
TrtModeOpt = Annotated[TrtMode, _option("--trt-mode", case_sensitive=False, help="TensorRT through trtexec or the python API.")]
Workspace = Annotated[Optional[int], _option("--workspace", metavar="SIZE", parser=params.budget_size, help="TensorRT builder workspace limit, e.g. 512MiB.")]
EngineCache = Annotated[bool, _option("--engine-cache/--no-engine-cache", help="Reuse a built engine on the device.")]
Trtexec = Annotated[Optional[str], _option("--trtexec", metavar="PATH", help="Path of trtexec on the device.")]
TvmTarget = Annotated[str, _option("--tvm-target", metavar="TARGET", help="TVM target to compile for (e.g. nvidia/jetson-orin-nano).")]
TvmCc = Annotated[Optional[str], _option("--tvm-cc", metavar="COMPILER", help="Cross compiler for the TVM library (e.g. aarch64-linux-gnu-g++).")]


def backend_options(ort_provider, threads, cpu_arena, trt_mode, workspace_bytes, engine_cache, tvm_target, tvm_cc) -> dict:
    """The request's backend options (each backend reads its own keys)."""
    providers = params.flatten(ort_provider) or (OrtProvider("cpu"),)
    options = {"provider": ",".join(p.value for p in providers), "threads": threads, "cpu_arena": cpu_arena,
               "mode": TrtMode(trt_mode).value, "engine_cache": engine_cache, "target": tvm_target, "cc": tvm_cc}
    if workspace_bytes:
        options["workspace_bytes"] = workspace_bytes
    return options
