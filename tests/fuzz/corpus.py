"""The fuzz corpus: model cases (tests/fuzz/mutate.py) and flag cases (tests/fuzz/flags.py) by index."""

from __future__ import annotations

import os

import numpy as np

from tests.fuzz.models import BASES, BIND, ModelCase
from tests.fuzz.mutate import MUTATIONS, pick

SEED = int(os.environ.get("EDGEMEM_FUZZ_SEED", "20261203"))
MODEL_CASES = 1020  # 85 per mutation category
CATEGORIES = list(MUTATIONS)


def model_case(index: int, seed: int = SEED) -> ModelCase:
    """Case ``index`` of the corpus: a base model (fixed weights) and one mutation drawn from (seed, index)."""
    rng = np.random.default_rng([seed, index])
    category = CATEGORIES[index % len(CATEGORIES)]
    base = pick(rng, sorted(BASES))
    model = BASES[base](np.random.default_rng(0))
    what, files = MUTATIONS[category](rng, model)
    flags = list(BIND.get(base, ()))
    if rng.random() < 0.3:
        flags.append("--json")
    return ModelCase(index=index, category=category, base=base, files=files, flags=tuple(flags), what=what)
