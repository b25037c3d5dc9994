"""TensorRT through its Python API in the measuring child: build an engine, or load and run one.

API differences across 8.x/10.x/11.x are handled here (explicit-batch flag, memory pool limit,
named I/O tensors with execute_async_v3 from 8.5, bindings before). GPU time per query comes
from CUDA events (cuda.py). Written against the real API; not executed here (no GPU).
"""

import os

from .common import AgentFailure
from .cuda import CudaRuntime

TRT_ITEMSIZE = {"FLOAT": 4, "HALF": 2, "BF16": 2, "INT8": 1, "UINT8": 1, "FP8": 1, "INT32": 4, "INT64": 8,
                "BOOL": 1, "INT4": 1}


def logger(trt):
    return trt.Logger(trt.Logger.INFO)


def run(worker):
    job = worker.job
    worker.phase("started")
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import tensorrt: %s" % exc, job.get("step"))
    worker.phase("runtime_imported", version=trt.__version__)
    worker.backend(version=trt.__version__, mode="python")
    if job["step"] == "build":
        return build(worker, trt)
    return measure(worker, trt)


def builder_config(trt, builder, options):
    config = builder.create_builder_config()
    workspace = options.get("workspace_bytes")
    if workspace:
        if hasattr(config, "set_memory_pool_limit"):
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace))
        else:
            config.max_workspace_size = int(workspace)
    precision = options.get("precision", "fp32")
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # needs an explicitly quantized (Q/DQ) model
    return config


def add_profile(builder, network, config, shapes):
    """One optimization profile fixing every dynamic input to its --input-shape."""
    dynamic = [network.get_input(i) for i in range(network.num_inputs) if -1 in tuple(network.get_input(i).shape)]
    if not dynamic:
        return
    profile = builder.create_optimization_profile()
    for tensor in dynamic:
        if tensor.name not in shapes:
            raise AgentFailure("bad_spec", "input %r is dynamic; pass --input-shape %s=..." % (tensor.name, tensor.name),
                               "build")
        shape = tuple(shapes[tensor.name])
        profile.set_shape(tensor.name, shape, shape, shape)
    config.add_optimization_profile(profile)


def build(worker, trt):
    """Parse the ONNX file and build a serialized engine."""
    job = worker.job
    builder = trt.Builder(logger(trt))
    flags = 0 if int(trt.__version__.split(".")[0]) >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger(trt))
    if not parser.parse_from_file(job["model_path"]):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise AgentFailure("model_invalid", "ONNX parser: %s" % "; ".join(errors)[:500], "build")
    config = builder_config(trt, builder, job.get("options") or {})
    add_profile(builder, network, config, (job.get("inputs") or {}).get("shapes") or {})
    worker.phase("parsed", layers=network.num_layers)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise AgentFailure("build_failed", "build_serialized_network returned None (see build.log)", "build")
    with open(job["engine_path"], "wb") as handle:
        handle.write(serialized)
    worker.set("engine_bytes", os.path.getsize(job["engine_path"]))
    worker.phase("built", engine_bytes=worker.result["engine_bytes"])


def buffer_bytes(shape, dtype_name):
    size = TRT_ITEMSIZE.get(dtype_name, 4)
    for dim in shape:
        size *= max(dim, 1)
    return size


def bind_named(trt, cuda, engine, context, shapes):
    """TensorRT >= 8.5: named tensors; returns the enqueue call (execute_async_v3)."""
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        if engine.get_tensor_mode(name) != trt.TensorIOMode.INPUT:
            continue
        if name in shapes:
            context.set_input_shape(name, tuple(shapes[name]))
        elif -1 in tuple(engine.get_tensor_shape(name)):
            raise AgentFailure("bad_spec", "input %r is dynamic; pass --input-shape %s=..." % (name, name), "run")
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        size = buffer_bytes(tuple(context.get_tensor_shape(name)), engine.get_tensor_dtype(name).name)
        context.set_tensor_address(name, cuda.malloc(size))
    stream = cuda.stream()
    return stream, lambda: context.execute_async_v3(stream)


def set_binding_shapes(engine, context, shapes):
    """Pre-8.5 dynamic shapes: every dynamic input's shape set on the context by binding index
    (within optimization profile 0, the one the engine was built with)."""
    for i in range(engine.num_bindings):
        if not engine.binding_is_input(i) or -1 not in tuple(engine.get_binding_shape(i)):
            continue
        name = engine.get_binding_name(i)
        if name not in shapes:
            raise AgentFailure("bad_spec", "input %r is dynamic; pass --input-shape %s=..." % (name, name), "run")
        if context.set_binding_shape(i, tuple(shapes[name])) is False:
            raise AgentFailure("bad_spec", "input %r: shape %s is outside the engine's optimization profile"
                               % (name, "x".join(str(d) for d in shapes[name])), "run")
    if hasattr(context, "all_binding_shapes_specified") and not context.all_binding_shapes_specified:
        raise AgentFailure("bad_spec", "not every dynamic input shape is set; pass --input-shape for each", "run")


def bind_indexed(cuda, engine, context, shapes):
    """TensorRT 7.x/8.0-8.4: bindings, sized from the context once dynamic shapes are set;
    returns the enqueue call (execute_async_v2)."""
    set_binding_shapes(engine, context, shapes)
    bindings = [cuda.malloc(buffer_bytes(tuple(context.get_binding_shape(i)), engine.get_binding_dtype(i).name))
                for i in range(engine.num_bindings)]
    stream = cuda.stream()
    return stream, lambda: context.execute_async_v2(bindings, stream)


def cuda_free(worker, cuda, point):
    """cudaMemGetInfo's free bytes at ``point`` (system-wide on Jetson), kept in the result."""
    free, total = cuda.mem_get_info()
    worker.result.setdefault("cuda_free_bytes", {})[point] = free
    worker.set("cuda_free_bytes", worker.result["cuda_free_bytes"])
    worker.set("cuda_total_bytes", total)


def load_engine(worker, trt, cuda):
    cuda_free(worker, cuda, "cuda_ready")
    with open(worker.job["engine_path"], "rb") as handle:
        engine = trt.Runtime(logger(trt)).deserialize_cuda_engine(handle.read())
    if engine is None:
        raise AgentFailure("run_failed", "deserialize_cuda_engine returned None", "run")
    cuda_free(worker, cuda, "loaded")
    worker.phase("loaded")
    size_v2 = getattr(engine, "device_memory_size_v2", None)
    worker.set("context_device_memory_bytes", int(size_v2 if size_v2 is not None else engine.device_memory_size))
    return engine


def measure(worker, trt):
    """Deserialize, create a context, bind device buffers, time with CUDA events; cudaMemGetInfo
    before and after each step (GPU memory is not in the process's RSS on Jetson)."""
    cuda = CudaRuntime()
    engine = load_engine(worker, trt, cuda)
    context = engine.create_execution_context()
    if context is None:
        raise AgentFailure("out_of_memory", "create_execution_context returned None", "run")
    cuda_free(worker, cuda, "context_created")
    worker.phase("context_created", device_memory_bytes=worker.result["context_device_memory_bytes"])
    shapes = (worker.job.get("inputs") or {}).get("shapes") or {}
    if hasattr(engine, "num_io_tensors"):
        stream, enqueue = bind_named(trt, cuda, engine, context, shapes)
    else:
        stream, enqueue = bind_indexed(cuda, engine, context, shapes)
    start, end = cuda.event(), cuda.event()
    gpu_ms = []

    def call():
        cuda.record(start, stream)
        if not enqueue():
            raise AgentFailure("run_failed", "TensorRT enqueue returned False", "run")
        cuda.record(end, stream)
        gpu_ms.append(cuda.elapsed_ms(start, end))

    cuda_free(worker, cuda, "inputs_ready")
    worker.phase("inputs_ready")
    worker.measure(call, "time.perf_counter per query; GPU compute from CUDA events")
    cuda_free(worker, cuda, "measured")
    worker.set("gpu_compute_ms", gpu_ms[len(worker.result["warmup_ms"]):])
