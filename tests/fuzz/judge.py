"""Run one fuzz case through the real CLI in this process, under a hang guard, and judge the result.

Rules (issue 11): no traceback, no "internal error", a documented exit code, one ``edgemem: error:``
line (one per device in a fleet) for a known error, no case over ``HANG_S`` seconds, and no exit 0 on a model that the ONNX
checker or ONNX Runtime rejects unless the output carries a warning that names why.
"""

from __future__ import annotations

import faulthandler
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from typer.testing import CliRunner

from edgemem.cli import app

HANG_S = 10  # a case running this long kills the worker with every thread's traceback (a hang)
EXIT_CODES = {0, 1, 2, 3}
MAX_FEED_ELEMENTS = 1 << 20


@dataclass
class Outcome:
    case: str
    category: str
    exit_code: int | None
    problems: list[str] = field(default_factory=list)
    rejected_by: str | None = None


def warm_up() -> None:
    """Import what the first case of a kind would (seconds on a loaded machine), outside the hang guard."""
    import matplotlib.pyplot  # noqa: F401
    import onnxruntime.tools.symbolic_shape_infer  # noqa: F401
    import onnxslim  # noqa: F401

    import edgemem.distill.run  # noqa: F401


def invoke(args: list[str]):
    """The CLI in this process; a case that outlives HANG_S ends the process with the stacks on stderr."""
    faulthandler.dump_traceback_later(HANG_S, exit=True)
    try:
        return CliRunner().invoke(app, args)
    finally:
        faulthandler.cancel_dump_traceback_later()


def cli_problems(result) -> list[str]:
    """What breaks the error-reporting rules, whatever the input was."""
    problems = []
    text = result.output
    if "Traceback" in text or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        problems.append(f"traceback: {type(result.exception).__name__}: {result.exception}")
    if "internal error" in text:
        problems.append("internal error: " + next(line for line in text.splitlines() if "internal error" in line))
    if result.exit_code not in EXIT_CODES:
        problems.append(f"exit code {result.exit_code} is not documented")
    if result.exit_code == 1 and not any(line.startswith("edgemem: error: ") for line in result.stderr.splitlines()):
        problems.append(f"exit 1 without an 'edgemem: error:' line: {result.stderr[-300:]!r}")
    return problems


def runtime_rejection(path: Path, dims: dict[str, int]) -> str | None:
    """Why the ONNX checker (full) or ONNX Runtime (load, then one run on zeros) refuses ``path``; None if neither does."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        return f"onnx checker: {' '.join(str(exc).split())[:200]}"
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        return f"onnxruntime load: {' '.join(str(exc).split())[:200]}"
    feeds = {}
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) and d >= 0 else dims.get(d) for d in value.shape]
        if None in shape or np.prod(shape, dtype=float) > MAX_FEED_ELEMENTS:
            return None  # unbound or too large to run here: judged by the checker and the load alone
        feeds[value.name] = np.zeros(shape, np.dtype(ORT_TYPES.get(value.type, "float32")))
    try:
        session.run(None, feeds)
    except Exception as exc:
        return f"onnxruntime run: {' '.join(str(exc).split())[:200]}"
    return None


ORT_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16", "tensor(int64)": "int64",
             "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def bound_dims(flags) -> dict[str, int]:
    dims = {}
    for flag, value in zip(flags, flags[1:]):
        if flag == "--dim" and "=" in value and value.partition("=")[2].isdigit():
            dims[value.partition("=")[0]] = int(value.partition("=")[2])
    return dims


def run_model_case(case, folder: Path) -> Outcome:
    """Write the case's files into ``folder``, analyze them, and judge the result."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    model = folder / "model.onnx"
    result = invoke(["analyze", str(model), "--time-limit", "2s", *case.flags])
    outcome = Outcome(f"models:{case.index}", case.category, result.exit_code, cli_problems(result))
    if result.exit_code == 0 and model.exists():
        outcome.rejected_by = runtime_rejection(model, bound_dims(case.flags))
        if outcome.rejected_by and "warning:" not in result.stdout:
            outcome.problems.append(f"exit 0 without a warning, but {outcome.rejected_by}")
    outcome.problems = [f"models:{case.index} [{case.category}, {case.base}: {case.what}] {p}" for p in outcome.problems]
    return outcome


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


class ReachedTraining(BaseException):
    """Raised in place of training: a distill case got past flag validation (BaseException: no handler eats it)."""


def refuse_training(*args, **kwargs):
    raise ReachedTraining("distill started training although a flag value was invalid")


def fill(args, values: dict[str, str]) -> list[str]:
    filled = []
    for arg in args:
        for key, value in values.items():
            arg = arg.replace("{" + key + "}", value)
        filled.append(arg)
    return filled


def run_flag_case(case, folder: Path, values: dict[str, str]) -> Outcome:
    """Run ``case`` with placeholders filled and the working directory in ``folder``; training is refused."""
    from unittest import mock

    args = fill(case.args, {**values, "tmp": str(folder)})
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with mock.patch("edgemem.cli.distill.run_distill", refuse_training):  # every method, blockwise too
            result = invoke(args)
    except ReachedTraining as exc:
        return Outcome(f"flags:{case.index}", case.command, None, [f"flags:{case.index} {args}: {exc}"])
    finally:
        os.chdir(cwd)
    problems = cli_problems(result)
    if case.command == "distill" and result.exit_code == 0:
        problems.append("distill exited 0 although one flag value was invalid")
    if (folder / "pwned").exists():
        problems.append("a flag value ran a shell command")
    return Outcome(f"flags:{case.index}", f"{case.command} ({case.mode})", result.exit_code,
                   [f"flags:{case.index} {args}: {p}" for p in problems])
