"""Compile an ONNX model with TVM (Relax) once, and read the VM's allocation program from the same
lowered module the library is built from, so the prediction describes the code that runs."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

from edgemem.bench.backends.tvm import export_library
from edgemem.errors import EdgememError
from edgemem.memory.runtime.tvm_program import VmOp, VmProgram

DTYPE_BYTES = {"float32": 4, "float16": 2, "float64": 8, "int64": 8, "int32": 4, "int8": 1, "uint8": 1, "bool": 1}
IGNORED_PACKED = {"vm.builtin.check_tensor_info", "vm.builtin.match_shape", "vm.builtin.check_shape_info", "vm.builtin.shape_of",
                  "vm.builtin.check_prim_value_info", "vm.builtin.check_tuple_info", "vm.builtin.check_func_info"}
VIEW_PACKED = {"vm.builtin.reshape"}


@dataclass(frozen=True)
class Compiled:
    library: Path  # the shared library the device loads
    program: VmProgram
    target: str
    tvm_version: str
    notes: tuple[str, ...] = ()


class TvmCompileError(EdgememError):
    """TVM could not import or compile the model; the message is one line."""

    code = "backend_rejected"


def folded_copy(model):
    """The model with its constant subgraphs evaluated (onnxslim, no fusions)."""
    import contextlib
    import io
    import logging

    import onnxslim
    from onnxslim.argparser import DEFAULT_FUSION_PATTERNS

    logging.getLogger("onnxslim").setLevel(logging.CRITICAL)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return onnxslim.slim(model, skip_fusion_patterns=list(DEFAULT_FUSION_PATTERNS), model_check=False)


def import_relax(model, signature: list[dict]):
    """TVM's ONNX frontend on the model; when it rejects the file (dynamic pads, shape subgraphs it
    cannot follow), once more on a constant-folded copy. Returns (module, notes)."""
    from tvm.relax.frontend.onnx import from_onnx

    shapes = {s["name"]: s["shape"] for s in signature}
    try:
        return from_onnx(model, shape_dict=shapes), ()
    except Exception as exc:  # the frontend raises ValueError, TVMError, KeyError ...
        first = " ".join(str(exc).split())[:200] or type(exc).__name__
    try:
        folded = folded_copy(model)
        return from_onnx(folded, shape_dict=shapes), (f"constants folded before TVM's frontend, which rejected the file: {first}",)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise TvmCompileError(f"TVM cannot import this model: {first}; after folding constants: {reason}") from None


def cache_dir() -> Path:
    root = Path(os.environ.get("EDGEMEM_CACHE", Path.home() / ".cache" / "edgemem")).expanduser()
    return root / "tvm-verify"


def _shape_bytes(shape, dtype) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count * DTYPE_BYTES.get(str(dtype), 4)


WORKSPACE_CALL = re.compile(r"TVMBackendAllocWorkspace\(\s*\d+\s*,\s*[^,]+,\s*T\.u?int64\((\d+)\)")


def workspaces(mod, target) -> dict[str, tuple[int, ...]]:
    """Per TIR kernel, the workspace requests (bytes, in order) left after TVM's own TIR lowering:
    the build pipeline compacts and merges intermediate buffers, and keeps the small ones on the
    stack, so the requests are read from the lowered kernels rather than from the legalized ones."""
    import tvm
    from tvm import tirx

    kernels = tvm.IRModule({gv: f for gv, f in mod.functions.items() if isinstance(f, tirx.PrimFunc)})
    target = tvm.target.Target(target)
    kernels = tirx.transform.BindTarget(target.with_host(target))(kernels)
    lower, finalize_host, _ = tirx.get_tir_pipeline("default")
    with target:
        lowered = finalize_host()(lower(kernels))
    return {gv.name_hint: tuple(int(n) for n in WORKSPACE_CALL.findall(f.script())) for gv, f in lowered.functions.items()}


class _Reader:
    """Walks the lowered Relax ``main`` into VM operations."""

    def __init__(self, mod, kernels: dict[str, tuple[int, ...]]) -> None:
        from tvm import relax

        self.relax, self.mod = relax, mod
        self.kernels = kernels
        self.ids: dict = {}
        self.ops: list[VmOp] = []
        self.unknown: list[str] = []

    def oid(self, var) -> int:
        return self.ids.setdefault(var, len(self.ids))

    def known(self, expr) -> int | None:
        return self.ids.get(expr) if isinstance(expr, self.relax.Var) else None

    def binding(self, var, value) -> None:
        relax = self.relax
        if not isinstance(value, relax.Call):
            if isinstance(value, relax.Var) and value in self.ids:
                self.ids[var] = self.ids[value]
            return
        op = value.op
        if isinstance(op, relax.ExternFunc):
            return self.packed(var, op.global_symbol, value.args)
        if hasattr(op, "name_hint"):  # a GlobalVar: a TIR kernel in destination-passing style
            args = tuple(i for i in (self.known(a) for a in value.args) if i is not None)
            self.ops.append(VmOp("call", args=args, workspace=self.kernels.get(op.name_hint, ()), name=op.name_hint))
            return
        self.builtin(var, op.name, value.args)

    def builtin(self, var, name: str, args) -> None:
        if name == "relax.vm.alloc_storage":
            self.ops.append(VmOp("storage", self.oid(var), int(args[0].values[0])))
        elif name == "relax.vm.alloc_tensor":
            dtype = str(args[3].value) if hasattr(args[3], "value") else "float32"
            self.ops.append(VmOp("tensor", self.oid(var), _shape_bytes(args[2].values, dtype), self.ids[args[0]]))
        elif name == "relax.vm.kill_object":
            target = self.known(args[0])
            if target is not None:
                self.ops.append(VmOp("kill", target))
        elif name != "relax.null_value":
            self.unknown.append(name)

    def packed(self, var, symbol: str, args) -> None:
        if symbol in IGNORED_PACKED:
            return
        if symbol in VIEW_PACKED:
            source = self.known(args[0])
            if source is not None:
                self.ops.append(VmOp("view", self.oid(var), source=source))
            return
        self.unknown.append(symbol)

    def outputs(self, body) -> tuple[int, ...]:
        relax = self.relax
        items = body.fields if isinstance(body, relax.Tuple) else [body]
        return tuple(i for i in (self.known(x) for x in items) if i is not None)


def read_program(mod, target: str = "llvm") -> VmProgram:
    """The VM operations of ``mod['main']`` after the default Relax pipeline."""
    main = mod["main"]
    reader = _Reader(mod, workspaces(mod, target))
    for block in main.body.blocks:
        for binding in block.bindings:
            reader.binding(binding.var, binding.value)
    return VmProgram(tuple(reader.ops), reader.outputs(main.body.body), tuple(sorted(set(reader.unknown))))


def compile_for_verify(model_path: str | os.PathLike, signature: list[dict], target: str = "llvm",
                       cc: str | None = None) -> Compiled:
    """Compile (or reuse) the library and its VM program for ``model_path`` at ``signature``
    (``cc``: a cross compiler for the device, e.g. aarch64-linux-gnu-g++)."""
    import onnx
    import tvm
    from tvm import relax

    model_path = Path(model_path)
    digest = hashlib.sha256(model_path.read_bytes())
    digest.update(json.dumps([signature, target, tvm.__version__] + ([cc] if cc else []), sort_keys=True).encode())
    base = cache_dir() / digest.hexdigest()[:32]
    library, program_file = base.with_suffix(".so"), base.with_suffix(".program.pickle")
    if library.exists() and program_file.exists():
        program, notes = pickle.loads(program_file.read_bytes())
        return Compiled(library, program, target, tvm.__version__, notes)
    mod, notes = import_relax(onnx.load(str(model_path)), signature)
    try:
        with tvm.target.Target(target):
            lowered = relax.get_pipeline("default")(mod)
        program = read_program(lowered, target)
        executable = tvm.compile(lowered, target=target, relax_pipeline=None)
    except Exception as exc:
        raise TvmCompileError(f"TVM could not compile the model for {target}: {' '.join(str(exc).split())[:300]}") from None
    export_library(executable, library, cc)
    program_file.write_bytes(pickle.dumps((program, notes)))
    return Compiled(library, program, target, tvm.__version__, notes)
