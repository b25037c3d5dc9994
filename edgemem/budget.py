"""The budget: what counts against it, and the one check every command makes.

``Precision``   how floating-point activations are counted: fp32, fp16 or int8 (the one list).
``Scope``       what a budget covers (the one list), from the smallest to the whole process:

    activations  activation memory: the analyzer's arena of the best order; on a device, what
                 running the model adds to the loaded process
    weights      the weights alone
    model        weights + activations
    process      the whole process: runtime baseline + weights + activations + scratch + I/O
                 buffers (measured on a device as the process's peak; predicted by a runtime profile)

``MemoryParts`` is what one side knows of a model's memory (the analyzer, a device measurement, a
runtime-aware prediction); ``MemoryParts.required_bytes(scope)`` is the only place that says what
counts against a budget of each scope. ``check_budget(parts, budget, scope)`` is the only
comparison with a budget; it returns a ``BudgetCheck``, the one verdict type that analyze,
distill, bench and verify report. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from edgemem.errors import UsageError


class Precision(str, Enum):
    """Width at which floating-point activations are counted (and a runtime computes them)."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"

    @property
    def bits(self) -> int:
        return _BITS[self]

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        """``"FP16"`` -> Precision.FP16; a UsageError naming the choices otherwise."""
        return _parse(cls, value, "precision")

    def __str__(self) -> str:
        return self.value


_BITS = {Precision.FP32: 32, Precision.FP16: 16, Precision.INT8: 8}


class Scope(str, Enum):
    """What a budget covers (see the module docstring)."""

    ACTIVATIONS = "activations"
    WEIGHTS = "weights"
    MODEL = "model"
    PROCESS = "process"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @classmethod
    def parse(cls, value: str | Scope) -> Scope:
        return _parse(cls, value, "budget scope")

    def __str__(self) -> str:
        return self.value


_DESCRIPTIONS = {
    Scope.ACTIVATIONS: "activations",
    Scope.WEIGHTS: "weights",
    Scope.MODEL: "weights + activations",
    Scope.PROCESS: "runtime + weights + activations + scratch + I/O",
}

# bench without --budget-scope: the widest scope the measurement knows, in this order
WIDEST_FIRST = (Scope.PROCESS, Scope.MODEL)


def _parse(enum, value, what: str):
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        raise UsageError(f"unknown {what} {value!r}", hint=f"choose {', '.join(m.value for m in enum)}") from None


@dataclass(frozen=True)
class MemoryParts:
    """The parts of one model's memory that one side knows; None = not known (never 0 for unknown).

    ``process_bytes`` is a whole-process figure measured directly (a device's peak); without it,
    the process scope is the sum of the parts, which needs ``runtime_bytes`` (``scratch_bytes`` and
    ``io_bytes`` are 0 where they are counted inside another part).
    """

    activations_bytes: int | None
    weights_bytes: int | None = None
    runtime_bytes: int | None = None  # runtime baseline: interpreter, libraries, runtime context
    scratch_bytes: int = 0  # workspace and kernel scratch outside the activation arena
    io_bytes: int = 0  # input and output buffers outside the activation arena
    process_bytes: int | None = None  # measured whole-process peak

    def required_bytes(self, scope: Scope) -> int | None:
        """What a budget of ``scope`` is compared with: the one definition of what counts."""
        scope = Scope(scope)
        if scope is Scope.ACTIVATIONS:
            return self.activations_bytes
        if scope is Scope.WEIGHTS:
            return self.weights_bytes
        if scope is Scope.MODEL:
            return _sum(self.weights_bytes, self.activations_bytes)
        if self.process_bytes is not None:
            return self.process_bytes
        return _sum(self.runtime_bytes, self.weights_bytes, self.activations_bytes, self.scratch_bytes, self.io_bytes)

    def widest_known(self) -> Scope:
        """The first scope of WIDEST_FIRST these parts can total (model when none can)."""
        return next((s for s in WIDEST_FIRST if self.required_bytes(s) is not None), Scope.MODEL)


def _sum(*parts: int | None) -> int | None:
    return None if any(p is None for p in parts) else sum(parts)


@dataclass(frozen=True)
class Budget:
    """A memory budget and what it covers (``--budget`` with ``--budget-scope``)."""

    budget_bytes: int
    scope: Scope | None = Scope.ACTIVATIONS  # None: the widest scope the parts know (bench)

    def __post_init__(self) -> None:
        if isinstance(self.budget_bytes, bool) or not isinstance(self.budget_bytes, int) or self.budget_bytes <= 0:
            raise UsageError(f"a budget must be a positive number of bytes, got {self.budget_bytes!r}")
        if self.scope is not None:
            object.__setattr__(self, "scope", Scope.parse(self.scope))

    def check(self, parts: MemoryParts) -> BudgetCheck:
        return check_budget(parts, self.budget_bytes, self.scope)


@dataclass(frozen=True)
class BudgetCheck:
    """The verdict of one budget: what was compared, and whether it fits (None: not known)."""

    budget_bytes: int
    scope: Scope
    required_bytes: int | None  # what counted against the budget (None when a part is unknown)
    fits: bool | None
    shortfall_bytes: int  # required - budget when over, else 0

    @property
    def over(self) -> bool:
        return self.fits is False

    @property
    def headroom_bytes(self) -> int | None:
        return None if self.required_bytes is None else self.budget_bytes - self.required_bytes

    @property
    def verdict(self) -> str:
        return {True: "fits", False: "over", None: "unknown"}[self.fits]

    def to_json(self) -> dict:
        return {"budget_bytes": self.budget_bytes, "scope": self.scope.value, "required_bytes": self.required_bytes,
                "fits": self.fits, "shortfall_bytes": self.shortfall_bytes}

    @classmethod
    def from_json(cls, document: dict) -> BudgetCheck:
        return cls(int(document["budget_bytes"]), Scope(document["scope"]), document.get("required_bytes"),
                   document.get("fits"), int(document.get("shortfall_bytes") or 0))


def check_budget(parts: MemoryParts, budget_bytes: int, scope: Scope | str | None = Scope.ACTIVATIONS) -> BudgetCheck:
    """Compare what counts for ``scope`` (None: the widest the parts know) with ``budget_bytes``."""
    scope = parts.widest_known() if scope is None else Scope.parse(scope)
    required = parts.required_bytes(scope)
    if required is None:
        return BudgetCheck(budget_bytes, scope, None, None, 0)
    return BudgetCheck(budget_bytes, scope, required, required <= budget_bytes, max(0, required - budget_bytes))
