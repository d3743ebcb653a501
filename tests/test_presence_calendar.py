"""The .ics reader on real files: a meeting now, weekly and daily repeats in Europe/Berlin across
the DST changes, exclusions, and broken files (one clear line naming the file and line)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.presence.base import SignalUnavailable
from posture_agent.presence.calendar import CalendarFile

BERLIN = ZoneInfo("Europe/Berlin")


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{n}@test\r\n{e.strip()}\r\nEND:VEVENT\r\n" for n, e in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def calendar(tmp_path: Path, text: str) -> CalendarFile:
    path = tmp_path / "work.ics"
    path.write_text(text, encoding="utf-8")
    return CalendarFile(path, BERLIN)


def test_a_one_off_meeting_holds_during_it_and_not_after(tmp_path: Path) -> None:
    cal = calendar(tmp_path, ics("SUMMARY:Design review\nDTSTART:20261125T090000Z\nDTEND:20261125T100000Z"))
    assert cal.away(berlin(2026, 11, 25, 9, 59)) is None
    assert cal.away(berlin(2026, 11, 25, 10, 0)) == "in a meeting until 11:00"
    assert cal.away(berlin(2026, 11, 25, 10, 59)) == "in a meeting until 11:00"
    assert cal.away(berlin(2026, 11, 25, 11, 0)) is None


def test_a_weekly_meeting_keeps_its_wall_time_across_both_dst_changes(tmp_path: Path) -> None:
    cal = calendar(tmp_path, ics(
        "SUMMARY:Stand-up\nDTSTART;TZID=Europe/Berlin:20270315T093000\nDURATION:PT15M\nRRULE:FREQ=WEEKLY;BYDAY=MO",
    ))
    for day in (15, 22, 29):  # 28 March 2027: clocks go forward
        assert cal.away(berlin(2027, 3, day, 9, 40)) == "in a meeting until 09:45", day
        assert cal.away(berlin(2027, 3, day, 9, 50)) is None
    assert cal.away(berlin(2027, 3, 30, 9, 40)) is None  # a Tuesday
    assert cal.away(berlin(2027, 11, 1, 9, 35)) == "in a meeting until 09:45"  # after 31 October


def test_daily_repeats_with_interval_count_until_and_exdate(tmp_path: Path) -> None:
    cal = calendar(tmp_path, ics(
        "DTSTART;TZID=Europe/Berlin:20261123T140000\nDTEND;TZID=Europe/Berlin:20261123T143000\n"
        "RRULE:FREQ=DAILY;COUNT=3",
        "DTSTART;TZID=Europe/Berlin:20261123T160000\nDTEND;TZID=Europe/Berlin:20261123T170000\n"
        "RRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20261129T235959Z\nEXDATE;TZID=Europe/Berlin:20261127T160000",
    ))
    at_two = [cal.away(berlin(2026, 11, d, 14, 10)) is not None for d in range(22, 28)]
    assert at_two == [False, True, True, True, False, False]  # 23, 24, 25: three times
    at_four = [cal.away(berlin(2026, 11, d, 16, 10)) is not None for d in range(23, 33) if d <= 30]
    assert at_four == [True, False, True, False, False, False, True, False]  # 27 excluded, none after 29


def test_all_day_cancelled_and_free_events_are_not_meetings(tmp_path: Path) -> None:
    cal = calendar(tmp_path, ics(
        "SUMMARY:Holiday\nDTSTART;VALUE=DATE:20261125\nDTEND;VALUE=DATE:20261126",
        "STATUS:CANCELLED\nDTSTART:20261125T090000Z\nDTEND:20261125T120000Z",
        "TRANSP:TRANSPARENT\nDTSTART:20261125T090000Z\nDTEND:20261125T120000Z",
    ))
    assert cal.away(berlin(2026, 11, 25, 11, 0)) is None


def test_folded_lines_and_floating_times(tmp_path: Path) -> None:
    text = ics("SUMMARY:A very long\r\n  title\nDTSTART:20261125T110000\nDTEND:20261125T113000")
    assert calendar(tmp_path, text).away(berlin(2026, 11, 25, 11, 15)) == "in a meeting until 11:30"


@pytest.mark.parametrize(("text", "problem"), [
    ("hello\n", "line 1: not an iCalendar file"),
    (ics("DTSTART:2026-11-25 09:00\nDTEND:20261125T100000Z"), "line 6: not a date-time like 20261201T093000"),
    (ics("DTSTART:20261125T090000Z\nDURATION:an hour"), "line 7: not a duration like PT30M"),
    (ics("DTSTART:20261125T090000Z\nDTEND:20261125T100000Z\nRRULE:FREQ=WEEKLY;BYDAY=XX"), "line 8: RRULE BYDAY"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261125T090000Z\n", "line 2: BEGIN:VEVENT is never ended"),
    (ics("SUMMARY:no start"), "line 4: an event has no DTSTART"),
])
def test_a_broken_file_is_one_line_naming_file_and_line(tmp_path: Path, text: str, problem: str) -> None:
    cal = calendar(tmp_path, text)
    with pytest.raises(SignalUnavailable) as caught:
        cal.away(berlin(2026, 11, 25, 10, 0))
    message = str(caught.value)
    assert message.startswith(f"calendar {tmp_path / 'work.ics'}, ") and problem in message
    assert "\n" not in message


def test_the_file_is_read_again_when_it_changes_and_a_missing_one_is_unavailable(tmp_path: Path) -> None:
    cal = calendar(tmp_path, "broken")
    with pytest.raises(SignalUnavailable):
        cal.away(berlin(2026, 11, 25, 10, 0))
    cal.path.write_text(ics("DTSTART:20261125T090000Z\nDTEND:20261125T100000Z"), encoding="utf-8")
    assert cal.away(berlin(2026, 11, 25, 10, 0)) == "in a meeting until 11:00"
    cal.path.unlink()
    with pytest.raises(SignalUnavailable, match="cannot be read"):
        cal.away(berlin(2026, 11, 25, 10, 0))
