"""The agent holds a prompt while the user is away or busy and shows it when they are back, on a
pinned clock and a real SQLite file; one dropped unseen is stored as `away` (no check-in is written,
so it is neither an answer nor a miss). Europe/Berlin, including the day clocks go forward."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.agent import core
from posture_agent.agent.runtime import Agent
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.paths import Paths
from posture_agent.presence import calendar as calendar_module
from posture_agent.presence.base import ActiveWatch, PresenceCheck, Signal
from posture_agent.presence.calendar import CalendarFile
from posture_agent.report.weekly import build_report, report_json
from posture_agent.store.db import open_store
from posture_agent.ui.tray import tray_state_from
from tests.conftest import Cli
from tests.desktop import wait_for

BERLIN = ZoneInfo("Europe/Berlin")


class Switch:
    """An idle signal the test turns on and off."""

    kind, source = "idle", "test switch"

    def __init__(self) -> None:
        self.reason: str | None = None

    def away(self, now: datetime) -> str | None:
        return self.reason


class Rig:
    def __init__(self, home: Path, *signals: Signal, watch: ActiveWatch | None = None) -> None:
        self.paths = Paths.resolve(home)
        self.paths.make_dirs()
        self.paths.config_file.write_text(  # drills late, so only check-ins fall in these hours
            '[general]\ntimezone = "Europe/Berlin"\n[drills]\ntime = "23:30"\n', encoding="utf-8"
        )
        self.clock = FixedClock(datetime(2026, 11, 25, 8, 0, tzinfo=BERLIN))
        self.store = open_store(self.paths.db_file, self.paths.backup_dir)
        settings = load_settings(self.paths.config_file)
        self.agent = Agent(self.paths, settings, self.store, self.clock, presence=PresenceCheck(signals), watch=watch)

    def tick_at(self, when: datetime) -> list[str]:
        self.clock.at = when.astimezone(ZoneInfo("UTC"))
        return [f"{a.prompt.context}@{a.prompt.due.astimezone(BERLIN):%H:%M}" for a in self.agent.tick()]

    def held(self) -> list[tuple[str, str]]:
        return [(f"{h['context']}@{h['due'][11:16]}", h["reason"]) for h in self.agent.status().to_json(BERLIN)["held"]]

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.paths.db_file)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def prompts(self) -> list[tuple[object, ...]]:
        return self.rows("SELECT kind, due, shown_at IS NOT NULL, outcome FROM prompts ORDER BY due")


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def rig(tmp_path: Path, switch: Switch) -> Iterator[Rig]:
    r = Rig(tmp_path / "home", switch)
    yield r
    r.store.close()


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_a_desk_check_in_is_held_while_idle_and_shown_on_the_first_pass_after_input(rig: Rig, switch: Switch) -> None:
    switch.reason = "idle for 6 min"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []
    assert rig.held() == [("desk@10:30", "idle for 6 min")]
    assert tray_state_from(rig.agent.status(), BERLIN).status_lines()[-1] == "Check-in held: idle for 6 min"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 31)) == []
    assert rig.prompts() == []  # held is not shown: nothing stored yet
    switch.reason = None
    assert rig.tick_at(berlin(2026, 11, 25, 10, 52)) == ["desk@10:30"]
    assert rig.held() == []
    assert rig.prompts() == [("checkin-desk", "2026-11-25 09:30:00.000000", 1, None)]


def test_one_held_past_its_interval_is_stored_away_and_counted_as_nothing(rig: Rig, switch: Switch) -> None:
    switch.reason = "screen locked"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []
    assert rig.tick_at(berlin(2026, 11, 25, 11, 15)) == []  # 10:30 still within its 45 min; 11:15 due
    assert rig.held() == [("desk@11:15", "screen locked")]
    assert rig.prompts() == [("checkin-desk", "2026-11-25 09:30:00.000000", 0, "away")]
    switch.reason = None
    assert rig.tick_at(berlin(2026, 11, 25, 11, 20)) == ["desk@11:15"]
    assert rig.rows("SELECT count(*) FROM checkins") == [(0,)]  # no `missed`, no answer
    week = report_json(build_report(rig.store, rig.agent.settings, rig.clock.now(), 2026, 48))["checkins"]
    assert (week["answered"], week["missed"], week["skipped"], week["slouch_rate"]) == (0, 0, 0, None)


def test_the_last_check_in_of_the_evening_is_stored_away_when_its_grace_ends(rig: Rig, switch: Switch) -> None:
    switch.reason = "screen locked"
    assert rig.tick_at(berlin(2026, 11, 25, 21, 30)) == []
    assert rig.tick_at(berlin(2026, 11, 25, 22, 30)) == []  # within 60 min: still held
    assert rig.prompts() == []
    assert rig.tick_at(berlin(2026, 11, 25, 22, 31)) == []
    assert rig.prompts() == [("checkin-sofa", "2026-11-25 20:30:00.000000", 0, "away")]
    assert rig.held() == []


def test_the_car_check_in_waits_for_the_first_activity_within_its_grace(rig: Rig, switch: Switch) -> None:
    switch.reason = "idle for 20 min"
    assert rig.tick_at(berlin(2026, 11, 25, 17, 45)) == []
    switch.reason = None
    assert rig.tick_at(berlin(2026, 11, 25, 18, 40)) == ["car@17:45"]


def test_a_meeting_that_outlasts_the_interval_drops_the_check_in_on_the_day_clocks_go_forward(tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:Club call\n"
        "DTSTART;TZID=Europe/Berlin:20260301T190000\nDTEND;TZID=Europe/Berlin:20260301T210000\n"
        "RRULE:FREQ=WEEKLY;BYDAY=SU\nEND:VEVENT\nEND:VCALENDAR\n", encoding="utf-8",
    )
    rig = Rig(tmp_path / "home", CalendarFile(ics, BERLIN, tmp_path / "home" / "data"))
    try:  # Sunday 29 March 2026: CET becomes CEST at 02:00; the call stays 19:00-21:00 wall time
        assert rig.tick_at(berlin(2026, 3, 29, 19, 30)) == []
        assert rig.held() == [("sofa@19:30", "in a meeting until 21:00")]
        assert rig.tick_at(berlin(2026, 3, 29, 20, 30)) == []
        assert rig.prompts() == [("checkin-sofa", "2026-03-29 17:30:00.000000", 0, "away")]
        assert rig.tick_at(berlin(2026, 3, 29, 21, 0)) == ["sofa@20:30"]
    finally:
        rig.store.close()


MOVED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN
BEGIN:VEVENT
UID:weekly-sync@test
SUMMARY:Weekly sync
DTSTART;TZID=Europe/Berlin:20261104T100000
DTEND;TZID=Europe/Berlin:20261104T110000
RRULE:FREQ=WEEKLY;BYDAY=WE
END:VEVENT
BEGIN:VEVENT
UID:weekly-sync@test
RECURRENCE-ID;TZID=Europe/Berlin:20261125T100000
SUMMARY:Weekly sync (moved)
DTSTART;TZID=Europe/Berlin:20261125T120000
DTEND;TZID=Europe/Berlin:20261125T130000
END:VEVENT
END:VCALENDAR
"""


def test_a_check_in_is_held_during_a_moved_meeting_and_not_at_its_old_time(tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text(MOVED, encoding="utf-8")
    rig = Rig(tmp_path / "home", CalendarFile(ics, BERLIN, tmp_path / "home" / "data"))
    try:  # Wednesday 25 November: the 10:00 sync moved to 12:00 this week only
        assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == ["desk@10:30"]  # its usual time: shown
        assert rig.tick_at(berlin(2026, 11, 25, 12, 0)) == []
        assert rig.held() == [("desk@12:00", "in a meeting until 13:00")]
        assert rig.tick_at(berlin(2026, 11, 25, 13, 0)) == ["desk@12:45"]  # 12:00 overtaken: stored away
        assert rig.tick_at(berlin(2026, 12, 2, 10, 30)) == []  # the next week: at 10:00 again
        assert rig.held() == [("desk@10:30", "in a meeting until 11:00")]
    finally:
        rig.store.close()


def test_a_broken_calendar_holds_nothing(tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:soon\n", encoding="utf-8")
    rig = Rig(tmp_path / "home", CalendarFile(ics, BERLIN, tmp_path / "home" / "data"))
    try:
        assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == ["desk@10:30"]
    finally:
        rig.store.close()


def test_schedule_asks_the_running_agent_what_it_holds_and_why(cli: Cli, tmp_path: Path) -> None:
    ics = tmp_path / "work.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Planning\nDTSTART;TZID=Europe/Berlin:20261125T113000\n"
        "DURATION:PT90M\nEND:VEVENT\nEND:VCALENDAR\n", encoding="utf-8",
    )
    paths = Paths.resolve(cli.home)
    paths.make_dirs()
    paths.runtime_dir.mkdir(mode=0o700, exist_ok=True)  # start's instance lock makes it
    store = open_store(paths.db_file, paths.backup_dir)
    agent = Agent(paths, load_settings(paths.config_file), store, cli.clock,  # 12:00: a desk check-in is due
                  presence=PresenceCheck([CalendarFile(ics, BERLIN, paths.data_dir)]))
    agent.start(notifications=False, control=True)
    try:
        assert wait_for(lambda: agent.service.held, timeout=10)
        data = cli.ok("schedule", "--json").json()
        assert isinstance(data, dict)
        assert data["held"] == [{
            "kind": "checkin", "context": "desk", "due": "2026-11-25T12:00:00+01:00",
            "reason": "in a meeting until 13:00",
        }]
        assert "Held now: checkin desk due 12:00 (held: in a meeting until 13:00)" in (
            cli.ok("schedule").out.splitlines()
        )
    finally:
        agent.stop()
        store.close()


def test_one_held_when_a_pause_ends_is_stored_away_not_dropped(rig: Rig, switch: Switch) -> None:
    switch.reason = "screen locked"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []
    rig.agent.pause(berlin(2026, 11, 25, 10, 50))
    assert rig.tick_at(berlin(2026, 11, 25, 10, 40)) == []
    assert rig.prompts() == []  # still held during the pause
    switch.reason = None
    assert rig.tick_at(berlin(2026, 11, 25, 10, 51)) == []  # within its grace, but due before the pause ended
    assert rig.prompts() == [("checkin-desk", "2026-11-25 09:30:00.000000", 0, "away")]
    assert rig.held() == []


def test_one_held_when_the_user_resumes_is_stored_away(rig: Rig, switch: Switch) -> None:
    switch.reason = "idle for 6 min"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []
    rig.agent.pause(berlin(2026, 11, 25, 12, 0))
    rig.clock.at = berlin(2026, 11, 25, 10, 35).astimezone(ZoneInfo("UTC"))
    rig.agent.resume()
    switch.reason = None
    assert rig.tick_at(berlin(2026, 11, 25, 10, 36)) == []
    assert rig.prompts() == [("checkin-desk", "2026-11-25 09:30:00.000000", 0, "away")]


def restarted(rig: Rig, *signals: Signal) -> Rig:
    """The same home and database opened by a new agent, as after a stop or a crash."""
    again = Rig.__new__(Rig)
    again.paths, again.clock, again.store = rig.paths, FixedClock(rig.clock.now()), rig.store
    again.agent = Agent(rig.paths, load_settings(rig.paths.config_file), rig.store, again.clock,
                        presence=PresenceCheck(signals))
    return again


def test_one_held_when_the_agent_stops_is_stored_away_by_the_next_start_once_out_of_its_grace(
    rig: Rig, switch: Switch,
) -> None:
    switch.reason = "screen locked"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []
    rig.agent.stop()
    again = restarted(rig)  # the user is back; 10:30 is overtaken by 11:15 and past its 45 min
    assert again.held() == [("desk@10:30", "screen locked")]  # put back from the last run
    assert again.tick_at(berlin(2026, 11, 25, 11, 20)) == ["desk@11:15"]
    assert again.prompts() == [
        ("checkin-desk", "2026-11-25 09:30:00.000000", 0, "away"),
        ("checkin-desk", "2026-11-25 10:15:00.000000", 1, None),
    ]
    assert restarted(again).held() == []  # nothing left for a third start


def test_one_held_when_the_agent_is_killed_is_shown_by_the_next_start_within_its_grace(
    rig: Rig, switch: Switch,
) -> None:
    switch.reason = "idle for 6 min"
    assert rig.tick_at(berlin(2026, 11, 25, 10, 30)) == []  # then killed: no stop()
    again = restarted(rig)
    assert again.tick_at(berlin(2026, 11, 25, 10, 50)) == ["desk@10:30"]
    assert again.prompts() == [("checkin-desk", "2026-11-25 09:30:00.000000", 1, None)]
    assert again.held() == []


def test_a_damaged_holds_file_is_logged_and_holds_nothing(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    rig.paths.runtime_dir.mkdir(parents=True, exist_ok=True)
    (rig.paths.runtime_dir / "held-prompts.json").write_text("[{", encoding="utf-8")
    assert restarted(rig).held() == []
    assert "held prompts in" in caplog.text and "damaged" in caplog.text


def test_a_calendar_that_never_answers_neither_blocks_the_agent_nor_holds_prompts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reader that hangs (a network mount that never answers, here a child that sleeps) is waited
    for a few seconds at most, outside the agent's lock, and killed past its budget."""
    monkeypatch.setattr(calendar_module, "child_command", lambda request: ["sleep", "60"])
    monkeypatch.setattr(core, "WAIT_FOR_CALENDAR", 0.5)
    ics = tmp_path / "work.ics"
    ics.write_text(MOVED, encoding="utf-8")
    cal = CalendarFile(ics, BERLIN, tmp_path / "home" / "data", budget=3)
    rig = Rig(tmp_path / "home", cal)
    try:
        locked_meanwhile: list[bool] = []

        def pause_meanwhile() -> None:  # what `pause` or `stop` would do while the pass reads ahead
            time.sleep(0.2)
            got = rig.agent.lock.acquire(timeout=0.5)
            locked_meanwhile.append(not got)
            if got:
                rig.agent.lock.release()

        other = threading.Thread(target=pause_meanwhile)
        other.start()
        started = time.monotonic()
        assert rig.tick_at(berlin(2026, 11, 25, 12, 0)) == ["desk@12:00"]  # not read yet: shown
        assert time.monotonic() - started < 2.5  # waited WAIT_FOR_CALENDAR at most, not the budget
        other.join()
        assert locked_meanwhile == [False]
        assert wait_for(lambda: cal.expansion() is not None, timeout=10)
        expansion = cal.expansion()
        assert expansion is not None
        assert expansion.state() == f"{ics}: not read within 3 s (a hung mount, or too many repeats)"
        started = time.monotonic()
        assert rig.tick_at(berlin(2026, 11, 25, 12, 45)) == ["desk@12:45"]  # unreadable: not tried again
        assert time.monotonic() - started < 0.5
    finally:
        rig.store.close()
