"""The few libcudart calls the TensorRT worker needs, through ctypes (no pycuda on the device)."""

import ctypes
import ctypes.util

from .common import AgentFailure

LIBRARIES = ("libcudart.so", "/usr/local/cuda/lib64/libcudart.so")


class CudaRuntime(object):
    def __init__(self):
        self.ctypes = ctypes
        self.lib = None
        for name in [ctypes.util.find_library("cudart")] + list(LIBRARIES):
            if not name:
                continue
            try:
                self.lib = ctypes.CDLL(name)
                break
            except OSError:
                continue
        if self.lib is None:
            raise AgentFailure("backend_missing", "libcudart.so not found", "run")

    def check(self, status, what):
        if status != 0:
            code = "out_of_memory" if status == 2 else "run_failed"  # 2 = cudaErrorMemoryAllocation
            raise AgentFailure(code, "%s failed with CUDA error %d" % (what, status), "run")

    def malloc(self, size):
        ptr = ctypes.c_void_p()
        self.check(self.lib.cudaMalloc(ctypes.byref(ptr), ctypes.c_size_t(max(size, 1))), "cudaMalloc")
        return ptr.value

    def mem_get_info(self):
        """(free, total) bytes as cudaMemGetInfo reports them; on Jetson both are system-wide DRAM."""
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self.check(self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)), "cudaMemGetInfo")
        return free.value, total.value

    def stream(self):
        handle = ctypes.c_void_p()
        self.check(self.lib.cudaStreamCreate(ctypes.byref(handle)), "cudaStreamCreate")
        return handle.value

    def event(self):
        handle = ctypes.c_void_p()
        self.check(self.lib.cudaEventCreate(ctypes.byref(handle)), "cudaEventCreate")
        return handle

    def record(self, event, stream):
        self.check(self.lib.cudaEventRecord(event, ctypes.c_void_p(stream)), "cudaEventRecord")

    def elapsed_ms(self, start, end):
        ms = ctypes.c_float()
        self.check(self.lib.cudaEventSynchronize(end), "cudaEventSynchronize")
        self.check(self.lib.cudaEventElapsedTime(ctypes.byref(ms), start, end), "cudaEventElapsedTime")
        return ms.value
