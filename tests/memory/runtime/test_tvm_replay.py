"""TVM runtime allocators: the workspace pool (entry for entry), the pooled VM allocator, and a
program replay."""

from __future__ import annotations

from edgemem.memory.runtime.tvm_program import VmOp, VmProgram, page_round, pages
from edgemem.memory.runtime.tvm_replay import Memory, VmAllocator, WorkspacePool, replay_program

KIB = 1024


def test_workspace_pool_reuses_the_smallest_fit_and_resizes_the_largest():
    memory = Memory()
    pool = WorkspacePool(memory)
    a, b = pool.alloc(10 * KIB), pool.alloc(40 * KIB)
    memory.write(a, 10 * KIB)
    memory.write(b, 40 * KIB)
    pool.free(b)
    pool.free(a)
    assert [e.size for e in pool.free_list[1:]] == [12 * KIB, 40 * KIB]
    assert pool.alloc(11 * KIB) is a  # smallest entry that fits
    resident = memory.resident
    c = pool.alloc(100 * KIB)  # larger than every free entry: the largest is given back, a new one made
    assert c is not b and memory.resident == resident - pages(40 * KIB) * 4096


def test_pooled_allocator_reuses_only_exact_page_rounded_sizes():
    memory = Memory()
    vm = VmAllocator(memory, "pooled")
    first = vm.alloc(5000)
    vm.free(first)
    assert vm.alloc(page_round(5000) - 1) is first
    assert vm.alloc(5000 + 8192) is not first


def program():
    """Two storages; a kernel with a workspace; the first storage dies and is reused by equal size."""
    return VmProgram((
        VmOp("storage", 0, 256 * KIB), VmOp("tensor", 1, 256 * KIB, 0), VmOp("call", args=(1,), name="k0"),
        VmOp("storage", 2, 256 * KIB), VmOp("tensor", 3, 128 * KIB, 2),
        VmOp("call", args=(1, 3), workspace=(300 * KIB,), name="k1"),
        VmOp("kill", 0), VmOp("kill", 1),
        VmOp("storage", 4, 256 * KIB), VmOp("tensor", 5, 256 * KIB, 4), VmOp("call", args=(3, 5), name="k2"),
        VmOp("kill", 2), VmOp("kill", 3), VmOp("kill", 4),
    ), outputs=(5,))


def test_pooled_replay_is_stable_after_the_first_run():
    got = replay_program(program(), "pooled", runs=3)
    assert got.resident_per_run[0] == got.resident_per_run[-1] == got.peak_resident_bytes
    assert got.storage_created_bytes == 2 * 256 * KIB  # the third storage reuses the first
    assert got.workspace_peak_bytes == pages(300 * KIB) * 4096
    assert got.output_bytes == 256 * KIB


def test_naive_replay_returns_storages_and_never_holds_more_than_pooled():
    assert replay_program(program(), "naive", 3).peak_resident_bytes <= replay_program(program(), "pooled", 3).peak_resident_bytes
