"""Runtime baselines in device profiles: unknown stays unknown, measured figures parse."""

from __future__ import annotations

import pytest

from edgemem.errors import ConfigError
from edgemem.profiles import list_profiles, load_profile
from edgemem.verify.baseline import baseline_from_table, profile_baseline


@pytest.mark.parametrize("backend", ["onnxruntime", "tvm", "tensorrt"])
def test_every_shipped_profile_marks_unmeasured_baselines_unknown(backend):
    for name in list_profiles():
        baseline = profile_baseline(load_profile(name), backend)
        assert baseline.import_bytes is None and baseline.first_run_bytes is None
        assert baseline.source.startswith("unknown")


def test_a_measured_table_parses_sizes():
    got = baseline_from_table({"status": "measured", "import": "54MiB", "session": "8MiB", "per_node": "4KiB",
                               "inputs": "7MiB", "first_run": "28KiB", "measured_with": "JetPack 6.1"}, "onnxruntime", "x")
    assert got.import_bytes == 54 << 20 and got.per_node_bytes == 4096 and "JetPack 6.1" in got.source


@pytest.mark.parametrize("table", [{"status": "maybe"}, {"status": "measured", "import": "54MiB"},
                                   {"status": "measured", "import": "lots", "session": "1MiB", "per_node": "1KiB",
                                    "inputs": "1MiB", "first_run": "1KiB"}, {"status": "unknown", "colour": "red"}])
def test_bad_tables_are_one_line_errors(table):
    with pytest.raises(ConfigError) as info:
        baseline_from_table(table, "tvm", "profile p")
    assert "\n" not in info.value.message
