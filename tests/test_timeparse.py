"""What users type for durations and times."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from posture_agent.errors import UserError
from posture_agent.timeparse import format_duration, parse_at, parse_duration, parse_week


@pytest.mark.parametrize(
    ("text", "expected"),
    [("45:30", timedelta(minutes=45, seconds=30)), ("1:02:03", timedelta(hours=1, minutes=2, seconds=3)),
     ("50m", timedelta(minutes=50)), ("1h5m", timedelta(hours=1, minutes=5)), ("90", timedelta(minutes=90)),
     ("PT45M", timedelta(minutes=45)), ("1h 5m 30s", timedelta(hours=1, minutes=5, seconds=30))],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_local_time_in_each_half_of_a_dst_change() -> None:
    ny = ZoneInfo("America/New_York")
    assert parse_at("2026-11-01T00:30", ny).utcoffset() == timedelta(hours=-4)
    assert parse_at("2026-11-01T03:30", ny).utcoffset() == timedelta(hours=-5)
    with pytest.raises(UserError, match="does not exist"):
        parse_at("2026-03-08T02:30", ny)
    assert parse_at("2026-11-24T10:00Z", ny).utcoffset() == timedelta(0)


def test_weeks_and_formatting() -> None:
    assert parse_week("2026-W53") == (2026, 53)
    with pytest.raises(UserError, match="ISO week"):
        parse_week("2025-W53")
    assert format_duration(timedelta(hours=1, minutes=2, seconds=3)) == "1:02:03"
    assert format_duration(timedelta(minutes=5, seconds=25)) == "5:25"


def test_one_range_for_every_date_and_time() -> None:
    """The accepted years, checked on what the user typed: the same with or without an offset,
    and a week by its own ISO year (1970-W01 begins on a Monday of 1969)."""
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_week("1970-W01") == (1970, 1)
    assert parse_week("2200-W52") == (2200, 52)
    assert parse_at("1970-01-01T00:00", berlin).year == 1970
    for text in ("0001-01-01T00:00", "0001-01-01T00:00+01:00", "9999-12-31T23:00", "2201-01-01T00:00Z"):
        with pytest.raises(UserError, match=r"out of range \(years 1970 to 2200\)"):
            parse_at(text, berlin)
    for week in ("0001-W01", "1969-W52", "2201-W01"):
        with pytest.raises(UserError, match="out of range"):
            parse_week(week)
