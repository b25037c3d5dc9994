"""The memory model: what counts, what may share a buffer, how buffers are padded."""

from __future__ import annotations

from dataclasses import dataclass

from edgemem.budget import Precision
from edgemem.errors import UsageError

# Ops whose output is a view of input 0 (no new buffer) when alias_views is on.
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})

# Elementwise ops that may write their output over an input operand of the same byte size
# when that operand's buffer has no other reader (so it dies at this node in every order).
INPLACE_OPS = frozenset({
    # unary
    "Relu", "LeakyRelu", "PRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu",
    "Celu", "Softplus", "Softsign", "ThresholdedRelu", "Gelu", "Mish", "Swish", "Abs", "Neg", "Exp", "Log",
    "Sqrt", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Tan", "Not",
    "BatchNormalization",
    # binary / variadic (broadcasting: only an operand of the output's size can be reused)
    "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "And", "Or", "Xor", "Where",
})

# Opt-in in-place rules beyond the safe set: each needs a kernel that can do it, so each is
# reported separately (what that kernel capability would save). Off by default.
INPLACE_RULES = {
    "concat": "Concat written in place: each producer writes its slice of the Concat output directly "
              "(contiguous slices only: every dimension before the axis is 1); the buffer is allocated by "
              "the producer that runs first in the stored order, which stays first",
    "depthwise": "in-place depthwise convolution (TinyEngine): the output overwrites the input through a "
                 "scratch buffer of one input channel",
}

FLOAT_DTYPES = frozenset({"FLOAT", "FLOAT16", "BFLOAT16", "DOUBLE"})
PRECISION_BITS = {p: p.bits for p in Precision}  # keyed by the str enum, so "fp16" finds it too


@dataclass(frozen=True)
class Convention:
    """Reference convention: ``Convention(inplace=False, alias_views=False, alignment_bytes=1)``.

    One node per step; a buffer is live from its creator's step (graph inputs from step 0)
    through its last reader's step, graph outputs to the end; a node's inputs and outputs are
    live together. ``precision`` re-counts floating-point activations at fp16/int8 width.
    """

    inplace: bool = True
    alias_views: bool = True
    alignment_bytes: int = 64
    precision: Precision | None = None  # None: as stored
    inplace_rules: tuple[str, ...] = ()  # opt-in rules from INPLACE_RULES (kernel capabilities)

    def __post_init__(self) -> None:
        if self.precision is not None:
            object.__setattr__(self, "precision", Precision.parse(self.precision))
        unknown = [r for r in self.inplace_rules if r not in INPLACE_RULES]
        if unknown:
            raise UsageError(f"unknown in-place rule {', '.join(map(repr, unknown))}", hint=f"choose from {', '.join(INPLACE_RULES)}")

    def describe(self) -> str:
        parts = [
            "one node per step; inputs and outputs of a node live together",
            "graph inputs live from step 0, graph outputs to the end",
            "view ops alias their input" if self.alias_views else "view ops get their own buffer",
            "safe in-place reuse for elementwise ops" if self.inplace else "no in-place reuse",
            f"arena offsets aligned to {self.alignment_bytes} B" if self.alignment_bytes > 1 else "no padding",
        ]
        if self.precision:
            parts.append(f"floating-point activations counted at {self.precision.value}")
        for rule in self.inplace_rules:
            parts.append(f"opt-in: {INPLACE_RULES[rule]}")
        return "; ".join(parts)
