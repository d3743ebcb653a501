"""The agent driven by a pinned clock: what a user sees after sleep, restarts, clock changes,
pauses, answers and timeouts, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from posture_agent.agent.events import PROMPT_CLOSED, PROMPT_DUE, Event
from posture_agent.agent.runtime import Agent
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.paths import Paths
from posture_agent.presence.base import always_present
from posture_agent.store.db import Store, open_store

BERLIN = ZoneInfo("Europe/Berlin")


def at(day: int, hh: int, mm: int) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=BERLIN)


class Rig:
    """An agent on a real database in `home`, its events, and the clock it reads."""

    def __init__(self, home: Path, clock: FixedClock) -> None:
        self.home, self.clock = home, clock
        self.paths = Paths.resolve(home)
        self.paths.make_dirs()
        self.stores: list[Store] = []
        self.agent = self.new_agent()

    def new_agent(self) -> Agent:
        store = open_store(self.paths.db_file, self.paths.backup_dir)
        self.stores.append(store)
        # the user is taken as present: these tests must not depend on the desktop they run on
        agent = Agent(self.paths, load_settings(self.paths.config_file), store, self.clock, presence=always_present)
        self.events: list[Event] = []
        agent.subscribe(self.events.append)
        return agent

    def tick_at(self, when: datetime) -> list[tuple[str, str | None, str]]:
        self.clock.at = when.astimezone(BERLIN).astimezone(ZoneInfo("UTC"))
        shown = self.agent.tick()
        return [(a.prompt.kind, a.prompt.context, f"{a.prompt.due.astimezone(BERLIN):%H:%M}") for a in shown]

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.paths.db_file)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def close(self) -> None:
        for store in self.stores:
            store.close()


@pytest.fixture
def rig(home: Path, tz: str) -> Iterator[Rig]:
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    r = Rig(home, FixedClock(at(25, 9, 44)))  # Wednesday
    yield r
    r.close()


def checkins_shown(shown: list[tuple[str, str | None, str]]) -> list[tuple[str, str | None, str]]:
    return [s for s in shown if s[0] == "checkin"]


def test_sleep_through_three_checkins_gives_one_prompt(rig: Rig) -> None:
    first = rig.tick_at(at(25, 9, 46))
    assert checkins_shown(first) == [("checkin", "desk", "09:45")]  # the 09:00 car one coalesced into it
    assert ("drills", None, "07:30") in first  # the morning drills, within their grace
    rig.tick_at(at(25, 9, 49))  # the prompts time out
    # the lid closes at 09:50 and opens at 12:10: 10:30, 11:15 and 12:00 passed while asleep
    woke = rig.tick_at(at(25, 12, 10))
    assert woke == [("checkin", "desk", "12:00")]
    assert rig.tick_at(at(25, 12, 11)) == []
    assert [e.kind for e in rig.events].count(PROMPT_DUE) == 3


def test_restart_never_repeats_a_shown_prompt(rig: Rig) -> None:
    assert checkins_shown(rig.tick_at(at(25, 9, 46))) == [("checkin", "desk", "09:45")]
    rig.agent = rig.new_agent()  # the agent is restarted a minute later
    assert rig.tick_at(at(25, 9, 47)) == []
    assert rig.rows("SELECT count(*) FROM prompts WHERE kind = 'checkin-desk'") == [(1,)]


def test_clock_set_back_does_not_fire_a_burst(rig: Rig) -> None:
    for t in ((9, 46), (10, 31), (11, 16), (12, 1)):
        assert len(checkins_shown(rig.tick_at(at(25, *t)))) == 1
    # the clock is set back two hours: the same prompts come round again, and none repeats
    for t in ((10, 0), (10, 31), (11, 16), (12, 1)):
        assert checkins_shown(rig.tick_at(at(25, *t))) == []
    assert checkins_shown(rig.tick_at(at(25, 12, 46))) == [("checkin", "desk", "12:45")]


def test_unanswered_prompt_is_stored_as_missed(rig: Rig) -> None:
    rig.tick_at(at(25, 9, 46))
    rig.tick_at(at(25, 9, 47))  # not yet: the timeout is 2 minutes
    assert rig.rows("SELECT posture FROM checkins") == []
    rig.tick_at(at(25, 9, 48))
    assert rig.rows("SELECT posture, context, prompted, source FROM checkins") == [("missed", "desk", 1, "prompt")]
    assert rig.rows("SELECT kind, outcome FROM prompts ORDER BY due") == [
        ("drills", None), ("checkin-desk", "missed"),
    ], "the morning drills stay answerable until the end of the day"
    assert [e.outcome for e in rig.events if e.kind == PROMPT_CLOSED] == ["missed"]


def test_drills_and_circuit_prompts_stay_open_until_the_end_of_the_day(rig: Rig) -> None:
    rig.tick_at(at(25, 9, 46))  # the 07:30 drills, shown late but within their grace
    drills = next(a for a in rig.agent.status().open_prompts if a.prompt.kind == "drills")
    assert rig.agent.deadline(drills) == at(26, 0, 0)
    assert rig.agent.next_wakeups()["timeout"] is not None
    rig.tick_at(at(25, 23, 59))
    assert ("drills", None) in rig.rows("SELECT kind, outcome FROM prompts ORDER BY due")
    rig.tick_at(at(26, 0, 0))
    assert ("drills", "missed") in rig.rows("SELECT kind, outcome FROM prompts ORDER BY due")


def test_answer_from_another_command_is_not_missed(rig: Rig, cli: object) -> None:
    rig.tick_at(at(25, 9, 46))
    rig.clock.at = at(25, 9, 47).astimezone(ZoneInfo("UTC"))
    from posture_agent.cli import main

    assert main(["--home", str(rig.home), "checkin", "slouched"], clock=rig.clock) == 0
    assert main(["--home", str(rig.home), "drill", "done", "chin-tuck"], clock=rig.clock) == 0
    rig.tick_at(at(25, 9, 49))
    assert rig.rows("SELECT posture, prompted FROM checkins") == [("slouched", 0)]
    assert sorted(rig.rows("SELECT kind, outcome FROM prompts")) == [
        ("checkin-desk", "answered"), ("drills", None),
    ], "the drills prompt is open until the end of the day"
    rig.tick_at(at(26, 0, 0))
    assert ("drills", "answered") in rig.rows("SELECT kind, outcome FROM prompts")


def test_answer_and_skip_through_the_api(rig: Rig) -> None:
    rig.tick_at(at(25, 9, 46))
    due = [e.active for e in rig.events if e.kind == PROMPT_DUE and e.active]
    checkin = next(a for a in due if a.prompt.kind == "checkin")
    drills = next(a for a in due if a.prompt.kind == "drills")
    rig.agent.answer(checkin, "upright")
    rig.agent.skip(drills)
    assert rig.rows("SELECT posture, context, prompted, source FROM checkins") == [("upright", "desk", 1, "prompt")]
    assert sorted(rig.rows("SELECT kind, outcome FROM prompts")) == [
        ("checkin-desk", "answered"), ("drills", "skipped"),
    ]
    rig.tick_at(at(25, 9, 50))  # the timeout finds nothing left to mark missed
    assert rig.rows("SELECT count(*) FROM checkins WHERE posture = 'missed'") == [(0,)]


def test_pause_then_resume_drops_what_was_due_meanwhile(rig: Rig) -> None:
    rig.clock.at = at(25, 9, 40).astimezone(ZoneInfo("UTC"))
    until = rig.agent.pause_for("1h")
    assert until == at(25, 10, 40)
    assert rig.agent.status().paused_until == at(25, 10, 40)
    assert rig.tick_at(at(25, 9, 46)) == []
    assert rig.tick_at(at(25, 10, 41)) == []  # 10:30 fell in the pause: not shown late
    assert rig.agent.status().paused_until is None
    assert rig.tick_at(at(25, 11, 16)) == [("checkin", "desk", "11:15")]


def test_pause_until_tomorrow_survives_a_restart(rig: Rig) -> None:
    rig.clock.at = at(25, 15, 0).astimezone(ZoneInfo("UTC"))
    assert rig.agent.pause_for("tomorrow") == at(26, 0, 0)
    rig.agent = rig.new_agent()
    assert rig.tick_at(at(25, 20, 31)) == []
    assert rig.tick_at(at(26, 7, 31)) == [("drills", None, "07:30")]


def test_status_for_a_tray(rig: Rig, cli: object) -> None:
    from posture_agent.cli import main

    rig.clock.at = at(25, 10, 0).astimezone(ZoneInfo("UTC"))
    assert main(["--home", str(rig.home), "soreness", "--si-joint", "6"], clock=rig.clock) == 0
    rig.clock.at = at(27, 10, 0).astimezone(ZoneInfo("UTC"))
    status = rig.agent.status()
    assert status.next_prompt is not None
    assert (status.next_prompt.kind, status.next_prompt.due) == ("checkin", at(27, 10, 30))
    assert status.si_protocol_day == 3 and status.si_protocol_days == 15  # the report's day and 14 more
    assert status.paused_until is None and status.rest_today is False
    data = status.to_json(BERLIN)
    assert data["next_prompt"]["due"] == "2026-11-27T10:30:00+01:00"
    assert data["si_running_again"] == "2026-12-10"  # reported on Wed 25 Nov: 14 days run out on Wed 9 Dec


def test_config_change_takes_effect_without_restart(rig: Rig) -> None:
    rig.clock.at = at(25, 10, 0).astimezone(ZoneInfo("UTC"))
    assert rig.agent.status().next_prompt.due == at(25, 10, 30)  # type: ignore[union-attr]
    rig.paths.config_file.write_text(
        '[general]\ntimezone = "Europe/Berlin"\n[desk]\nstart = "09:00"\nevery_minutes = 20\n', encoding="utf-8"
    )
    rig.agent.housekeeping()
    assert rig.agent.status().next_prompt.due == at(25, 10, 20)  # type: ignore[union-attr]
    # a broken file is refused and the last good settings stay
    rig.paths.config_file.write_text('[desk]\nevery_minutes = "often"\n', encoding="utf-8")
    rig.agent.housekeeping()
    assert rig.agent.status().next_prompt.due == at(25, 10, 20)  # type: ignore[union-attr]


def test_a_run_logged_meanwhile_brings_its_soreness_prompt(rig: Rig, cli: object) -> None:
    from posture_agent.cli import main

    rig.clock.at = at(25, 17, 50).astimezone(ZoneInfo("UTC"))
    args = ["--home", str(rig.home), "run", "add", "--distance-km", "8", "--duration", "45m"]
    assert main(args, clock=rig.clock) == 0
    shown = rig.tick_at(at(25, 19, 51))
    assert ("soreness", None, "19:50") in shown


def test_a_soreness_question_stays_open_until_the_next_mornings(rig: Rig, cli: object) -> None:
    """Never `missed` minutes in: the question after the run is open until the next morning's
    soreness time, when the next question is asked; an answer made meanwhile closes it as answered."""
    from posture_agent.cli import main

    rig.clock.at = at(25, 17, 50).astimezone(ZoneInfo("UTC"))
    args = ["--home", str(rig.home), "run", "add", "--distance-km", "8", "--duration", "45m"]
    assert main(args, clock=rig.clock) == 0
    assert ("soreness", None, "19:50") in rig.tick_at(at(25, 19, 51))
    rig.tick_at(at(25, 19, 58))
    rig.tick_at(at(25, 23, 30))
    assert rig.rows("SELECT outcome FROM prompts WHERE kind = 'soreness'") == [(None,)], "still open at night"
    assert rig.agent.next_wakeups()["timeout"] == at(26, 8, 0)
    morning = rig.tick_at(at(26, 8, 1))
    assert ("soreness", None, "08:00") in morning
    assert rig.rows("SELECT outcome FROM prompts WHERE kind = 'soreness' ORDER BY due") == [("missed",), (None,)]
    rig.clock.at = at(26, 12, 0).astimezone(ZoneInfo("UTC"))
    assert main(["--home", str(rig.home), "soreness", "--upper-back", "2"], clock=rig.clock) == 0
    rig.tick_at(at(27, 8, 1))
    assert rig.rows("SELECT outcome FROM prompts WHERE kind = 'soreness' ORDER BY due") == [("missed",), ("answered",)]


def test_housekeeping_shows_what_is_due_after_a_clock_jump_only(rig: Rig) -> None:
    """The monotonic clock is pinned too: the same 47 minutes on both clocks are no jump (the
    scheduler's own jobs show prompts then); 47 minutes on the wall clock alone are a sleep."""
    mono = [1000.0]
    store = open_store(rig.paths.db_file, rig.paths.backup_dir)
    rig.stores.append(store)
    agent = Agent(rig.paths, load_settings(rig.paths.config_file), store, rig.clock, monotonic=lambda: mono[0])
    shown: list[Event] = []
    agent.subscribe(shown.append)
    rig.clock.at = at(25, 10, 31).astimezone(ZoneInfo("UTC"))  # the 10:30 desk check-in is due
    mono[0] += 47 * 60
    agent.housekeeping()
    assert [e for e in shown if e.kind == PROMPT_DUE] == []
    rig.clock.at = at(25, 11, 16).astimezone(ZoneInfo("UTC"))  # 11:15 due; the machine slept
    mono[0] += 1
    agent.housekeeping()
    due = [(e.active.prompt.kind, f"{e.active.prompt.due.astimezone(BERLIN):%H:%M}")
           for e in shown if e.kind == PROMPT_DUE and e.active]
    assert ("checkin", "11:15") in due and ("drills", "07:30") in due  # the drills are within their grace
