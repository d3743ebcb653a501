"""Bad input gets one clear line on stderr, a non-zero exit, and the database left exactly as it was."""

from __future__ import annotations

import pytest

from tests.conftest import Cli

BAD = [
    (("checkin", "slumped"), "posture 'slumped' is not one of"),
    (("checkin", "missed"), "posture 'missed' is not one of"),
    (("checkin", "upright", "--context", "bus"), "context 'bus' is not one of: desk, car, sofa"),
    (("checkin", "upright", "--at", "yesterday"), "is not an ISO 8601 time"),
    (("checkin", "upright", "--at", "2026-11-26T09:00"), "is in the future"),
    (("checkin", "upright", "--at", "2026-03-29T02:30"), "does not exist in Europe/Berlin"),
    (("checkin", "upright", "--at", "1901-12-13T20:45"), "out of range (years 1970 to 2200)"),
    (("drill", "done", "handstand"), "unknown drill 'handstand' (known:"),
    (("drill", "done", "chin-tuck", "handstand"), "unknown drill 'handstand'"),
    (("circuit", "done", "--rounds", "0"), "--rounds 0 is out of range (1 to 10)"),
    (("circuit", "done", "--rounds", "11"), "--rounds 11 is out of range (1 to 10)"),
    (("run", "add", "--distance-km", "-5", "--duration", "30:00"), "distance -5 km is out of range"),
    (("run", "add", "--distance-km", "0", "--duration", "30:00"), "distance 0 km is out of range"),
    (("run", "add", "--distance-km", "1000", "--duration", "100:00:00"), "distance 1000 km is out of range"),
    (("run", "add", "--distance-km", "nan", "--duration", "30:00"), "distance nan km is out of range"),
    (("run", "add", "--distance-km", "10", "--duration", "0:30"), "out of range (1 minute to 48 hours)"),
    (("run", "add", "--distance-km", "10", "--duration", "60:00:00"), "out of range (1 minute to 48 hours)"),
    (("run", "add", "--distance-km", "42", "--duration", "1:00:00"), "faster than any runner"),
    (("run", "add", "--distance-km", "10", "--duration", "fast"), "is not a duration"),
    (("run", "add", "--distance-km", "10", "--duration", "45:99"), "is not a duration"),
    (("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-25T11:30"), "end in the future"),
    (("soreness", "--upper-back", "11"), "upper-back 11 is out of range (0 to 10)"),
    (("soreness", "--si-joint", "-1"), "si-joint -1 is out of range (0 to 10)"),
    (("soreness",), "give at least one region"),
    (("soreness", "--mid-back", "3", "--run", "deadbeef"), "no run with id 'deadbeef'"),
    (("soreness", "--mid-back", "3", "--form", "wobbly"), "unknown form note 'wobbly'"),
    (("drills", "--date", "25/11/2026"), "is not a date YYYY-MM-DD"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_refused_with_one_line_and_nothing_written(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli.ok("checkin", "upright", "--at", "2026-11-24T10:00")  # some data that must survive
    before = cli.db_dump()
    result = cli(*args)
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert message in lines[0]
    assert "Traceback" not in result.err
    assert cli.db_dump() == before


def test_argparse_errors_are_usage_errors(cli: Cli) -> None:
    result = cli("run", "add", "--distance-km", "ten", "--duration", "30:00")
    assert result.code == 2 and "invalid float value" in result.err
