"""tegrastats, nvpmodel and L4T/CUDA identity parsers against real recorded device output."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem.bench.parsers.jetson import jetpack_for, parse_cuda_version, parse_l4t, parse_nvpmodel
from edgemem.bench.parsers.tegrastats import parse_tegrastats_line, summarize_tegrastats

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "device"
MIB = 1 << 20


def lines(name: str) -> list[str]:
    return (FIXTURES / "tegrastats" / f"{name}.log").read_text().splitlines()


def sample(name: str, index: int = 0):
    return parse_tegrastats_line(lines(name)[index])


def test_nano_jp4_root():
    s = sample("g1_nano_jp4_root")
    assert s.timestamp is None  # JetPack 4 prints none
    assert (s.ram_used_bytes, s.ram_total_bytes) == (1501 * MIB, 3956 * MIB)
    assert (s.lfb_blocks, s.lfb_block_bytes) == (332, 4 * MIB) and s.swap_total_bytes is None
    assert s.cpus == ((16, 1479), (13, 1479), (10, 1479), (4, 1479))
    assert (s.emc_pct, s.emc_mhz, s.gpu_pct, s.gpu_mhz) == (4, 1600, 28, (76,))
    assert s.temps_c["GPU"] == 41.5 and s.temps_c["thermal"] == 42.5
    assert s.power_mw["POM_5V_IN"] == (4122, 3107) and s.total_power_mw == 4122


def test_nano_with_swap():
    s = sample("g2_nano_jp4_swap")
    assert (s.swap_used_bytes, s.swap_total_bytes, s.swap_cached_bytes) == (0, 1982 * MIB, 0)


def test_tx2_offline_cores_and_vdd_in_total():
    s = sample("g3_tx2_offline_cores")
    assert s.cpus[1] is None and s.cpus[2] is None and s.cpus[0] == (1, 345)
    assert s.total_power_mw == 3024


def test_agx_xavier_nonroot_gpu_name_clash_and_rail_sum():
    s = sample("g4_agx_xavier_jp4.2_nonroot")
    assert s.gpu_mhz == () and s.emc_mhz is None and s.gpu_pct == 0  # non-root: no clocks
    assert s.temps_c["GPU"] == 30.5 and s.power_mw["GPU"] == (463, 463)  # separate namespaces
    assert s.total_power_mw == 463 + 618 + 2936 + 0 + 309 + 3306
    assert s.swap_cached_bytes == 23 * MIB


def test_agx_orin_jp6_array_clock_absent_sensors_repeated_rails():
    s = sample("g5_agx_orin_64gb_jp6")
    assert s.timestamp == "04-11-2025 10:36:27" and s.gpu_mhz == (0, 0)
    assert "CV0" not in s.temps_c and "GPU" not in s.temps_c  # -256C = absent
    assert s.power_mw["NC"] == (0, 0) and s.power_mw["NC#2"] == (0, 0)
    assert s.total_power_mw == 4025 and len(s.cpus) == 12


def test_orin_nano_root_and_nonroot_lines():
    root, nonroot = sample("g6_orin_nano_8gb_jp6", 0), sample("g6_orin_nano_8gb_jp6", 1)
    assert (root.gpu_pct, root.gpu_mhz, root.emc_pct) == (63, (621,), 43)
    assert (nonroot.gpu_pct, nonroot.gpu_mhz, nonroot.emc_pct) == (0, (), None)
    assert root.total_power_mw == 12479 and nonroot.lfb_block_bytes == 4 * MIB


def test_jp7_three_value_power_and_cur_max_temperatures():
    s = sample("g7_agx_orin_jp7.2")
    assert s.power_mw["VIN_SYS_5V0"] == (5500, 5500, 5500) and s.temps_c["cpu"] == 52.968
    assert s.gpu_mhz == (1300, 1300) and s.swap_total_bytes is None


def test_every_recorded_line_parses():
    for path in (FIXTURES / "tegrastats").glob("*.log"):
        for line in path.read_text().splitlines():
            s = parse_tegrastats_line(line)
            assert s is not None and s.ram_total_bytes > s.ram_used_bytes > 0 and s.cpus, path.name


def test_summary_over_a_log():
    summary = summarize_tegrastats("\n".join(lines("g1_nano_jp4_root")) + "\nnot a tegrastats line\n")
    assert summary.samples == 3 and summary.ram_peak_delta_bytes == 3 * MIB
    assert summary.gpu_pct_max == 99 and summary.gpu_mhz_max == 921 and summary.temp_max_c["GPU"] == 43.0
    assert summary.power_mean_mw == pytest.approx((4122 + 4531 + 4523) / 3, abs=0.1)


def test_nvpmodel_query_as_non_root():
    mode = parse_nvpmodel((FIXTURES / "jetson" / "nvpmodel_q_nano_5w_nonroot.txt").read_text())
    assert (mode.name, mode.mode_id, len(mode.errors)) == ("5W", 1, 2)
    assert parse_nvpmodel("") is None and parse_nvpmodel("something else") is None


@pytest.mark.parametrize("release, l4t, jetpack", [
    ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022", "32.7.1", "4.6.x"),
    ("# R35 (release), REVISION: 4.1, GCID: 1, BOARD: t186ref", "35.4.1", "5.1.2"),
    ("# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic", "36.4.3", "6.2"),
    ("# R35 (release), REVISION: 3.1, GCID: 1", "35.3.1", None),  # not in the documented table: unknown, not guessed
])
def test_l4t_and_jetpack(release, l4t, jetpack):
    # release lines are written from the format in the reference (a3), not copied from a device
    assert parse_l4t([release]) == l4t and jetpack_for(l4t) == jetpack


def test_cuda_version_files():
    assert parse_cuda_version('{"cuda": {"name": "CUDA SDK", "version": "12.6.68"}}') == "12.6.68"
    assert parse_cuda_version("CUDA Version 10.2.300\n") == "10.2.300"
    assert parse_cuda_version(None) is None and parse_cuda_version("garbage") is None
