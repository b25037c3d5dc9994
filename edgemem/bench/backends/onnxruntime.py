"""ONNX Runtime: CPU here; the CUDA and TensorRT execution providers where the device has them.

The model is uploaded as is; the agent's worker creates one InferenceSession in a fresh
process with the arena settings recorded (CPU arena and memory pattern on by default, as ORT
ships; CUDA arena ``kSameAsRequested`` so growth tracks demand).
"""

from __future__ import annotations

from pathlib import Path

from edgemem.bench.backends.base import Interpretation, Prepared
from edgemem.bench.backends.worker import interpret_worker
from edgemem.bench.request import BenchRequest
from edgemem.errors import UsageError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
OPTIONS = ("provider", "cpu_arena", "mem_pattern", "threads", "graph_optimization", "arena_extend_strategy",
           "gpu_mem_limit", "workspace_bytes")


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def providers(self, request: BenchRequest) -> list[str]:
        chosen = request.options.get("provider", "cpu")
        names = [p.strip() for p in str(chosen).split(",") if p.strip()]
        unknown = [n for n in names if n not in PROVIDERS]
        if unknown:
            raise UsageError(f"--ort-provider {','.join(unknown)}: choose from {', '.join(PROVIDERS)}")
        found = [PROVIDERS[n] for n in names]
        if "CPUExecutionProvider" not in found:
            found.append("CPUExecutionProvider")  # fallback for nodes the accelerator lacks
        return found

    def probe_modules(self, request: BenchRequest) -> tuple[str, ...]:
        return ("onnxruntime",)

    def unavailable(self, probe: dict, request: BenchRequest) -> str | None:
        module = (probe.get("modules") or {}).get("onnxruntime") or {}
        if not module.get("available"):
            return f"onnxruntime is not importable by {probe.get('python_executable')}: {module.get('reason')}"
        missing = [p for p in self.providers(request) if p not in module.get("providers", [])]
        if missing:
            return f"ONNX Runtime {module.get('version')} there lacks {', '.join(missing)} (has {', '.join(module.get('providers', []))})"
        return None

    def prepare(self, request: BenchRequest, workdir: Path) -> Prepared:
        options = {k: v for k, v in request.options.items() if k in OPTIONS and k != "provider"}
        options["providers"] = self.providers(request)
        return Prepared(files={"model": request.model}, options=options)

    def interpret(self, raw: dict, artifacts: Path | None) -> Interpretation:
        return interpret_worker(raw, "onnxruntime")


BACKEND = OnnxRuntimeBackend()
