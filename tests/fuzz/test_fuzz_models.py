"""The seeded model corpus through ``edgemem analyze``: no traceback, no internal error, no hang,
and no exit 0 on a model the ONNX checker or ONNX Runtime rejects unless a warning says why."""

from __future__ import annotations

import pytest

from tests.fuzz.corpus import CATEGORIES, MODEL_CASES, model_case
from tests.fuzz.judge import run_model_case, warm_up

CHUNK = 60


@pytest.fixture(scope="module", autouse=True)
def imports_done():
    warm_up()


def test_the_corpus_is_large_seeded_and_covers_every_category():
    assert MODEL_CASES >= 1000
    cases = [model_case(i) for i in range(len(CATEGORIES) * 3)]
    assert {c.category for c in cases} == set(CATEGORIES)
    assert [c.files for c in cases[:5]] == [model_case(i).files for i in range(5)]  # rebuilt from (seed, index) alone
    assert len({c.files["model.onnx"] for c in cases}) == len(cases)  # every case is a different file


@pytest.mark.parametrize("start", range(0, MODEL_CASES, CHUNK))
def test_model_cases(start, tmp_path):
    problems = []
    for index in range(start, min(start + CHUNK, MODEL_CASES)):
        problems += run_model_case(model_case(index), tmp_path / str(index)).problems
    assert not problems, "\n".join(problems)
