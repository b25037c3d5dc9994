"""edgemem device agent: a package, standard library only, Python 3.6 and newer.

The host ships it to the device as one zipapp named by its hash (edgemem.bench.package builds
it: same bytes for the same sources) and runs it with the device's system Python through a
small launcher that checks the archive against that hash first. One module per job:

    wire        protocol constants shared with the host (edgemem.bench.protocol)
    common      failures, JSON files, result lines, disk-full detection
    procs       child processes: quiet commands, process groups, the run's processes by marker
    sysinfo     /proc and nvmap reading
    probe       what the device has
    blobs       the content-addressed blob store (verified on upload and before use)
    lock        the per-device bench lock (flock, with stale-lock recovery)
    folder      one run's folder: state, progress events, result, fetched marker, pruning
    salvage     a partial result from a run's checkpoints when its supervisor is gone
    sampler     /proc sampling of a measuring child
    stage       one stage's child under a deadline, cancel escalation TERM -> KILL
    job         a run's stages and conditions (the measurement plan)
    conditions  tegrastats and jetson_clocks around a run
    run_python  ONNX Runtime / TVM: the parent's side
    run_tensorrt, trtexec   TensorRT: engine cache, the python path, trtexec command lines
    checkpoint  what a measuring child streams to disk (phases, latencies) as it goes
    worker      the measuring child: phases, timed loops, inputs
    worker_onnxruntime, worker_tvm, worker_tensorrt, cuda   one module per runtime
    supervise   start a run detached from the connection; the supervisor process
    follow      stream a run's progress to the host until its result
    cancel      TERM, then KILL after a grace period, every process of a run; partial result
    cli         the command line and its dispatch table

Nothing is installed; heavy runtimes are imported only inside the worker of their runtime.
"""
