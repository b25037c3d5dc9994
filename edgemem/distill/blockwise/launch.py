"""Starting ``torchrun`` for ``edgemem distill --method blockwise --workers N``.

The config module writes the full, validated config to ``OUT/blockwise/launch.toml``
(``config.write_config``), and this module starts, as a subprocess with an argument list (no
shell),

    python -m torch.distributed.run --standalone --nnodes 1 --nproc-per-node N --max-restarts R \\
        -m edgemem.distill.blockwise.worker OUT/blockwise/launch.toml

On the CPU each worker gets ``OMP_NUM_THREADS`` = ``[train] threads`` (1 by default). Rank 0
writes its progress to ``OUT/blockwise/events.jsonl``, which is replayed here on the caller's
progress sink while torchrun runs, and its result to ``OUT/report.json``, which ``launch`` reads
back and returns: the launching process renders it, exactly as after a one-process run. stdout
and stderr of the workers pass straight through when they are real files; when they are not (a
test's CliRunner) they are piped and forwarded. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from edgemem.distill.blockwise.events import EVENTS, Follower
from edgemem.distill.common import read_json
from edgemem.distill.config import DistillConfig, write_config
from edgemem.distill.result import DistillResult
from edgemem.errors import TrainingError

WORKER = "edgemem.distill.blockwise.worker"


def torchrun_argv(config_path: Path, workers: int, max_restarts: int, python: str | None = None) -> list[str]:
    """The torchrun command line of a single-node run with ``workers`` processes."""
    return [python or sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc-per-node", str(workers), "--max-restarts", str(max_restarts),
            "-m", WORKER, str(config_path)]


def worker_environment(config: DistillConfig, environ=None, events: Path | None = None) -> dict[str, str]:
    env = dict(os.environ if environ is None else environ)
    if events is not None:
        env[EVENTS] = str(events)
    # a store of its own per rendezvous round: with the rendezvous store shared (torch's default), workers
    # restarted by --max-restarts can read the previous round's addresses (pytorch/pytorch#135712)
    env.setdefault("TORCH_DISABLE_SHARE_RDZV_TCP_STORE", "1")
    env.setdefault("OMP_NUM_THREADS", str(config.train.threads or 1))
    root = str(Path(__file__).resolve().parents[3])  # the edgemem checkout or site-packages the parent imported
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]])
    return env


def launch(config: DistillConfig, progress) -> DistillResult:
    """Run ``config`` on ``[blockwise] workers`` torchrun workers; rank 0's result, its progress replayed on ``progress``."""
    folder = config.out_dir / "blockwise"
    path = write_config(config, folder / "launch.toml")
    events, report = folder / "events.jsonl", config.out_dir / "report.json"
    for stale in (events, report):
        stale.unlink(missing_ok=True)
    argv = torchrun_argv(path, config.blockwise.workers, config.blockwise.max_restarts)
    with Follower(events, progress):
        returncode = run_forwarding(argv, worker_environment(config, events=events))
    if returncode != 0:
        raise TrainingError(f"blockwise workers failed under torchrun (exit code {returncode}); the first worker error is above",
                            hint=f"finished blocks are kept in {folder / 'blocks'}: run the same command again to continue")
    document = read_json(report)
    if not document:
        raise TrainingError(f"torchrun finished but rank 0 left no report in {report}")
    return DistillResult.from_json(document, str(report))


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
