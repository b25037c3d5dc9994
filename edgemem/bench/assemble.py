"""The agent's raw documents + the backend's interpretation -> BenchResult."""

from __future__ import annotations

from pathlib import Path

from edgemem.bench.backends.base import Interpretation
from edgemem.bench.parsers.jetson import jetpack_for, parse_cuda_version, parse_l4t, parse_nvpmodel
from edgemem.bench.parsers.tegrastats import summarize_tegrastats
from edgemem.bench.result import BenchResult, DeviceInfo


def edgemem_version() -> str:
    """The installed edgemem version (read from metadata: importing the edgemem package would
    make import-linter see its lazy re-exports of edgemem.memory)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgemem")
    except PackageNotFoundError:
        return "unknown"


def device_from_probe(host: str, probe: dict) -> DeviceInfo:
    modules = probe.get("modules") or {}
    memory = probe.get("memory") or {}
    l4t = parse_l4t(probe.get("l4t_release"))
    mode = parse_nvpmodel((probe.get("nvpmodel") or {}).get("query"))
    trtexec = (probe.get("trtexec") or {}).get("version_int")
    tensorrt = (modules.get("tensorrt") or {}).get("version")
    if tensorrt is None and trtexec:
        from edgemem.bench.parsers.trtexec import decode_version

        tensorrt = ".".join(str(v) for v in decode_version(int(trtexec)))
    return DeviceInfo(
        host=host, hostname=probe.get("hostname"), board=probe.get("board"), soc=probe.get("soc"), l4t=l4t,
        jetpack=jetpack_for(l4t), cuda=parse_cuda_version(probe.get("cuda_version_file")), tensorrt=tensorrt,
        onnxruntime=(modules.get("onnxruntime") or {}).get("version"),
        onnxruntime_providers=tuple((modules.get("onnxruntime") or {}).get("providers") or ()),
        tvm=(modules.get("tvm") or {}).get("version"), python=probe.get("python"), kernel=probe.get("kernel"),
        machine=probe.get("machine"), cpu_count=probe.get("cpu_count"), ram_total_bytes=memory.get("total_bytes"),
        swap_total_bytes=memory.get("swap_total_bytes"), root=probe.get("root"),
        power_mode=mode.name if mode else None, power_mode_id=mode.mode_id if mode else None,
    )


def conditions(raw: dict, probe: dict, artifacts: Path | None) -> dict:
    found = dict(raw.get("conditions") or {})
    mode = parse_nvpmodel((probe.get("nvpmodel") or {}).get("query"))
    found["power_mode"] = {"name": mode.name, "id": mode.mode_id} if mode else None
    log = artifacts / "tegrastats.log" if artifacts is not None else None
    if log is not None and log.is_file():
        summary = summarize_tegrastats(log.read_text(errors="replace"))
        found["tegrastats_summary"] = {**vars(summary), "ram_peak_delta_bytes": summary.ram_peak_delta_bytes}
    return found


def assemble(*, host: str, raw: dict, probe: dict, interpretation: Interpretation, model: dict, backend: str,
             precision: str, uploads: dict, artifacts_dir: Path | None, artifacts: list[str], extra_warnings=()) -> BenchResult:
    backend_info = dict(raw.get("backend") or {})
    backend_info.update({k: v for k, v in interpretation.info.items() if v is not None})
    if raw.get("agent"):
        backend_info["agent_overhead"] = raw["agent"]
    request = dict(raw.get("request") or {})
    return BenchResult(
        run_id=raw.get("run_id") or request.get("run_id") or "",
        host=host,
        status=raw.get("status", "error"),
        error=raw.get("error"),
        model=model,
        backend=backend,
        precision=precision,
        backend_info=backend_info,
        device=device_from_probe(host, probe),
        conditions=conditions(raw, probe, artifacts_dir),
        build=interpretation.build,
        memory=interpretation.memory,
        latency=interpretation.latency,
        gpu_compute=interpretation.gpu_compute,
        started_utc=raw.get("started_utc"),
        elapsed_s=raw.get("elapsed_s"),
        uploads=uploads,
        artifacts_dir=str(artifacts_dir) if artifacts_dir is not None else None,
        artifacts=tuple(artifacts),
        warnings=tuple(raw.get("warnings") or ()) + tuple(interpretation.warnings) + tuple(extra_warnings),
        request=request,
        versions={"edgemem": edgemem_version(), "agent": raw.get("agent_version") or probe.get("agent_version")},
    )
