"""ONNX Runtime in the measuring child: one InferenceSession, its arena settings recorded."""

import os

from .common import OOM_PATTERNS, AgentFailure

ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
             "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
             "tensor(bool)": "bool", "tensor(int16)": "int16"}
LEVELS = ("disable", "basic", "extended", "all")
ORDERS = {"priority": "PRIORITY_BASED", "default": "DEFAULT"}
CPU_ARENA_STRATEGIES = {"next_power_of_two": 0, "same_as_requested": 1}


def session_options(ort, options):
    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = bool(options.get("cpu_arena", True))
    so.enable_mem_pattern = bool(options.get("mem_pattern", True))
    if options.get("threads"):
        so.intra_op_num_threads = int(options["threads"])
    if options.get("inter_op_threads"):
        so.inter_op_num_threads = int(options["inter_op_threads"])
    if options.get("execution_order"):
        order = getattr(getattr(ort, "ExecutionOrder", None), ORDERS.get(options["execution_order"], "?"), None)
        if order is None:
            raise AgentFailure("backend_missing", "ONNX Runtime %s here has no execution order %r"
                               % (ort.__version__, options["execution_order"]), "run")
        so.execution_order = order
    cpu_strategy = options.get("cpu_arena_extend_strategy", "next_power_of_two")
    if cpu_strategy != "next_power_of_two":  # a CPU arena of our own, shared through the environment
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, CPU_ARENA_STRATEGIES[cpu_strategy], -1, -1))
        so.add_session_config_entry("session.use_env_allocators", "1")
    levels = dict(zip(LEVELS, (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                               ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)))
    so.graph_optimization_level = levels[options.get("graph_optimization", "all")]
    return so


def provider_options(provider, options, job):
    """Provider options recorded with the result (arena settings included)."""
    if provider == "CUDAExecutionProvider":
        found = {"arena_extend_strategy": options.get("arena_extend_strategy", "kSameAsRequested"),
                 "cudnn_conv_algo_search": options.get("cudnn_conv_algo_search", "HEURISTIC")}
        if options.get("gpu_mem_limit"):
            found["gpu_mem_limit"] = str(int(options["gpu_mem_limit"]))
        return found
    if provider == "TensorrtExecutionProvider":
        found = {"trt_fp16_enable": "True" if options.get("precision") == "fp16" else "False",
                 "trt_int8_enable": "True" if options.get("precision") == "int8" else "False",
                 "trt_engine_cache_enable": "True",
                 "trt_engine_cache_path": os.path.join(os.path.dirname(os.path.dirname(job["model_path"])), "engines")}
        if options.get("workspace_bytes"):
            found["trt_max_workspace_size"] = str(int(options["workspace_bytes"]))
        return found
    return {}


def load(ort, worker, options):
    """The session (providers checked first); a load failure is model_invalid or out_of_memory."""
    so = session_options(ort, options)
    available = ort.get_available_providers()
    wanted = options.get("providers") or ["CPUExecutionProvider"]
    missing = [p for p in wanted if p not in available]
    if missing:
        raise AgentFailure("backend_missing", "ONNX Runtime here lacks %s (it has %s)" % (", ".join(missing),
                                                                                          ", ".join(available)), "run")
    providers = [(p, provider_options(p, options, worker.job)) for p in wanted]
    try:
        session = ort.InferenceSession(worker.job["model_path"], so, providers=providers)
    except Exception as exc:  # ORT raises its own exception types
        code = "out_of_memory" if OOM_PATTERNS.search(str(exc)) else "model_invalid"
        raise AgentFailure(code, "ONNX Runtime could not load the model: %s" % str(exc)[:500], "run")
    worker.backend(version=ort.__version__, providers=session.get_providers(),
                   provider_options=dict((p, o) for p, o in providers),
                   arena={"enable_cpu_mem_arena": so.enable_cpu_mem_arena, "enable_mem_pattern": so.enable_mem_pattern},
                   intra_op_num_threads=so.intra_op_num_threads, graph_optimization=options.get("graph_optimization", "all"),
                   execution_order=options.get("execution_order", "default"),
                   cpu_arena_extend_strategy=options.get("cpu_arena_extend_strategy", "next_power_of_two"))
    return session


def run(worker):
    options = worker.job.get("options") or {}
    worker.phase("started")
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import onnxruntime: %s" % exc, "run")
    worker.phase("runtime_imported", version=ort.__version__)
    session = load(ort, worker, options)
    worker.phase("loaded", providers=session.get_providers())
    declared = [(i.name, [d if isinstance(d, int) else str(d) for d in i.shape], ORT_TYPES.get(i.type, "float32"))
                for i in session.get_inputs()]
    feeds = dict(worker.make_inputs(np, declared))
    worker.phase("inputs_ready")
    run_options = ort.RunOptions()
    worker.measure(lambda: session.run(None, feeds, run_options))
