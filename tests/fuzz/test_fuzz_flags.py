"""Seeded random command lines for analyze, bench (dead hosts, broken models: no job ever runs) and
distill (always one invalid value; training is refused by a stand-in): no traceback, no internal
error, no hang, no shell command run from a flag value."""

from __future__ import annotations

import pytest

from tests.fuzz.corpus import SEED
from tests.fuzz.flags import COMMANDS, FLAG_CASES, case_folder, dead_port, flag_case
from tests.fuzz.judge import run_flag_case, warm_up

TOTAL = sum(FLAG_CASES.values())
CHUNK = 50


@pytest.fixture(scope="module", autouse=True)
def imports_done():
    warm_up()


def test_every_command_and_every_option_is_drawn():
    cases = [flag_case(i, SEED) for i in range(TOTAL)]
    assert {c.command for c in cases} == set(COMMANDS) == set(FLAG_CASES)
    for command in COMMANDS:
        drawn = {a for c in cases if c.command == command for a in c.args if a.startswith("--")}
        options = {p.opts[0] for p in COMMANDS[command].params if p.opts[0].startswith("--")}
        assert options <= drawn, (command, options - drawn)


@pytest.mark.parametrize("start", range(0, TOTAL, CHUNK))
def test_flag_cases(start, tmp_path):
    port = dead_port()
    problems = []
    for index in range(start, min(start + CHUNK, TOTAL)):
        folder = tmp_path / str(index)
        problems += run_flag_case(flag_case(index, SEED), folder, case_folder(folder, port)).problems
    assert not problems, "\n".join(problems)
