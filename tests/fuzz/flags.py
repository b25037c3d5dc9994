"""Seeded random command lines for every command, built from the CLI's own list of options.

Each option gets a value from a pool of plausible and broken values (its own pool when the name is
known here, a generic one otherwise), so options added later are fuzzed too. Safety rules keep
every case on a fast path: bench and verify never run a job (a dead SSH host, or ``--host local``
with a broken model), distill always carries one value it must refuse before any training.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import typer

from edgemem.cli import app
from tests.fuzz.models import conv_net, dynamic_batch
from tests.fuzz.mutate import pick

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "models" / "branchy_cnn.onnx"

COMMANDS = typer.main.get_command(app).commands
FLAG_CASES = {"analyze": 300, "bench": 150, "distill": 150, "verify": 100}
GENERIC = ["", " ", "abc", "-1", "0", "1", "3", "2147483648", "99999999999999999999", "1e309", "nan", "inf", "-inf", "1.5",
           "\u00e9\u2713", "x" * 300, "a=b", "=", ",", "1x2x", "../../x", "$(touch {tmp}/pwned)", "; touch {tmp}/pwned",
           "\t", "line\nbreak", "--", "-h"]
SIZES = ["256MB", "1B", "0B", "0", "6KiB", "1e400GB", "-5MB", "12 parsecs", "abc", "1.5GiB", "256mib", "99999999999999999999TB"]
DURATIONS = ["10s", "0s", "-1s", "abc", "1e9h", "2m", "0.001s", "1", "nan s", "99999999999999999999s"]
PATHS = ["{tmp}/new.png", "{tmp}/new.svg", "{tmp}/new.html", "{tmp}/new.gif", "{tmp}/out.onnx", "{tmp}/missing/x.png",
         "{tmp}/missing/x.onnx", "{tmp}", "{tmp}/existing.txt", "{tmp}/model.onnx", "", "{tmp}/bad.toml", "{tmp}/fleet.toml",
         "{tmp}/out", "/dev/null", "{tmp}/empty.onnx"]
POOLS = {
    "input_shape": ["image=1x3x64x64", "image=1x3x0x64", "nope=1", "image=axb", "image=", "=1x2", "image=1x3x64x64x1",
                    "image=-1x3x64x64", "image=99999999999999999999x3x64x64", "image=2x3x64x64"],
    "dim": ["batch=1", "batch=0", "batch=-1", "batch=99999999999999999999", "nobatch=2", "batch", "batch=4", "=3"],
    "order": ["stored", "greedy,optimal", "bogus", "stored,stored", "", ",", "optimal"],
    "time_limit": DURATIONS, "warmup": DURATIONS, "duration": DURATIONS, "timeout": DURATIONS, "baseline": DURATIONS,
    "sample_interval": DURATIONS, "connect_timeout": ["1s", "0s", "-1s", "abc", "2s"],
    "precision": ["fp32", "fp16", "int8", "FP16", "fp7", "", "int4"],
    "placement": ["portfolio", "greedy_by_size", "exact", "cpsat", "tflite", "bogus", "PORTFOLIO"],
    "inplace_rules": ["concat", "depthwise", "all", "nonsense", "concat,depthwise", ""],
    "budget": SIZES, "weights_budget": SIZES, "memory_limit": SIZES, "workspace": SIZES,
    "budget_scope": ["activations", "total", "bogus", "TOTAL"], "budget_metric": ["auto", "process", "model", "activations", "bogus"],
    "profile": ["jetson-nano-4gb", "jetson-orin-nano-8gb", "nonexistent", "../x", "{tmp}/bad.toml", ""],
    "alignment": ["0", "1", "64", "3", "-8", "abc", "2147483648"], "top": ["0", "1", "-1", "abc", "100000"],
    "backend": ["onnxruntime", "tvm", "tensorrt", "bogus", "ONNXRUNTIME"], "trt_mode": ["trtexec", "python", "bogus"],
    "ort_provider": ["cpu", "cuda", "tensorrt", "cpu,cuda", "bogus"],
    "fingerprint": ["SHA256:REPLACE_ME", "SHA256:" + "A" * 43, "md5:00", ""],
    "teacher": ["resnet-mini", "resnet1d", "no-such-net", "no_such_module_xyz:factory", ""],
    "dataset": ["digits", "mnist1d", "imagenet42", "cifar10", "folder", ""],
    "method": ["auto", "kd", "magic", "blockwise", "red_kd", ""], "blocks": ["conv", "residual", "triangles"],
    "replacement": ["separable", "DW", "G(4)", "nothing"], "sweep": ["k=1,2", "k=", "q=1,2", "k=a,b", "width=0.5,1"],
    "epochs": ["0", "-3", "abc", "1", "1e9"], "teacher_epochs": ["0", "-1", "abc", "1"], "seed": ["abc", "3", "-1", "1.5"],
    "workers": ["0", "-1", "abc", "1"],
}
for _name in ("plot", "write_order", "out", "results_dir", "config", "teacher_weights", "data_path", "teacher_cache",
              "identity", "ssh_config", "known_hosts", "inventory", "report", "logs"):
    POOLS[_name] = PATHS
# Distill values it must refuse before training anything (one goes into every distill case).
DISTILL_INVALID = [("--budget", "abc"), ("--budget", "-5MB"), ("--method", "magic"), ("--dataset", "imagenet42"),
                   ("--epochs", "0"), ("--epochs", "abc"), ("--precision", "fp7"), ("--budget-scope", "everything"),
                   ("--teacher-epochs", "-1"), ("--sweep", "q=1,2"), ("--seed", "abc"), ("--blocks", "triangles"),
                   ("--plot", "{tmp}/plot.gif")]
# Options the bench harness sets itself so that no case reaches a device.
BENCH_FIXED = {"host", "hosts", "port", "inventory", "compare", "model"}
# Options the verify harness sets itself: a dead host, or a broken model refused before anything runs.
VERIFY_FIXED = {"host", "port", "model"}
# Loopback or refused before ssh starts: no name needs DNS, so no case waits on a resolver.
DEAD_HOSTS = ["nobody@127.0.0.1", "nobody@localhost", "-oProxyCommand=touch {tmp}/pwned", "a b", "", "user@"]


@dataclass(frozen=True)
class FlagCase:
    index: int
    command: str
    args: tuple[str, ...]  # with {tmp} and {model}/{broken} placeholders
    mode: str  # how it is kept on a fast path


def options_of(command: str, skip: set[str] = frozenset()) -> list:
    return [p for p in COMMANDS[command].params if p.opts[0].startswith("--") and p.name not in skip]


def option_args(rng, param) -> list[str]:
    if param.is_flag:
        return [pick(rng, [*param.opts, *(param.secondary_opts or [])])]
    pool = POOLS.get(param.name, GENERIC)
    value = pick(rng, pool if rng.random() < 0.85 else GENERIC)
    return [param.opts[0], value]


def random_options(rng, command: str, skip: set[str], most: int = 4) -> list[str]:
    params = options_of(command, skip)
    args: list[str] = []
    for index in rng.choice(len(params), size=int(rng.integers(1, most + 1)), replace=False):
        args += option_args(rng, params[int(index)])
    return args


def flag_case(index: int, seed: int) -> FlagCase:
    rng = np.random.default_rng([seed, 1_000_000 + index])
    command = pick(rng, [c for c, n in FLAG_CASES.items() for _ in range(n)])
    if command == "analyze":
        model = pick(rng, ["{example}", "{model}", "{dynamic}"])
        return FlagCase(index, command, ("analyze", model, *random_options(rng, command, {"model"})), "analyze")
    if command == "bench":
        return bench_case(index, rng)
    if command == "verify":
        return verify_case(index, rng)
    option, value = pick(rng, DISTILL_INVALID)
    extra = random_options(rng, command, set(), most=3)
    out = [] if "--out" in extra else ["--out", "{tmp}/distill-out"]
    return FlagCase(index, command, ("distill", *extra, *out, option, value), "distill")


def bench_case(index: int, rng) -> FlagCase:
    mode = pick(rng, ["dead host", "dead host", "dead hosts", "local broken", "compare", "bad inventory"])
    extra = random_options(rng, "bench", BENCH_FIXED)
    if mode == "dead host":
        target = ["--host", pick(rng, DEAD_HOSTS), "--port", "{dead_port}"]
    elif mode == "dead hosts":
        target = ["--hosts", "nobody@127.0.0.1,nobody@localhost", "--port", "{dead_port}"]
    elif mode == "local broken":
        return FlagCase(index, "bench", ("bench", pick(rng, ["{broken}", "{tmp}", "{tmp}/absent.onnx"]), "--host", "local", *extra), mode)
    elif mode == "compare":
        target = ["--compare", "--results-dir", pick(rng, ["{tmp}/results", "{tmp}/absent", "{tmp}/existing.txt"])]
    else:
        target = ["--inventory", pick(rng, ["{tmp}/fleet.toml", "{tmp}/bad.toml", "{tmp}/absent.toml", "{tmp}/existing.txt"])]
    return FlagCase(index, "bench", ("bench", "{model}", *target, *extra), mode)


def verify_case(index: int, rng) -> FlagCase:
    """verify never measures here: a dead host (TVM, which compiles before connecting, left out), or
    --host local with a broken model, refused when it is read."""
    mode = pick(rng, ["dead host", "local broken"])
    if mode == "dead host":
        extra = random_options(rng, "verify", VERIFY_FIXED | {"backend", "tvm_target", "tvm_cc"})
        budget = [] if "--budget" in extra else ["--budget", "1GiB"]
        target = ["--host", pick(rng, DEAD_HOSTS), "--port", "{dead_port}"]
        return FlagCase(index, "verify", ("verify", "{model}", *target, *budget, *extra), mode)
    extra = random_options(rng, "verify", VERIFY_FIXED)
    model = pick(rng, ["{broken}", "{tmp}", "{tmp}/absent.onnx", "{tmp}/empty.onnx"])
    return FlagCase(index, "verify", ("verify", model, "--host", "local", *extra), mode)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def case_folder(folder: Path, port: int) -> dict[str, str]:
    """The files the placeholders name, fresh for one case; returns the placeholder values."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "existing.txt").write_text("not a model\n")
    (folder / "bad.toml").write_text("[[device]\nname = \n")
    device = 'name = "{0}"\nhost = "nobody@127.0.0.1"\nport = {1}\nknown_hosts = "{2}/known_hosts"\n'
    (folder / "fleet.toml").write_text("".join(f"[[device]]\n{device.format(n, port, folder)}" for n in ("a", "b")))
    (folder / "empty.onnx").write_bytes(b"")
    (folder / "garbage.onnx").write_bytes(np.random.default_rng(7).integers(0, 256, 512, dtype=np.uint8).tobytes())
    onnx.save(conv_net(np.random.default_rng(0)), str(folder / "model.onnx"))
    onnx.save(dynamic_batch(np.random.default_rng(0)), str(folder / "dynamic.onnx"))
    (folder / "results").mkdir(exist_ok=True)
    (folder / "results" / "junk.json").write_text("{not json")
    return {"model": str(folder / "model.onnx"), "dynamic": str(folder / "dynamic.onnx"), "example": str(EXAMPLE),
            "broken": str(folder / "garbage.onnx"), "dead_port": str(port)}
