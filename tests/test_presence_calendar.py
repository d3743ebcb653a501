"""Calendars as real programs export them (tests/calendars/: Google, Outlook, Thunderbird, Apple and
RFC 5545's own examples), read through the `calendar` command in a real process on a pinned clock,
each compared with what a person reading the file expects: moved and cancelled occurrences, Windows
zone names, a Mozilla-prefixed TZID, floating times, monthly "second Tuesday", RDATE, EXDATE, two
RRULEs, RANGE=THISANDFUTURE, the DST weeks of Europe/Berlin and America/New_York. Then the signal
itself: bisecting the cached spans, reading again only when a file or the day changes, a broken
event skipped and named, and files that must not hang anything (a FIFO, /dev/zero)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posture_agent.presence.base import SignalUnavailable
from posture_agent.presence.calendar import CACHE_FILE, CalendarFile, Request
from posture_agent.presence.ics import expand
from tests.conftest import Cli
from tests.desktop import wait_for
from tests.processes import PinnedClock, RunningAgent, rows, run_cli

CALENDARS = Path(__file__).with_name("calendars")
BERLIN = ZoneInfo("Europe/Berlin")


def home_with(tmp_path: Path, calendar: str | list[str], zone: str = "Europe/Berlin", extra: str = "") -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    listed = json.dumps(calendar)
    (home / "config.toml").write_text(
        f'[general]\ntimezone = "{zone}"\n[presence]\ncalendar = {listed}\n{extra}', encoding="utf-8"
    )
    return home


def listed(home: Path, pinned: datetime, *args: str) -> list[tuple[str, str, str]]:
    """(start, end, summary) of each meeting `calendar --json` prints, in a process on a pinned clock."""
    result = run_cli(home, "calendar", *args, "--json", env=PinnedClock(pinned).env())
    assert result.returncode == 0, result.stderr
    return [(m["start"], m["end"], m["summary"]) for m in json.loads(result.stdout)["meetings"]]


def test_google_moved_and_cancelled_occurrences_all_day_free_and_tentative(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(CALENDARS / "google.ics"))
    expected = [
        # Mon 23 March: the weekly sync is cancelled for that week
        ("2026-03-25T14:00:00+01:00", "2026-03-25T14:30:00+01:00", "1:1 with Sam"),  # UTC in the file
        # Thu 26: "Focus time" is free, not listed; "Maybe lunch" is tentative, which holds by default
        ("2026-03-26T12:00:00+01:00", "2026-03-26T13:00:00+01:00", "Maybe lunch"),
        # Fri 27: an all-day holiday is no meeting. Sun 29: clocks go forward.
        # Mon 30 March 10:00 moved to Tuesday 11:00, summer time
        ("2026-03-31T11:00:00+02:00", "2026-03-31T11:30:00+02:00", "Weekly sync (moved)"),
    ]
    assert listed(home, datetime(2026, 3, 23, 7, 0, tzinfo=UTC), "--from", "2026-03-23", "--days", "10") == expected
    text = run_cli(home, "calendar", "--from", "2026-03-23", "--days", "10",
                   env=PinnedClock(datetime(2026, 3, 23, 7, 0, tzinfo=UTC)).env()).stdout
    assert text.splitlines() == [
        "Calendar: 1 file read, 7 events",
        "Wednesday 25 March 2026", "  14:00–14:30  1:1 with Sam",
        "Thursday 26 March 2026", "  12:00–13:00  Maybe lunch",
        "Tuesday 31 March 2026", "  11:00–11:30  Weekly sync (moved)",
    ]
    home_with(tmp_path, str(CALENDARS / "google.ics"), extra="hold_tentative = false\n")
    assert "Maybe lunch" not in {s for _, _, s in listed(home, datetime(2026, 3, 23, 7, tzinfo=UTC), "--days", "5")}


def test_outlook_windows_zone_names_exdate_and_an_alarm_duration(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(CALENDARS / "outlook.ics"))
    assert listed(home, datetime(2026, 10, 19, 7, 0, tzinfo=UTC), "--from", "2026-10-19", "--days", "10") == [
        # 11:00 in New York, still on summer time in the week after Berlin's change: 16:00 in Berlin
        ("2026-10-27T16:00:00+01:00", "2026-10-27T17:00:00+01:00", "Call with New York"),
        # Wed 21 excluded (EXDATE); the 15-minute alarm's DURATION:PT5M is not the meeting's length
        ("2026-10-28T09:00:00+01:00", "2026-10-28T10:00:00+01:00", "Team meeting"),
        # Thu 29: a free (TRANSPARENT) block, not listed
    ]


def test_thunderbird_mozilla_zone_a_moved_daily_occurrence_exdate_and_folded_lines(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(CALENDARS / "thunderbird.ics"))
    assert listed(home, datetime(2026, 11, 23, 7, 0, tzinfo=UTC), "--from", "2026-11-23", "--days", "7") == [
        ("2026-11-23T09:15:00+01:00", "2026-11-23T09:30:00+01:00", "Stand-up"),
        ("2026-11-24T09:15:00+01:00", "2026-11-24T09:30:00+01:00", "Stand-up"),
        ("2026-11-24T14:00:00+01:00", "2026-11-24T15:00:00+01:00",  # its DTSTAMP has fractional seconds
         "Design review with a description that Thunderbird folds over more than seventy-five octets"),
        ("2026-11-25T09:45:00+01:00", "2026-11-25T10:00:00+01:00", "Stand-up"),  # moved
        # 26 excluded; COUNT=5 counts it: the fifth is the 27th
        ("2026-11-27T09:15:00+01:00", "2026-11-27T09:30:00+01:00", "Stand-up"),
    ]


def test_apple_floating_times_are_the_configured_zone(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(CALENDARS / "apple.ics"))
    assert listed(home, datetime(2026, 11, 24, 7, 0, tzinfo=UTC), "--from", "2026-11-24", "--days", "3") == [
        ("2026-11-24T15:00:00+01:00", "2026-11-24T16:00:00+01:00", "Physio"),  # floating: Berlin's 15:00
        ("2026-11-25T18:00:00+01:00", "2026-11-25T18:45:00+01:00", "Parents' call"),  # noon in New York
    ]
    home_with(tmp_path, str(CALENDARS / "apple.ics"), zone="America/New_York")
    assert listed(home, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "--from", "2026-11-24", "--days", "1") == [
        ("2026-11-24T15:00:00-05:00", "2026-11-24T16:00:00-05:00", "Physio"),  # floating: New York's 15:00
    ]


def test_rfc_monthly_rdate_yearly_two_rules_and_this_and_future_across_new_york_dst(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(CALENDARS / "rfc.ics"), zone="America/New_York")
    got = listed(home, datetime(2026, 10, 29, 12, 0, tzinfo=UTC), "--from", "2026-10-29", "--days", "15")
    assert got == [
        ("2026-10-29T09:00:00-04:00", "2026-10-29T10:00:00-04:00", "Planning"),
        ("2026-10-30T07:00:00-04:00", "2026-10-30T08:00:00-04:00", "Gym class"),  # the Friday rule
        ("2026-10-30T14:00:00-04:00", "2026-10-30T14:30:00-04:00", "Review"),  # DTSTART
        # Sun 1 November: New York's clocks go back; wall times stay
        ("2026-11-02T07:00:00-05:00", "2026-11-02T08:00:00-05:00", "Gym class"),  # the Monday rule
        ("2026-11-02T17:00:00-05:00", "2026-11-02T18:00:00-05:00", "Anniversary call"),  # yearly, 22:00 UTC
        ("2026-11-04T14:00:00-05:00", "2026-11-04T14:30:00-05:00", "Review"),  # RDATE
        ("2026-11-05T10:00:00-05:00", "2026-11-05T11:00:00-05:00", "Planning (later from now on)"),
        ("2026-11-06T07:00:00-05:00", "2026-11-06T08:00:00-05:00", "Gym class"),
        ("2026-11-09T07:00:00-05:00", "2026-11-09T08:00:00-05:00", "Gym class"),
        ("2026-11-09T14:00:00-05:00", "2026-11-09T14:30:00-05:00", "Review"),  # RDATE
        ("2026-11-10T10:00:00-05:00", "2026-11-10T11:00:00-05:00", "Board meeting (second Tuesday)"),
        ("2026-11-12T10:00:00-05:00", "2026-11-12T11:00:00-05:00", "Planning (later from now on)"),  # THISANDFUTURE
    ]


def test_a_folder_and_a_list_of_files_are_read_together(tmp_path: Path) -> None:
    folder = tmp_path / "calendars"
    folder.mkdir()
    for name in ("apple.ics", "thunderbird.ics"):
        (folder / name).write_bytes((CALENDARS / name).read_bytes())
    (folder / "notes.txt").write_text("not a calendar", encoding="utf-8")
    (folder / "outside.ics").symlink_to(CALENDARS / "google.ics")  # a link out of the folder: not read
    home = home_with(tmp_path, [str(folder), str(CALENDARS / "outlook.ics")])
    result = run_cli(home, "calendar", "--from", "2026-11-25", "--json", env=PinnedClock(
        datetime(2026, 11, 25, 7, tzinfo=UTC)).env())
    data = json.loads(result.stdout)
    assert [Path(f).name for f in data["files"]] == ["apple.ics", "thunderbird.ics", "outlook.ics"]
    assert data["skipped"] == [{"file": str(folder / "outside.ics"), "line": None,
                                "problem": "a link out of its folder: not read"}]
    assert [m["summary"] for m in data["meetings"]] == ["Team meeting", "Stand-up", "Parents' call"]


BROKEN = """BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:good
SUMMARY:Still counts
DTSTART:20261125T090000Z
DTEND:20261125T100000Z
END:VEVENT
BEGIN:VEVENT
UID:bad-start
SUMMARY:Broken start
DTSTART:2026-11-25 09:00
DTEND:20261125T100000Z
END:VEVENT
BEGIN:VEVENT
UID:bad-rule
DTSTART:20261125T090000Z
DTEND:20261125T100000Z
RRULE:FREQ=WEEKLY;BYDAY=XX
END:VEVENT
BEGIN:VEVENT
UID:forever
SUMMARY:Ends in 9999
DTSTART:20200101T120000Z
DTEND:99991231T235959Z
RRULE:FREQ=DAILY
END:VEVENT
BEGIN:VEVENT
UID:weeks
SUMMARY:Lasts P999999999W
DTSTART:20261126T150000Z
DURATION:P999999999W
END:VEVENT
BEGIN:VEVENT
UID:frequent
DTSTART:20261125T090000Z
DURATION:PT1M
RRULE:FREQ=SECONDLY
END:VEVENT
END:VCALENDAR
"""


def test_a_broken_event_is_skipped_and_named_and_endless_ones_are_clipped(tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text(BROKEN, encoding="utf-8")
    home = home_with(tmp_path, str(ics))
    pinned = PinnedClock(datetime(2026, 11, 25, 7, tzinfo=UTC))
    data = json.loads(run_cli(home, "calendar", "--days", "2", "--json", env=pinned.env()).stdout)
    assert [(s["line"], s["problem"].split(":")[0]) for s in data["skipped"]] == [
        (9, "DTSTART"), (15, "RRULE"), (34, "repeats every second")
    ]
    meetings = [(datetime.fromisoformat(m["start"]), datetime.fromisoformat(m["end"]), m["summary"])
                for m in data["meetings"]]
    assert [(s.isoformat(), e.isoformat()) for s, e, what in meetings if what != "Ends in 9999"] == [
        ("2026-11-25T10:00:00+01:00", "2026-11-25T11:00:00+01:00"),
        ("2026-11-26T16:00:00+01:00", data["meetings"][-1]["end"]),  # a one-off lasting longer than any date
    ]
    assert datetime.fromisoformat(data["meetings"][-1]["end"]) >= datetime.fromisoformat(data["to"])
    # a series that never ends: each day's repeat lasts past the window (clipped to its length), a few of them
    endless = [(s, e) for s, e, what in meetings if what == "Ends in 9999"]
    assert 3 <= len(endless) <= 8 and len({e - s for s, e in endless}) == 1
    assert all(e >= datetime.fromisoformat(data["to"]) for s, e in endless if s.day >= 25)
    text = run_cli(home, "calendar", "--days", "2", env=pinned.env()).stdout.splitlines()
    assert text[0] == ("Calendar: 1 file read, 6 events, 3 skipped (work.ics:9: DTSTART: "
                       + data["skipped"][0]["problem"].removeprefix("DTSTART: ") + "; work.ics:15: RRULE: "
                       + data["skipped"][1]["problem"].removeprefix("RRULE: ") + "; work.ics:34: repeats every "
                       "second: not a meeting)")


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "missing", "too-large"])
def test_a_calendar_that_cannot_be_read_is_one_line_promptly(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "work.ics"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "too-large":
        with path.open("wb") as f:
            f.truncate(21 * 1024 * 1024)
    home = home_with(tmp_path, str(path))
    env = PinnedClock(datetime(2026, 11, 25, 7, tzinfo=UTC)).env()
    started = time.monotonic()
    result = run_cli(home, "calendar", env=env, timeout=30)
    doctor = run_cli(home, "doctor", env=env, timeout=30)
    assert time.monotonic() - started < 20
    problem = {
        "fifo": "is a pipe (FIFO), not a regular file", "dev-zero": "is a device, not a regular file",
        "missing": "cannot be read: No such file or directory", "too-large": "larger than 20 MB: not read",
    }[kind]
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"posture-agent: calendar {path}: {problem}\n")
    assert f"  BAD calendar       {path}: {problem}" in doctor.stdout.splitlines()


# --- the signal: bisecting the cached spans ----------------------------------------------------------


def signal(tmp_path: Path, text: str) -> CalendarFile:
    ics = tmp_path / "work.ics"
    ics.write_text(text, encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return CalendarFile(ics, BERLIN, data)


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def ics_of(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nUID:{n}@test\r\n{e.strip()}\r\nEND:VEVENT\r\n" for n, e in enumerate(events))
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_the_check_bisects_the_cached_spans_and_reads_again_only_when_the_file_or_day_changes(tmp_path: Path) -> None:
    cal = signal(tmp_path, ics_of(
        "SUMMARY:Design review\nDTSTART:20261125T090000Z\nDTEND:20261125T100000Z",
        "SUMMARY:Right after\nDTSTART:20261125T100000Z\nDTEND:20261125T103000Z",
        "SUMMARY:Stand-up\nDTSTART;TZID=Europe/Berlin:20261123T093000\nDURATION:PT15M\nRRULE:FREQ=DAILY",
    ))
    with pytest.raises(SignalUnavailable, match="not read yet"):
        cal.away(berlin(2026, 11, 25, 10, 0))
    cal.refresh(berlin(2026, 11, 25, 8, 0), wait=30)
    assert cal.away(berlin(2026, 11, 25, 9, 59)) is None
    assert cal.away(berlin(2026, 11, 25, 9, 40)) == "in a meeting until 09:45"
    assert cal.away(berlin(2026, 11, 25, 10, 0)) == "in a meeting until 11:30"  # back-to-back: one span
    assert cal.away(berlin(2026, 11, 25, 11, 29)) == "in a meeting until 11:30"
    assert cal.away(berlin(2026, 11, 25, 11, 30)) is None
    cache = cal.cache.stat()
    cal.refresh(berlin(2026, 11, 25, 12, 0), wait=30)
    assert cal.cache.stat().st_mtime_ns == cache.st_mtime_ns  # unchanged file, same day: not expanded again
    with pytest.raises(SignalUnavailable, match="not read for today"):
        cal.away(berlin(2026, 11, 29, 9, 40))  # beyond the expanded days until the day's refresh
    cal.refresh(berlin(2026, 11, 29, 8, 0), wait=30)
    assert cal.away(berlin(2026, 11, 29, 9, 40)) == "in a meeting until 09:45"  # the next day: read again
    Path(cal.sources[0]).write_text(ics_of("SUMMARY:Later\nDTSTART:20261129T120000Z\nDTEND:20261129T130000Z"),
                                    encoding="utf-8")
    cal.refresh(berlin(2026, 11, 29, 8, 0), wait=30)
    assert cal.away(berlin(2026, 11, 29, 9, 40)) is None
    assert cal.away(berlin(2026, 11, 29, 13, 30)) == "in a meeting until 14:00"
    Path(cal.sources[0]).write_text("broken", encoding="utf-8")
    cal.refresh(berlin(2026, 11, 29, 8, 0), wait=30)
    with pytest.raises(SignalUnavailable, match=r"^calendar .*work.ics.*: not an iCalendar file"):
        cal.away(berlin(2026, 11, 29, 13, 30))


def test_the_resident_never_imports_the_calendar_libraries(tmp_path: Path) -> None:
    """The agent's process refreshes and checks; icalendar stays in the child."""
    (tmp_path / "work.ics").write_bytes((CALENDARS / "thunderbird.ics").read_bytes())
    script = (
        "import sys\nfrom datetime import datetime\nfrom zoneinfo import ZoneInfo\nfrom pathlib import Path\n"
        "import posture_agent.agent.runtime, posture_agent.commands.agent\n"
        "from posture_agent.presence.calendar import CalendarFile\n"
        f"cal = CalendarFile({str(tmp_path / 'work.ics')!r}, ZoneInfo('Europe/Berlin'), Path({str(tmp_path)!r}))\n"
        "now = datetime(2026, 11, 25, 9, 50, tzinfo=ZoneInfo('Europe/Berlin'))\n"
        "cal.refresh(now, 30)\nprint(cal.away(now))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('icalendar', 'recurring_ical_events')))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == ["in a meeting until 10:00", "[]"]
    assert (tmp_path / CACHE_FILE).exists()


def test_a_0230_repeat_on_the_spring_forward_day_is_dropped(tmp_path: Path) -> None:
    """02:30 does not exist in Berlin on 29 March 2026: the libraries give that occurrence an end
    before its start (02:30 read as 03:30 summer time, plus 30 min of wall time: 03:00), so it holds
    nothing; the days around it keep their 02:30."""
    ics = tmp_path / "night.ics"
    ics.write_text((
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nUID:night@test\nSUMMARY:Night job\n"
        "DTSTART;TZID=Europe/Berlin:20260327T023000\nDURATION:PT30M\nRRULE:FREQ=DAILY;COUNT=4\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    ), encoding="utf-8")
    home = home_with(tmp_path, str(ics))
    assert listed(home, datetime(2026, 3, 27, 7, tzinfo=UTC), "--from", "2026-03-27", "--days", "4") == [
        ("2026-03-27T02:30:00+01:00", "2026-03-27T03:00:00+01:00", "Night job"),
        ("2026-03-28T02:30:00+01:00", "2026-03-28T03:00:00+01:00", "Night job"),
        ("2026-03-30T02:30:00+02:00", "2026-03-30T03:00:00+02:00", "Night job"),
    ]


def test_schedule_marks_each_prompt_a_meeting_would_hold(cli: Cli, tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text(ics_of(
        "SUMMARY:Weekly sync\nDTSTART;TZID=Europe/Berlin:20261118T094500\nDTEND;TZID=Europe/Berlin:20261118T103000\n"
        "RRULE:FREQ=WEEKLY;BYDAY=WE",
    ), encoding="utf-8")
    config = cli.home / "config.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'[presence]\ncalendar = "{ics}"\n', encoding="utf-8")
    lines = cli.ok("schedule", "--from", "2026-11-25T09:00").out.splitlines()
    assert "  09:45  checkin  desk  Posture check: how are you sitting? (held: Weekly sync until 10:30)" in lines
    assert "  10:30  checkin  desk  Posture check: how are you sitting?" in lines  # it has ended by then
    data = cli.ok("schedule", "--from", "2026-11-25T09:00", "--json").json()
    assert isinstance(data, dict)
    held = [(p["local"], p["held_by"]) for p in data["prompts"] if p["held_by"]]
    assert held == [("2026-11-25T09:45:00+01:00", {"summary": "Weekly sync", "until": "2026-11-25T10:30:00+01:00"})]
    ics.write_text("not a calendar", encoding="utf-8")
    result = cli.ok("schedule", "--from", "2026-11-25T09:00")  # an unreadable calendar holds nothing, said once
    assert result.out.splitlines()[0] == (
        f"Not held by meetings: calendar {ics}, line 1: not an iCalendar file (no BEGIN:VCALENDAR)"
    )


def test_a_running_agent_with_a_fifo_as_calendar_still_answers_pause_and_stop(tmp_path: Path) -> None:
    """A FIFO used to be opened under the agent's lock when a prompt fell due: no prompt, `pause`
    timed out, `stop` said "stopped" while the process lived on."""
    fifo = tmp_path / "work.ics"
    os.mkfifo(fifo)
    home = home_with(tmp_path, str(fifo))
    clock = PinnedClock(datetime(2026, 11, 25, 10, 29, 57, tzinfo=BERLIN))  # a desk check-in at 10:30
    agent = RunningAgent(home, env=clock.env())
    try:
        assert wait_for(lambda: rows(home, "SELECT kind FROM prompts") == [("checkin-desk",)], timeout=20)
        started = time.monotonic()
        paused = run_cli(home, "pause", "30m", env=clock.env(), timeout=30)
        assert paused.returncode == 0, paused.stderr
        assert time.monotonic() - started < 10
        assert json.loads((home / "data" / CACHE_FILE).read_text(encoding="utf-8"))["problems"] == [
            [str(fifo), None, "is a pipe (FIFO), not a regular file"]
        ]
    finally:
        code, err = agent.stop()
    assert code == 0, err
    assert agent.proc.poll() is not None


MOVED = CALENDARS / "thunderbird.ics"  # the 09:15 stand-up of Wednesday 25 November moved to 09:45


def test_the_started_agent_holds_a_check_in_during_a_moved_meeting_and_not_at_its_old_time(tmp_path: Path) -> None:
    home = home_with(tmp_path, str(MOVED), extra='[desk]\nstart = "09:15"\nevery_minutes = 30\n')
    at_new_time = PinnedClock(datetime(2026, 11, 25, 9, 44, 57, tzinfo=BERLIN))  # a desk check-in at 09:45
    agent = RunningAgent(home, env=at_new_time.env())
    try:
        def held() -> object:
            return json.loads(run_cli(home, "schedule", "--json", env=at_new_time.env()).stdout)["held"]

        assert wait_for(lambda: held() != [], timeout=20)
        assert held() == [{"kind": "checkin", "context": "desk", "due": "2026-11-25T09:45:00+01:00",
                           "reason": "in a meeting until 10:00"}]
        assert rows(home, "SELECT kind FROM prompts") == []  # held: not shown, nothing stored yet
    finally:
        assert agent.stop()[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    home = home_with(other, str(MOVED), extra='[desk]\nstart = "09:15"\nevery_minutes = 30\n')
    at_old_time = PinnedClock(datetime(2026, 11, 25, 9, 14, 57, tzinfo=BERLIN))  # its usual 09:15, that day
    agent = RunningAgent(home, env=at_old_time.env())
    try:
        assert wait_for(lambda: rows(home, "SELECT kind, shown_at IS NOT NULL FROM prompts") == [("checkin-desk", 1)],
                        timeout=20)  # shown
        assert json.loads(run_cli(home, "schedule", "--json", env=at_old_time.env()).stdout)["held"] == []
    finally:
        assert agent.stop()[0] == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_calendar_is_named_never_raised(tmp_path: Path, data: st.DataObject) -> None:
    """Lines of a real export dropped, duplicated, cut or replaced by junk: the reader names what it
    could not read and returns; no exception reaches the agent."""
    lines = (CALENDARS / data.draw(st.sampled_from(["google.ics", "outlook.ics", "thunderbird.ics", "rfc.ics"]))
             ).read_text(encoding="utf-8").splitlines()
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "twice", "cut", "junk"]))
        if action == "drop":
            del lines[i]
        elif action == "twice":
            lines.insert(i, lines[i])
        elif action == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = data.draw(st.text(max_size=40))
    ics = tmp_path / "damaged.ics"
    ics.write_text("\n".join(lines), encoding="utf-8", errors="replace")
    start = datetime(2026, 3, 23, tzinfo=UTC)
    expansion = expand(Request((str(ics),), "Europe/Berlin", True, start, start + timedelta(days=250), tmp_path / "o"))
    assert expansion.files or expansion.problems
    assert all(m.end > m.start for m in expansion.meetings)
    assert "\n" not in expansion.state()
