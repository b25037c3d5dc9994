"""What the device has: identity files, tools, runtimes (raw texts are parsed on the host)."""

import json
import os
import platform
import shutil
import sys
import threading

from .common import read_text, sysroot
from .procs import find_tool, run_quiet
from .sysinfo import meminfo, nvmap_readable
from .trtexec import TRTEXEC_PATHS, trtexec_version
from .wire import AGENT_VERSION, PROBE_SCHEMA

PY_PROBES = {
    "onnxruntime": "import json, onnxruntime as m; print(json.dumps({'version': m.__version__, "
                   "'providers': m.get_available_providers()}))",
    "tensorrt": "import json, tensorrt as m; print(json.dumps({'version': m.__version__}))",
    "tvm": "import json, tvm.runtime, tvm as m; print(json.dumps({'version': m.__version__}))",
    "numpy": "import json, numpy as m; print(json.dumps({'version': m.__version__}))",
}


def probe_python_module(name, timeout_s):
    """Import ``name`` in a fresh interpreter (a runtime's import is slow and heavy)."""
    code, out = run_quiet([sys.executable, "-c", PY_PROBES[name]], timeout_s)
    if code == 0:
        for line in reversed(out.splitlines()):
            if line.startswith("{"):
                found = json.loads(line)
                found["available"] = True
                return found
    reason = (out or "").strip().splitlines()[-1:] or ["no output"]
    return {"available": False, "reason": reason[0][:300]}


def identity():
    """Interpreter, kernel and board facts (board files below EDGEMEM_AGENT_SYSROOT in replays)."""
    facts = {
        "schema": PROBE_SCHEMA,
        "agent_version": AGENT_VERSION,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "kernel": platform.release(),
        "machine": platform.machine(),
        "hostname": platform.node(),
        "cpu_count": os.cpu_count(),
        "root": os.geteuid() == 0,
        "memory": meminfo(),
        "board": (read_text(sysroot("/proc/device-tree/model")) or "").strip("\x00\n ") or None,
        "soc": None,
        "l4t_release": (read_text(sysroot("/etc/nv_tegra_release")) or "").splitlines()[:1],
        "cuda_version_file": read_text(sysroot("/usr/local/cuda/version.json"), 8192)
        or read_text(sysroot("/usr/local/cuda/version.txt"), 4096),
        "clear_refs": os.access("/proc/self/clear_refs", os.W_OK),
        "nvmap_readable": nvmap_readable(),
    }
    compatible = read_text(sysroot("/proc/device-tree/compatible"))
    if compatible:
        facts["soc"] = [c for c in compatible.split("\x00") if c][-1]
    facts["sudo_n"] = (run_quiet(["sudo", "-n", "true"], 5)[0] == 0) if shutil.which("sudo") else False
    return facts


def probe(tools=None, timeout_s=30, modules=None):
    """Device facts and capabilities; ``modules`` limits the runtime imports and the trtexec check."""
    tools = tools or {}
    facts = identity()
    wanted = [m for m in PY_PROBES if modules is None or m in modules]
    results = {}
    threads = [threading.Thread(target=lambda n=n: results.__setitem__(n, probe_python_module(n, timeout_s)))
               for n in wanted]
    for thread in threads:
        thread.start()
    trtexec = find_tool("trtexec", tools.get("trtexec"), TRTEXEC_PATHS)
    check = trtexec and (modules is None or "trtexec" in modules)
    facts["trtexec"] = {"path": trtexec, "version_int": trtexec_version(trtexec) if check else None}
    facts["tegrastats"] = {"path": find_tool("tegrastats", tools.get("tegrastats"), ("/usr/bin/tegrastats",))}
    nvpmodel = find_tool("nvpmodel", tools.get("nvpmodel"), ("/usr/sbin/nvpmodel",))
    facts["nvpmodel"] = {"path": nvpmodel, "query": run_quiet([nvpmodel, "-q"], 10)[1] if nvpmodel else None}
    facts["jetson_clocks"] = {"path": find_tool("jetson_clocks", tools.get("jetson_clocks"), ("/usr/bin/jetson_clocks",))}
    for thread in threads:
        thread.join()
    facts["modules"] = results
    return facts
