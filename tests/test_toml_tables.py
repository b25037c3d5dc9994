"""edgemem.toml_tables: TOML tables to dataclasses and back, every error naming the file, table and key."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edgemem.budget import Precision
from edgemem.errors import ConfigError
from edgemem.toml_tables import NOT_IN_TOML, Size, from_table, key, read_toml, to_table, to_toml, write_toml


@dataclass(frozen=True)
class Inner:
    lr: float = 0.1
    milestones: tuple[int, ...] = ()


@dataclass(frozen=True)
class Outer:
    name: str
    budget_bytes: Size | None = field(default=None, metadata=key("budget"))
    precision: Precision = Precision.FP32
    path: Path | None = None
    inner: Inner = field(default_factory=Inner)
    tools: dict = field(default_factory=dict)
    seen_at: str = field(default="", metadata=NOT_IN_TOML)


def test_values_convert_to_their_annotations():
    outer = from_table(Outer, {"name": "a", "budget": "64KiB", "precision": "FP16", "path": "x/y",
                               "inner": {"lr": 1, "milestones": [2, 3]}, "tools": {"trtexec": "/bin/t"}}, "f.toml")
    assert outer == Outer("a", 65536, Precision.FP16, Path("x/y"), Inner(1.0, (2, 3)), {"trtexec": "/bin/t"})
    assert from_table(Outer, {"name": "b", "budget": 1000}, "f.toml").budget_bytes == 1000


@pytest.mark.parametrize("table, message", [
    ({}, "f.toml: missing key(s) name"),
    ({"name": "a", "colour": 1}, "f.toml: unknown key 'colour'"),
    ({"name": "a", "seen_at": "x"}, "unknown key 'seen_at'"),
    ({"name": 3}, "f.toml: name: expected a string, got int 3"),
    ({"name": "a", "budget": "12 parsecs"}, "f.toml: budget: unknown size unit"),
    ({"name": "a", "precision": "fp4"}, "f.toml: precision 'fp4': choose fp32, fp16, int8"),
    ({"name": "a", "inner": 3}, r"f.toml: [inner] must be a table"),
    ({"name": "a", "inner": {"lr": "fast"}}, "f.toml: [inner] lr: expected a number"),
    ({"name": "a", "inner": {"milestones": 3}}, "[inner] milestones: expected a list"),
    ({"name": "a", "inner": {"momentum": 3}}, "f.toml: [inner]: unknown key 'momentum'"),
])
def test_errors_name_the_place(table, message):
    with pytest.raises(ConfigError) as caught:
        from_table(Outer, table, "f.toml")
    assert message in caught.value.message


def test_a_base_fills_what_the_table_leaves_out():
    base = Outer("a", 5, inner=Inner(0.5, (1,)))
    assert from_table(Outer, {"inner": {"lr": 0.2}}, "f", base=base) == Outer("a", 5, inner=Inner(0.2, (1,)))


def test_written_tables_read_back_equal(tmp_path):
    outer = Outer('we"ird', 123, Precision.INT8, Path("p"), Inner(0.25, (4,)), {"a": "b"}, seen_at="not written")
    table = to_table(outer)
    assert "seen_at" not in table and table["budget"] == 123 and table["precision"] == "int8"
    path = write_toml(table, tmp_path / "sub" / "out.toml")
    assert tomllib.loads(path.read_text()) == tomllib.loads(to_toml(table))
    assert from_table(Outer, read_toml(path), str(path)) == Outer('we"ird', 123, Precision.INT8, Path("p"), Inner(0.25, (4,)), {"a": "b"})


def test_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="inventory not found"):
        read_toml(tmp_path / "missing.toml", "inventory")
    (tmp_path / "bad.toml").write_text("a = [")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_toml(tmp_path / "bad.toml")
