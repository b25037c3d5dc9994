"""TVM (Relax): compiled here for the device's target, run by the Relax VM on the device.

The ONNX model is imported with ``tvm.relax.frontend.onnx.from_onnx`` (symbolic dims bound by
--input-shape / --dim), compiled with ``tvm.compile`` for ``--tvm-target`` (default ``llvm``,
this machine's CPU; a Jetson wants e.g. ``nvidia/jetson-orin-nano`` plus ``--tvm-cc
aarch64-linux-gnu-g++``), exported as a shared library and uploaded. The device needs only the
TVM runtime. Compiled libraries are cached here by (model, shapes, target, TVM version).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from edgemem.bench.backends.base import Interpretation, Prepared
from edgemem.bench.backends.worker import interpret_worker
from edgemem.bench.errors import BenchError
from edgemem.bench.request import BenchRequest
from edgemem.errors import ModelLoadError


class TvmBackend:
    name = "tvm"

    def probe_modules(self, request: BenchRequest) -> tuple[str, ...]:
        return ("tvm",)

    def unavailable(self, probe: dict, request: BenchRequest) -> str | None:
        module = (probe.get("modules") or {}).get("tvm") or {}
        if not module.get("available"):
            return f"the TVM runtime is not importable by {probe.get('python_executable')}: {module.get('reason')}"
        return None

    def prepare(self, request: BenchRequest, workdir: Path) -> Prepared:
        target = request.options.get("target", "llvm")
        signature = input_signature(request)
        library = compile_library(request, signature, target, request.options.get("cc"))
        options = {"target": target, "device": request.options.get("device", "cpu"), "input_signature": signature}
        return Prepared(files={"model": request.model, "library": library}, options=options,
                        notes=(f"compiled on this machine with TVM for target {target}",))

    def interpret(self, raw: dict, artifacts: Path | None) -> Interpretation:
        return interpret_worker(raw, "the TVM runtime",
                                notes=("Relax VM pooled allocator: freed blocks are kept, so the measured peak is at least the planned one",))


def input_signature(request: BenchRequest) -> list[dict]:
    """Graph inputs (not initializers) with every dimension bound, or a clear error."""
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(request.model), load_external_data=False)
    except Exception as exc:
        raise ModelLoadError(f"{request.model}: cannot read ONNX model for TVM: {exc}") from None
    weights = {init.name for init in model.graph.initializer}
    signature = []
    for value in model.graph.input:
        if value.name in weights:
            continue
        tensor = value.type.tensor_type
        shape = request.input_shapes.get(value.name)
        if shape is None:
            dims = []
            for dim in tensor.shape.dim:
                if dim.HasField("dim_value") and dim.dim_value >= 0:
                    dims.append(dim.dim_value)
                elif dim.dim_param in request.dims:
                    dims.append(int(request.dims[dim.dim_param]))
                else:
                    raise BenchError(f"TVM needs static shapes: input {value.name!r} has unbound dimension "
                                     f"{dim.dim_param or '?'!r}", hint=f"pass --dim {dim.dim_param or 'NAME'}=N or "
                                                                        f"--input-shape {value.name}=...")
            shape = tuple(dims)
        dtype = str(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        signature.append({"name": value.name, "shape": list(shape), "dtype": dtype})
    return signature


def cache_dir() -> Path:
    root = Path(os.environ.get("EDGEMEM_CACHE", Path.home() / ".cache" / "edgemem")).expanduser()
    return root / "tvm"


def compile_library(request: BenchRequest, signature: list[dict], target: str, cc: str | None) -> Path:
    """Compile (or reuse) the shared library for this model, shapes and target."""
    try:
        import tvm
        from tvm import relax  # noqa: F401  (registers the Relax pipeline)
        from tvm.relax.frontend.onnx import from_onnx
    except ImportError as exc:
        raise BenchError(f"TVM is not installed on this machine ({exc})", hint="pip install 'edgemem[tvm]'") from None
    digest = hashlib.sha256(request.model.read_bytes())
    digest.update(json.dumps([signature, target, cc, tvm.__version__], sort_keys=True).encode())
    path = cache_dir() / f"{digest.hexdigest()[:32]}.so"
    if path.exists():
        return path
    import onnx

    model = onnx.load(str(request.model))
    try:
        mod = from_onnx(model, shape_dict={s["name"]: s["shape"] for s in signature})
        executable = tvm.compile(mod, target=target)
    except Exception as exc:  # TVM raises its own error types for unsupported ops and bad targets
        raise BenchError(f"TVM could not compile {request.model.name} for {target}: {' '.join(str(exc).split())[:300]}") from None
    return export_library(executable, path, cc)


def export_library(executable, path: Path, cc: str | None) -> Path:
    """Write the compiled module to ``path`` (through a temporary name), cross-compiled with ``cc`` when given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.so")
    if cc:
        from tvm.contrib import cc as tvm_cc

        executable.export_library(str(tmp), fcompile=tvm_cc.cross_compiler(cc))
    else:
        executable.export_library(str(tmp))
    os.replace(tmp, path)
    return path


BACKEND = TvmBackend()
