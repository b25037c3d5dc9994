"""Device profiles: every shipped TOML loads and validates; bad ones fail with the file and key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemem import profiles
from edgemem.errors import ConfigError
from edgemem.profiles import list_profiles, load_profile, profiles_dir

GOOD = """
schema = 1
name = "{name}"
title = "Test board"
soc = "tegra234"
compute_capability = "8.7"
memory = "8GiB"
usable_memory = "6GiB"
jetpack = ["6.0"]
tensorrt = ["8.6.2"]
python = ["3.10"]
precisions = ["fp32", "fp16"]

[bench]
backend = "tensorrt"
precision = "fp16"
"""


def test_every_shipped_profile_is_valid():
    names = list_profiles()
    assert {"jetson-nano-4gb", "jetson-orin-nano-8gb", "jetson-orin-nx-16gb", "jetson-agx-orin-32gb",
            "jetson-agx-orin-64gb", "jetson-xavier-nx-8gb"} <= set(names)
    for name in names:
        p = load_profile(name)
        assert p.name == name and 0 < p.usable_memory_bytes <= p.memory_bytes and p.budget_bytes <= p.memory_bytes
        assert p.precision in p.precisions and "fp32" in p.precisions and p.remote_python.startswith("/")


def test_documented_numbers():
    nano = load_profile("jetson-nano-4gb")
    assert nano.memory_bytes == 4 << 30 and nano.linux_memtotal_bytes == 3956 << 20
    assert nano.usable_memory_bytes == nano.linux_memtotal_bytes - (768 << 20) == nano.budget_bytes
    assert "int8" not in nano.precisions and nano.tegrastats_interval_ms == 500
    orin = load_profile("jetson-orin-nano-8gb")
    assert orin.compute_capability == "8.7" and orin.workspace_bytes == 1 << 30 and orin.dla_cores == 0


def test_readme_documents_every_key():
    readme = (profiles_dir() / "README.md").read_text()
    for key in ("schema", "usable_memory", "linux_memtotal", "compute_capability", "precisions", "[bench]", "budget",
                "workspace", "remote_python", "tegrastats_interval_ms"):
        assert key in readme, key


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("change, words", [
    (lambda t: t.replace('memory = "8GiB"', 'memory = "8 bananas"'), "memory"),
    (lambda t: t.replace('usable_memory = "6GiB"', 'usable_memory = "9GiB"'), "usable_memory must be"),
    (lambda t: t.replace('precision = "fp16"', 'precision = "int8"'), "not among precisions"),
    (lambda t: t.replace('backend = "tensorrt"', 'backend = "caffe"'), "backend 'caffe'"),
    (lambda t: t.replace('title = "Test board"\n', ""), "missing key(s) title"),
    (lambda t: t.replace("[bench]", "[bench]\ncolour = 3"), "[bench]: unknown key 'colour'"),
    (lambda t: t.replace("schema = 1", "schema = 2"), "schema 2"),
    (lambda t: t.replace('jetpack = ["6.0"]', 'jetpack = "6.0"'), "jetpack: expected a list"),
    (lambda t: t + "\n[[[", "not valid TOML"),
])
def test_invalid_profiles_are_refused_with_file_and_key(tmp_path, change, words):
    path = write(tmp_path, "bad-board", change(GOOD.format(name="bad-board")))
    with pytest.raises(ConfigError) as caught:
        load_profile(str(path))
    assert words in caught.value.message and "bad-board.toml" in caught.value.message


def test_name_must_match_the_file_and_lookup_by_directory(tmp_path):
    write(tmp_path, "board-a", GOOD.format(name="board-b"))
    with pytest.raises(ConfigError, match="differs from the file name"):
        load_profile("board-a", tmp_path)
    write(tmp_path, "board-c", GOOD.format(name="board-c"))
    assert load_profile("board-c", tmp_path).budget_bytes == 6 << 30  # budget defaults to usable_memory
    with pytest.raises(ConfigError, match="known profiles: board-a, board-c"):
        load_profile("board-z", tmp_path)


def test_profiles_dir_prefers_env_then_checkout_then_the_wheels_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEMEM_PROFILES", raising=False)
    assert profiles.profiles_dir() == Path(profiles.__file__).resolve().parent.parent / "profiles"
    # a wheel install: no profiles/ beside the package, the copies under <prefix>/share/edgemem/profiles
    installed = tmp_path / "prefix" / "share" / "edgemem" / "profiles"
    installed.mkdir(parents=True)
    monkeypatch.setattr(profiles, "__file__", str(tmp_path / "site-packages" / "edgemem" / "profiles.py"))
    monkeypatch.setattr(profiles.sys, "prefix", str(tmp_path / "prefix"))
    assert profiles.profiles_dir() == installed
    monkeypatch.setenv("EDGEMEM_PROFILES", str(tmp_path / "mine"))
    assert profiles.profiles_dir() == tmp_path / "mine"


def test_pyproject_ships_every_profile_in_the_wheel():
    root = Path(__file__).resolve().parent.parent
    data_files = profiles.read_toml(root / "pyproject.toml")["tool"]["setuptools"]["data-files"]
    shipped = {p for pattern in data_files["share/edgemem/profiles"] for p in root.glob(pattern)}
    assert {root / "profiles" / f"{name}.toml" for name in list_profiles()} <= shipped
