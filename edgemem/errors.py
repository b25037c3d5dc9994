"""Exceptions that become one-line messages and documented exit codes.

Exit codes (also in the README and ``edgemem --help``):
  0  success, and within the budget when one was given
  1  a known error the user can fix (bad model, unresolved shapes, unreachable host ...)
  2  usage error (bad flag or value; typer/click's own code)
  3  the work ran, but the result does not fit the budget
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    OVER_BUDGET = 3


class EdgememError(Exception):
    """Base class: a problem the user can fix, reported as one line (plus an optional hint)."""

    exit_code: int = ExitCode.ERROR
    code: str = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.one_line()

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" (hint: {' '.join(self.hint.split())})"
        return text


class UsageError(EdgememError):
    exit_code = ExitCode.USAGE
    code = "usage"


class ModelLoadError(EdgememError):
    """The file is not a readable ONNX model (missing, truncated, corrupt, missing external data)."""

    code = "model_load"


class GraphError(EdgememError):
    """The model loads but its graph is not valid (cycle, dangling input, empty graph)."""

    code = "graph"


class ShapeError(EdgememError):
    """Some tensors could not be sized; the message names them and the flag that fixes it."""

    code = "unresolved_shapes"

    def __init__(self, message: str, hint: str | None = None, tensors: tuple[str, ...] = ()) -> None:
        super().__init__(message, hint)
        self.tensors = tensors


class ConfigError(EdgememError):
    """A config file or option value is invalid."""

    code = "config"


class DataError(EdgememError):
    """A dataset is missing or malformed."""

    code = "data"


class TrainingError(EdgememError):
    """Training failed in a way the user can act on (divergence, NaN, bad checkpoint)."""

    code = "training"


class BudgetError(EdgememError):
    """Nothing reachable fits the budget; exit code 3."""

    exit_code = ExitCode.OVER_BUDGET
    code = "over_budget"


class BenchError(EdgememError):
    """A device benchmark could not run (unreachable host, host key refused, agent failure)."""

    code = "bench"
