"""Starting ``torchrun`` for ``edgemem distill --method blockwise --workers N``.

When the command does not already run under ``torchrun`` and asks for more than one worker, it
writes its full, validated config to ``OUT/blockwise/launch.toml`` and starts, as a subprocess
with an argument list (no shell),

    python -m torch.distributed.run --standalone --nnodes 1 --nproc-per-node N --max-restarts R \\
        -m edgemem distill --config OUT/blockwise/launch.toml

Every worker then runs the same command under torchrun (``comm.under_torchrun``). On the CPU each
worker gets ``OMP_NUM_THREADS`` = ``[train] threads`` (1 by default). stdout and stderr pass
straight through when they are real files (rank 0 draws on the terminal); when they are not (a
test's CliRunner) they are piped and forwarded. A student over the budget is not a worker failure
for torchrun: launched workers exit 0 and rank 0 leaves the real exit code in
``OUT/blockwise/exit-code``, which the launcher returns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from edgemem.distill.config import DistillConfig, write_config
from edgemem.errors import TrainingError

LAUNCHED = "EDGEMEM_BLOCKWISE_LAUNCHED"  # set in the workers edgemem starts (not in a user's own torchrun)


def torchrun_argv(config_path: Path, workers: int, max_restarts: int, python: str | None = None) -> list[str]:
    """The torchrun command line of a single-node run with ``workers`` processes."""
    return [python or sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", str(workers), "--max-restarts", str(max_restarts),
            "-m", "edgemem", "distill", "--config", str(config_path)]


def worker_environment(config: DistillConfig, environ=None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    env[LAUNCHED] = "1"
    # a store of its own per rendezvous round: with the rendezvous store shared (torch's default), workers
    # restarted by --max-restarts can read the previous round's addresses (pytorch/pytorch#135712)
    env.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    env.setdefault("OMP_NUM_THREADS", str(config.train.threads or 1))
    root = str(Path(__file__).resolve().parents[3])  # the edgemem checkout or site-packages the parent imported
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


def exit_code_path(config: DistillConfig) -> Path:
    return config.out_dir / "blockwise" / "exit-code"


def launch(config: DistillConfig) -> int:
    """Run ``config`` on ``[blockwise] workers`` torchrun workers; returns the command's exit code."""
    folder = config.out_dir / "blockwise"
    folder.mkdir(parents=True, exist_ok=True)
    path = write_config(config, folder / "launch.toml")
    code_file = exit_code_path(config)
    if code_file.exists():
        code_file.unlink()
    argv = torchrun_argv(path, config.blockwise.workers, config.blockwise.max_restarts)
    returncode = run_forwarding(argv, worker_environment(config))
    if returncode != 0:
        raise TrainingError(f"blockwise workers failed under torchrun (exit code {returncode}); the first worker error is above",
                            hint=f"finished blocks are kept in {folder / 'blocks'}: run the same command again to continue")
    try:
        return int(code_file.read_text().strip())
    except (OSError, ValueError):
        raise TrainingError(f"torchrun finished but rank 0 left no exit code in {code_file}") from None


def run_forwarding(argv: list[str], env: dict[str, str]) -> int:
    """Run ``argv``; stdout/stderr pass through when they are real files, else are piped and forwarded."""
    pipes = {name: _needs_pipe(getattr(sys, name)) for name in ("stdout", "stderr")}
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE if pipes["stdout"] else None,
                               stderr=subprocess.PIPE if pipes["stderr"] else None)
    threads = [threading.Thread(target=_forward, args=(getattr(process, name), getattr(sys, name)), daemon=True)
               for name, piped in pipes.items() if piped]
    for thread in threads:
        thread.start()
    try:
        returncode = process.wait()
    except KeyboardInterrupt:
        process.terminate()  # torchrun passes it on to its workers
        process.wait()
        raise
    for thread in threads:
        thread.join()
    return returncode


def _needs_pipe(stream) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True
    return False


def _forward(source, target) -> None:
    for line in iter(source.readline, b""):
        target.write(line.decode("utf-8", "replace"))
        target.flush()
    source.close()


def record_exit_code(config: DistillConfig, code: int) -> int:
    """In a worker edgemem launched: leave ``code`` for the launcher and exit 0 (torchrun sees no failure)."""
    if os.environ.get(LAUNCHED) != "1":
        return code
    from edgemem.distill.checkpoint import atomic_write_text

    atomic_write_text(f"{int(code)}\n", exit_code_path(config))
    return 0
