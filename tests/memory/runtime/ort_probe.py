"""Run a model in a fresh ONNX Runtime process and report what the runtime itself says.

    python ort_probe.py MODEL ORDER THREADS RUNS

prints one JSON document: the kernels in the order they ran with ONNX Runtime's own allocator
statistics after each (profiler), the arena regions the BFC arena logged, and for each region the
4 KiB pages resident after RUNS runs (/proc/self/pagemap). Run with MALLOC_MMAP_THRESHOLD_ fixed
as verify runs its measuring process.
"""

import json
import os
import re
import struct
import sys
import tempfile


def resident_pages(regions):
    fd = os.open("/proc/self/pagemap", os.O_RDONLY)
    out = []
    try:
        for base, end in regions:
            first, last = base // 4096, (end - 1) // 4096
            os.lseek(fd, first * 8, 0)
            data = os.read(fd, (last - first + 1) * 8)
            out.append(sum((struct.unpack_from("<Q", data, 8 * k)[0] >> 63) & 1 for k in range(last - first + 1)))
    finally:
        os.close(fd)
    return out


def main(path, order, threads, runs):
    log = tempfile.NamedTemporaryFile("w", suffix=".log", delete=False)
    os.dup2(log.fileno(), 2)
    import numpy as np
    import onnxruntime as ort

    ort.set_default_logger_severity(0)
    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "p")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.enable_mem_pattern = False
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if order == "priority":
        so.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.RandomState(0)
    feeds = {i.name: rng.standard_normal(i.shape).astype(np.float32) if i.type == "tensor(float)"
             else np.zeros(i.shape, np.int64) for i in session.get_inputs()}
    for _ in range(runs):
        session.run(None, feeds)
    with open(session.end_profiling()) as handle:
        events = json.load(handle)
    log.flush()
    text = open(log.name).read()
    regions = [(int(a, 16), int(b, 16)) for a, b in re.findall(r"Allocated memory at (0x[0-9a-f]+) to (0x[0-9a-f]+)", text)]
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    first_run = kernels[: len(kernels) // runs]
    stats = [{"node": e["name"][: -len("_kernel_time")], "requested": int(e["args"]["mem_bytes_requested_in_use"]),
              "in_use": int(e["args"]["mem_bytes_in_use"]), "peak": int(e["args"]["mem_in_use_peak"])} for e in first_run]
    return {"kernels": stats, "regions": [[a, b - a] for a, b in regions], "resident_pages": resident_pages(regions)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
