"""GPU-side memory of a measuring process on Jetson, and TensorRT's parts.

On a Jetson the CPU and the GPU share one DRAM, and what CUDA allocates (TensorRT's engine, its
execution context, the bindings) is nvmap memory that does not show in the process's RSS. A
budget for the whole process therefore needs a GPU figure next to the RSS peak. In order of
preference (docs/verify.md):

1. the process's own nvmap memory, sampled from ``/sys/kernel/debug/nvmap/iovmm/clients``
   (readable by root, or through ``sudo -n`` where sudo allows it without a password);
2. the growth of ``NvMapMemUsed`` (``/proc/meminfo``) over the run: every process's GPU memory,
   so an over-estimate while something else allocates, never an under-estimate;
3. ``cudaMemGetInfo`` in the measuring process (``--trt-mode python``): the drop of free memory
   from CUDA's initialisation to its lowest point (system-wide; the CUDA context itself is not in it).

With none of them the process figure is the RSS alone: marked partial, never a pass.
"""

from __future__ import annotations

from pathlib import Path

from edgemem.verify.measure import SOURCES, breakdown, part


def gpu_part(raw: dict, stage: dict) -> dict:
    if stage.get("sampled_peak_nvmap_bytes") is not None:
        via = stage.get("nvmap_method") or "debugfs"
        return part(stage["sampled_peak_nvmap_bytes"], f"sampled nvmap of the process (iovmm clients via {via}), peak")
    before = ((raw.get("system") or {}).get("before") or {}).get("nvmap_used_bytes")
    if stage.get("sampled_peak_nvmap_system_bytes") is not None and before is not None:
        return part(stage["sampled_peak_nvmap_system_bytes"] - before,
                    "NvMapMemUsed growth over the run (/proc/meminfo, system-wide: includes other processes)")
    free = (stage.get("worker") or {}).get("cuda_free_bytes") or {}
    if "cuda_ready" in free and len(free) > 1:
        return part(free["cuda_ready"] - min(free.values()),
                    "cudaMemGetInfo: free memory at CUDA's initialisation minus its lowest point (system-wide)",
                    "the CUDA context itself is not in this figure")
    return dict(part(None, "not measured: nvmap is not readable (needs root or sudo -n), /proc/meminfo has no "
                           "NvMapMemUsed and cudaMemGetInfo was not called"), partial=True)


def cpu_peak(stage: dict) -> tuple[int | None, str]:
    hwms = [p.get("hwm_bytes") for p in (stage.get("worker") or {}).get("phases") or stage.get("phases") or []]
    candidates = [v for v in [stage.get("peak_rss_bytes"), *hwms] if v is not None]
    if not candidates:
        return None, "unknown"
    return max(candidates), "largest VmHWM / getrusage(wait4).ru_maxrss of the fresh process"


def process_part(stage: dict, gpu: dict) -> dict:
    """RSS peak plus the GPU figure; without a GPU figure, the RSS alone marked partial."""
    rss, how = cpu_peak(stage)
    if gpu.get("bytes") is None:
        return dict(part(rss, f"{how}: RSS only, GPU memory not measured"), partial=True)
    return part(None if rss is None else rss + gpu["bytes"], f"{how} + {gpu['source']}")


def reported(raw: dict, stage: dict, artifacts: Path | None) -> tuple[dict, dict]:
    """(weights, activations) as TensorRT reported them for this process (trtexec's logs or the API)."""
    from edgemem.bench.backends.tensorrt import BACKEND

    worker = stage.get("worker") or {}
    if worker.get("context_device_memory_bytes") is not None:  # --trt-mode python
        engine = ((raw.get("stages") or {}).get("build") or {}).get("engine_bytes")
        return (part(engine, f"{SOURCES['runtime']}: serialized engine size (approximates the weights)"),
                part(worker["context_device_memory_bytes"], f"{SOURCES['runtime']}: ICudaEngine.device_memory_size(_v2)"))
    memory = BACKEND.interpret(dict(raw, stages={"build": (raw.get("stages") or {}).get("build") or {}, "run": stage}),
                               artifacts).memory
    return (part(memory.weights.value_bytes, f"{SOURCES['runtime']}: {memory.weights.method}"),
            part(memory.activations.value_bytes, f"{SOURCES['runtime']}: {memory.activations.method}"))


def tensorrt_parts(raw: dict, stage: dict, artifacts: Path | None) -> dict:
    """Parts of one TensorRT process: CPU side from its phases (python mode), TensorRT's own
    weights and per-context device memory, the GPU figure, and the process as RSS + GPU."""
    worker = stage.get("worker") or {}
    phases = worker.get("phases") or []
    cpu = breakdown(phases, None, None, bool(worker.get("hwm_reset")))
    weights, activations = reported(raw, stage, artifacts)
    gpu = gpu_part(raw, stage)
    unknown = part(None, "unknown: trtexec reports no phases (--trt-mode python measures the CPU side)")
    return {"runtime_baseline": cpu["runtime_baseline"] if phases else unknown, "weights": weights,
            "session_overhead": part(None, "not split for TensorRT: the engine is the session"),
            "activations": activations, "io_buffers": cpu["io_buffers"] if phases else unknown,
            "gpu": gpu, "process_peak": process_part(stage, gpu)}
