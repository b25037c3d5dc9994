"""The memory split of a fresh process, from the agent's raw stage records."""

from __future__ import annotations

from edgemem.bench.breakdown import system_delta


def raw_with(baseline: int) -> dict:
    return {"system": {"baseline": {"available_bytes_median": baseline}}}


def test_system_wide_delta_is_idle_minus_lowest_available():
    found = system_delta(raw_with(1000 << 20), {"min_available_bytes": 900 << 20})
    assert found.value_bytes == 100 << 20 and "system-wide" in found.method


def test_a_negative_system_wide_delta_is_never_reported_as_memory():
    """Issue 10, reproduction 11: MemAvailable rose while running (memory freed elsewhere)."""
    found = system_delta(raw_with(900 << 20), {"min_available_bytes": 950 << 20})
    assert found.value_bytes is None and "not measured" in found.method and "negative" in found.method


def test_unknown_when_either_side_is_missing():
    assert system_delta({}, {"min_available_bytes": 1}).value_bytes is None
    assert system_delta(raw_with(1), {}).value_bytes is None
