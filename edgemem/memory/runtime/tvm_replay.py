"""Replay a ``VmProgram`` on TVM's runtime allocators and follow the resident memory over runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgemem.memory.runtime.tvm_program import MAX_STACK_ALLOCA, VM_ALLOCATORS, VmProgram, page_round, pages


@dataclass(eq=False)
class Buffer:
    size: int
    written: int = 0  # bytes written from the start (what is resident)


@dataclass
class Memory:
    """Resident bytes of every live buffer, and the peak they reach."""

    resident: int = 0
    peak: int = 0

    def write(self, buf: Buffer, nbytes: int) -> None:
        nbytes = min(nbytes, buf.size)
        if nbytes > buf.written:
            self.resident += (pages(nbytes) - pages(buf.written)) * 4096
            buf.written = nbytes
            self.peak = max(self.peak, self.resident)

    def release(self, buf: Buffer) -> None:
        self.resident -= pages(buf.written) * 4096
        buf.written = 0


@dataclass
class WorkspacePool:
    """TVM's ``WorkspacePool::Pool`` (src/runtime/workspace_pool.cc), entry for entry."""

    memory: Memory
    free_list: list = field(default_factory=lambda: [Buffer(0)])  # sorted small to big, sentinel first
    allocated: list = field(default_factory=lambda: [Buffer(0)])

    def _new(self, size: int) -> Buffer:
        return Buffer(size)

    def alloc(self, nbytes: int) -> Buffer:
        nbytes = page_round(nbytes)
        if len(self.free_list) == 2:
            entry = self.free_list.pop()
            if entry.size < nbytes:
                self.memory.release(entry)
                entry = self._new(nbytes)
        elif len(self.free_list) == 1:
            entry = self._new(nbytes)
        elif self.free_list[-1].size >= nbytes:
            i = len(self.free_list) - 2
            while self.free_list[i].size >= nbytes:
                i -= 1
            entry = self.free_list.pop(i + 1)
        else:
            entry = self.free_list.pop()
            self.memory.release(entry)
            entry = self._new(nbytes)
        self.allocated.append(entry)
        return entry

    def free(self, entry: Buffer) -> None:
        self.allocated.remove(entry)
        if self.free_list[-1].size < entry.size:
            self.free_list.append(entry)
        elif len(self.free_list) == 2:
            self.free_list.append(self.free_list[-1])
            self.free_list[1] = entry
        else:
            i = len(self.free_list) - 1
            self.free_list.append(None)
            while entry.size < self.free_list[i].size:
                self.free_list[i + 1] = self.free_list[i]
                i -= 1
            self.free_list[i + 1] = entry


@dataclass
class VmAllocator:
    """``pooled``: page-rounded sizes, freed buffers kept per exact size (LIFO); ``naive``: freed at once."""

    memory: Memory
    kind: str = "pooled"
    pool: dict = field(default_factory=dict)
    created_bytes: int = 0

    def alloc(self, nbytes: int) -> Buffer:
        size = page_round(nbytes) if self.kind == "pooled" else nbytes
        free = self.pool.get(size)
        if self.kind == "pooled" and free:
            return free.pop()
        self.created_bytes += size
        return Buffer(size)

    def free(self, buf: Buffer) -> None:
        if self.kind == "pooled":
            self.pool.setdefault(buf.size, []).append(buf)
        else:
            self.memory.release(buf)


@dataclass(frozen=True)
class TvmReplay:
    allocator: str
    runs: int
    peak_resident_bytes: int  # high-water mark of the run memory (storages + workspaces) over all runs
    resident_per_run: tuple[int, ...]  # high-water mark reached by the end of each run
    storage_created_bytes: int  # bytes the VM allocator asked the system for
    workspace_peak_bytes: int  # largest resident size of the kernels' workspace pool
    output_bytes: int


class _Objects:
    """Reference counts of the VM's storages, tensors and views during one run."""

    def __init__(self, allocator: VmAllocator) -> None:
        self.allocator = allocator
        self.objects: dict[int, list] = {}  # id -> [kind, refs, payload]

    def tensor_buffer(self, oid: int) -> tuple[Buffer, int] | None:
        obj = self.objects.get(oid)
        while obj is not None and obj[0] == "view":
            obj = self.objects.get(obj[2])
        if obj is None or obj[0] != "tensor":
            return None
        storage, nbytes = obj[2]
        return self.objects[storage][2], nbytes

    def add(self, oid: int, kind: str, payload) -> None:
        self.objects[oid] = [kind, 1, payload]

    def incref(self, oid: int) -> None:
        if oid in self.objects:
            self.objects[oid][1] += 1

    def decref(self, oid: int) -> None:
        obj = self.objects.get(oid)
        if obj is None:
            return
        obj[1] -= 1
        if obj[1] > 0:
            return
        del self.objects[oid]
        if obj[0] == "storage":
            self.allocator.free(obj[2])
        elif obj[0] == "tensor":
            self.decref(obj[2][0])
        else:
            self.decref(obj[2])


def _run_once(program: VmProgram, allocator: VmAllocator, workspace: WorkspacePool, memory: Memory) -> int:
    objects = _Objects(allocator)
    ws_peak = 0
    for op in program.ops:
        if op.kind == "storage":
            objects.add(op.target, "storage", allocator.alloc(op.size_bytes))
        elif op.kind == "tensor":
            objects.incref(op.source)
            objects.add(op.target, "tensor", (op.source, op.size_bytes))
        elif op.kind == "view":
            objects.incref(op.source)
            objects.add(op.target, "view", op.source)
        elif op.kind == "kill":
            objects.decref(op.target)
        elif op.kind == "call":
            for arg in op.args:
                found = objects.tensor_buffer(arg)
                if found is not None:
                    memory.write(*found)
            entries = []
            for nbytes in op.workspace:
                if nbytes > MAX_STACK_ALLOCA:
                    entry = workspace.alloc(nbytes)
                    memory.write(entry, nbytes)
                    entries.append(entry)
            ws_peak = max(ws_peak, sum(pages(e.written) * 4096 for e in (*workspace.free_list, *workspace.allocated)))
            for entry in reversed(entries):
                workspace.free(entry)
    for oid in program.outputs:  # the caller drops the results before the next run
        objects.decref(oid)
    return ws_peak


def replay_program(program: VmProgram, allocator: str = "pooled", runs: int = 3) -> TvmReplay:
    if allocator not in VM_ALLOCATORS:
        raise ValueError(f"unknown TVM VM allocator {allocator!r} (known: {', '.join(VM_ALLOCATORS)})")
    memory = Memory()
    vm_allocator = VmAllocator(memory, allocator)
    workspace = WorkspacePool(memory)
    per_run, ws_peak = [], 0
    for _ in range(max(1, runs)):
        ws_peak = max(ws_peak, _run_once(program, vm_allocator, workspace, memory))
        per_run.append(memory.peak)
    outputs = sum(op.size_bytes for op in program.ops if op.kind == "tensor" and op.target in program.outputs)
    return TvmReplay(allocator, max(1, runs), memory.peak, tuple(per_run), vm_allocator.created_bytes, ws_peak, outputs)
