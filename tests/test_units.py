"""Sizes parse in one place: MB = 10^6, MiB = 2^20; ambiguous units are refused."""

from __future__ import annotations

import pytest

from edgemem.errors import UsageError
from edgemem.units import format_bytes, parse_duration_s, parse_shape, parse_size


@pytest.mark.parametrize("text, expected", [
    ("256MB", 256_000_000), ("256MiB", 256 * 2**20), ("256 mb", 256_000_000), ("1.5GiB", 1_610_612_736),
    ("1024", 1024), ("0.5KB", 500), ("2GB", 2_000_000_000), ("3KiB", 3072), ("7B", 7), (".5MiB", 524288),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["256M", "12k", "lots", "", "-5MB", "5 parsecs", "1e6"])
def test_parse_size_refuses(text):
    with pytest.raises(UsageError):
        parse_size(text)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 2**20) == "3.00 MiB"
    assert format_bytes(3_830_000, binary=False) == "3.83 MB"
    assert format_bytes(-2048) == "-2.00 KiB"
    assert format_bytes(None) == "-"


def test_durations_and_shapes():
    assert parse_duration_s("10s") == 10.0 and parse_duration_s("500ms") == 0.5 and parse_duration_s("2m") == 120.0
    assert parse_shape("1x3x224x224") == (1, 3, 224, 224) and parse_shape("1,3") == (1, 3)
    with pytest.raises(UsageError):
        parse_shape("1xAx3")
