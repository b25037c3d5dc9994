"""The measuring process: load one model in one runtime, run it, record memory by phase.

Run as ``python -m edgemem.verify.worker`` with a JSON job on stdin; prints one line
``EDGEMEM-VERIFY <json>``. Standard library plus numpy and the runtime, each imported inside the
function for its runtime (the device has nothing else). Session settings come from the job, so
the process runs exactly the configuration the prediction assumed.
"""

import json
import sys
import time

from edgemem.verify.measure import Recorder, breakdown, reset_peak

RESULT_PREFIX = "EDGEMEM-VERIFY "
ORT_ORDERS = {"priority": "PRIORITY_BASED", "default": "DEFAULT"}
ORT_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
              "all": "ORT_ENABLE_ALL"}


def make_inputs(np, specs, seed):
    rng = np.random.RandomState(seed)
    arrays = []
    for spec in specs:
        dtype = np.dtype(spec["dtype"])
        if dtype.kind == "f":
            arrays.append((spec["name"], rng.standard_normal(spec["shape"]).astype(dtype)))
        else:
            arrays.append((spec["name"], np.zeros(spec["shape"], dtype)))
    return arrays


def ort_session(ort, job):
    settings = job.get("settings") or {}
    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = bool(settings.get("cpu_arena", True))
    so.enable_mem_pattern = bool(settings.get("mem_pattern", False))
    so.execution_order = getattr(ort.ExecutionOrder, ORT_ORDERS[settings.get("execution_order", "priority")])
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, ORT_LEVELS[settings.get("graph_optimization", "disable")])
    so.intra_op_num_threads = int(settings.get("threads", 1))
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    if settings.get("arena_extend_strategy", "next_power_of_two") != "next_power_of_two":
        strategy = {"same_as_requested": 1}[settings["arena_extend_strategy"]]
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, strategy, -1, -1))
        so.add_session_config_entry("session.use_env_allocators", "1")
    return ort.InferenceSession(job["model_path"], so, providers=["CPUExecutionProvider"])


def run_onnxruntime(job, recorder):
    import numpy as np
    import onnxruntime as ort

    recorder.mark("runtime_imported", version=ort.__version__)
    session = ort_session(ort, job)
    recorder.mark("loaded")
    feeds = dict(make_inputs(np, job["inputs"], job.get("seed", 0)))
    recorder.mark("inputs_ready")
    return lambda: session.run(None, feeds), {"version": ort.__version__}


def run_tvm(job, recorder):
    import numpy as np
    import tvm
    from tvm import runtime

    recorder.mark("runtime_imported", version=tvm.__version__)
    device = runtime.cpu(0)
    allocator = (job.get("settings") or {}).get("allocator", "pooled")
    vm = runtime.vm.VirtualMachine(runtime.load_module(job["library_path"]), device, memory_cfg=allocator)
    main = vm["main"]
    recorder.mark("loaded")
    args = [runtime.tensor(array, device) for _, array in make_inputs(np, job["inputs"], job.get("seed", 0))]
    recorder.mark("inputs_ready")

    def call():
        main(*args)
        device.sync()

    return call, {"version": tvm.__version__}


RUNTIMES = {"onnxruntime": run_onnxruntime, "tvm": run_tvm}


def measure(job):
    recorder = Recorder()
    recorder.mark("started")
    call, facts = RUNTIMES[job["runtime"]](job, recorder)
    hwm_reset = reset_peak()
    recorder.mark("peak_reset")
    latencies = [timed(call)]
    recorder.mark("first_run")
    for _ in range(max(0, int(job.get("runs", 5)) - 1)):
        latencies.append(timed(call))
    recorder.mark("measured")
    return {"runtime": job["runtime"], "facts": facts, "hwm_reset": hwm_reset, "phases": recorder.phases,
            "latencies_ms": latencies, "latency_source": "time.perf_counter around one synchronous inference call",
            "parts": breakdown(recorder.phases, job.get("weights_bytes"), job.get("input_bytes"), hwm_reset)}


def timed(call):
    began = time.perf_counter()
    call()
    return round((time.perf_counter() - began) * 1000.0, 4)


def main():
    job = json.loads(sys.stdin.read())
    try:
        result = measure(job)
    except Exception as exc:  # the runtime's own error types: reported, never a traceback on the host
        result = {"runtime": job.get("runtime"), "error": "%s: %s" % (type(exc).__name__, str(exc)[:500])}
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
