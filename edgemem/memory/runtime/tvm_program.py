"""The allocation program of a compiled TVM Relax function, and its replay on TVM's allocators.

TVM's default CPU build (``tvm.compile``, TVM 0.27) lowers every Relax operator to its own TIR
kernel, in the order the ONNX frontend emitted the nodes (the file's order; no operator fusion on
this pipeline). ``StaticPlanBlockMemory`` then plans the tensors onto *storages*: a storage is
reused by later tensors of a compatible size and grown to the largest of them; each is allocated
where it is first needed (``R.vm.alloc_storage``) and dropped after its last use
(``R.vm.kill_object``). That program is what the VM executes, so it is read from the compiled
module (``edgemem.verify.tvm_compile``) into the records below.

At run time:

* storages come from the VM's allocator: ``pooled`` (TVM's default) rounds each size up to 4 KiB
  pages and keeps freed buffers for later requests of exactly that size, forever; ``naive`` gives
  every storage back when it dies;
* each kernel's intermediate buffers (``pad_temp`` of a convolution, reductions) come from the
  CPU workspace pool (``TVMBackendAllocWorkspace``): page-rounded, kept on a free list, and the
  largest free one is given back and reallocated when a bigger request arrives; buffers of at
  most 1024 bytes live on the stack;
* a buffer becomes resident page by page as its tensors are written (large buffers are fresh
  ``mmap`` pages: the block starts 64 bytes into its first page).
"""

from __future__ import annotations

from dataclasses import dataclass

PAGE_BYTES = 4096
MMAP_THRESHOLD_BYTES = 128 * 1024
MALLOC_OFFSET = 64
MAX_STACK_ALLOCA = 1024
VM_ALLOCATORS = ("pooled", "naive")


@dataclass(frozen=True, slots=True)
class VmOp:
    """One step of the VM program: ``storage`` (id, size), ``tensor`` (id, bytes, in storage
    ``source``), ``view`` (id of a reshape of object ``source``), ``call`` (kernel ``name`` over
    objects ``args``, with intermediate buffers ``workspace``), ``kill`` (drop object ``target``)."""

    kind: str
    target: int = -1
    size_bytes: int = 0
    source: int = -1
    args: tuple[int, ...] = ()
    workspace: tuple[int, ...] = ()
    name: str = ""


@dataclass(frozen=True)
class VmProgram:
    ops: tuple[VmOp, ...]
    outputs: tuple[int, ...]  # objects the function returns (held by the caller until dropped)
    unknown: tuple[str, ...] = ()  # operations the reader could not account for

    @property
    def kernels(self) -> tuple[str, ...]:
        return tuple(op.name for op in self.ops if op.kind == "call")

    @property
    def storage_bytes(self) -> int:
        return sum(op.size_bytes for op in self.ops if op.kind == "storage")


def pages(size_bytes: int) -> int:
    """Pages a fully written block of ``size_bytes`` occupies (large blocks: fresh mmap, 64-byte offset)."""
    if size_bytes <= 0:
        return 0
    if size_bytes >= MMAP_THRESHOLD_BYTES:
        return (MALLOC_OFFSET + size_bytes - 1) // PAGE_BYTES + 1
    return -(-size_bytes // PAGE_BYTES)


def page_round(size_bytes: int) -> int:
    return max(PAGE_BYTES, -(-size_bytes // PAGE_BYTES) * PAGE_BYTES)
