"""TVM in the measuring child: a library compiled on the host, run by the Relax VM."""

from .common import AgentFailure


def run(worker):
    job = worker.job
    options = job.get("options") or {}
    worker.phase("started")
    try:
        import numpy as np
        import tvm
        from tvm import runtime
    except ImportError as exc:
        raise AgentFailure("backend_missing", "cannot import the TVM runtime: %s" % exc, "run")
    worker.phase("runtime_imported", version=tvm.__version__)
    device_kind = options.get("device", "cpu")
    dev = runtime.cuda(0) if device_kind == "cuda" else runtime.cpu(0)
    library = runtime.load_module(job["library_path"])
    allocator = options.get("allocator", "pooled")  # the Relax VM's default; "naive" returns storages at once
    vm = runtime.vm.VirtualMachine(library, dev, memory_cfg=allocator)
    worker.backend(version=tvm.__version__, device=device_kind, allocator=allocator, target=options.get("target"))
    worker.phase("loaded")
    declared = [(i["name"], i["shape"], i["dtype"]) for i in options.get("input_signature") or []]
    args = [runtime.tensor(array, dev) for _, array in worker.make_inputs(np, declared)]
    main = vm["main"]
    worker.phase("inputs_ready")

    def call():
        main(*args)
        dev.sync()

    worker.measure(call)
