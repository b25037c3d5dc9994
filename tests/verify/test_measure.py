"""Parts from the agent worker's phase records: never negative, always with a source."""

from __future__ import annotations

from edgemem.verify.measure import WORKER_ENV, breakdown, summarize

MIB = 1 << 20


def phase(name, rss, hwm, anon, file):
    return {"phase": name, "rss_bytes": rss, "hwm_bytes": hwm, "rss_anon_bytes": anon, "rss_file_bytes": file}


PHASES = [
    phase("started", 10 * MIB, 10 * MIB, 5 * MIB, 5 * MIB),
    phase("runtime_imported", 50 * MIB, 50 * MIB, 20 * MIB, 30 * MIB),
    phase("loaded", 60 * MIB, 61 * MIB, 24 * MIB, 36 * MIB),
    phase("inputs_ready", 61 * MIB, 61 * MIB, 25 * MIB, 36 * MIB),
    phase("peak_reset", 61 * MIB, 61 * MIB, 25 * MIB, 36 * MIB),
    phase("measured", 64 * MIB, 66 * MIB, 27 * MIB, 37 * MIB),
]


def test_parts_from_phases():
    parts = breakdown(PHASES, weights_bytes=2 * MIB, input_bytes=4096, hwm_reset=True)
    assert parts["runtime_baseline"]["bytes"] == 50 * MIB
    assert parts["weights"]["bytes"] == 2 * MIB and parts["weights"]["source"].startswith("static")
    assert parts["session_overhead"]["bytes"] == 8 * MIB
    # peak 66 - 61 at the reset, minus 1 MiB of library code the runs touched
    assert parts["activations"]["bytes"] == 4 * MIB
    assert "VmHWM" in parts["activations"]["source"]
    assert parts["io_buffers"]["bytes"] == 1 * MIB
    assert all(p["source"] for p in parts.values())


def test_never_negative_and_says_so():
    parts = breakdown(PHASES, weights_bytes=20 * MIB, input_bytes=0, hwm_reset=True)
    assert parts["session_overhead"]["bytes"] == 0
    assert "shown as 0" in parts["session_overhead"]["note"]


def test_without_a_resettable_peak_the_anon_growth_is_used_and_labelled():
    parts = breakdown(PHASES, weights_bytes=0, input_bytes=0, hwm_reset=False)
    assert parts["activations"]["bytes"] == 2 * MIB
    assert "not writable" in parts["activations"]["note"]


def test_unfinished_runs_are_unknown_not_zero():
    parts = breakdown(PHASES[:4], weights_bytes=0, input_bytes=0, hwm_reset=True)
    assert parts["activations"]["bytes"] is None and parts["activations"]["source"].startswith("unknown")


def test_summary_median_and_spread():
    got = summarize([10, 14, 12, None])
    assert got["median_bytes"] == 12 and got["spread_bytes"] == 4 and got["runs"] == 4
    assert summarize([None])["median_bytes"] is None


def test_the_measuring_process_gets_a_fixed_mmap_threshold():
    assert WORKER_ENV == {"MALLOC_MMAP_THRESHOLD_": "131072"}
