"""Fair plans and per-habit figures (PRODUCT.md §3), checked by hand on small histories: each habit
planned from the install or its own first record, a day's drill plan fixed when the day began, a
streak across a day the plan grew, Loop's habit score after one miss, a week before the install,
and a week with a daylight-saving change."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from benchmarks.synthetic import write as write_synthetic
from posture_agent.clock import FixedClock
from posture_agent.domain import exposure as ex
from posture_agent.domain import habits as hb
from posture_agent.store import queries as q
from posture_agent.store.db import open_store
from tests.conftest import Cli
from tests.test_report import set_created

BERLIN = ZoneInfo("Europe/Berlin")
M_DAILY = 0.5 ** (1 / 13)  # Loop: 0.5 ** (sqrt(1) / 13) = 0.948078…


def row(data: Any, habit: str) -> dict[str, Any]:
    found: dict[str, Any] = next(h for h in data["habits"]["rows"] if h["habit"] == habit)
    return found


def test_loop_score_by_hand() -> None:
    assert hb.multiplier(1.0) == pytest.approx(0.948078, abs=1e-6)
    assert hb.multiplier(2 / 7) == pytest.approx(0.5 ** (math.sqrt(2 / 7) / 13))
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(15)]
    marks = [hb.Mark(d, 1.0, True) for d in days[:14]] + [hb.Mark(days[14], 0.0, False)]
    after_14, after_miss = hb.scores(marks, 1.0, [days[13], days[14]])
    assert after_14 == pytest.approx(1 - M_DAILY ** 14)  # 0.5264: two weeks of a new habit
    assert after_miss == pytest.approx((1 - M_DAILY ** 14) * M_DAILY)  # one miss costs 5.2% of it
    assert after_14 - after_miss == pytest.approx(0.0274, abs=1e-4)
    # a miss breaks the current streak (the day is over) but not the best one
    assert hb.streaks(marks, days[14] + timedelta(days=1)) == (0, 14)
    # today not done yet does not break it
    assert hb.streaks(marks, days[14]) == (14, 14)


def test_circuit_done_a_day_late_keeps_its_streak_and_counts_in_the_window() -> None:
    tuesdays_fridays = [date(2026, 11, 3), date(2026, 11, 6), date(2026, 11, 10), date(2026, 11, 13)]
    done = [date(2026, 11, 3), date(2026, 11, 7), date(2026, 11, 10)]  # Friday's on Saturday; the 13th not yet
    score_marks, streak_marks = hb.circuit_marks(tuesdays_fridays, done, date(2026, 11, 2), date(2026, 11, 13))
    # the 13th is still open (no later planned day yet) and not done: left out, so the streak is 3
    assert [m.kept for m in streak_marks] == [True, True, True]
    assert hb.streaks(streak_marks, date(2026, 11, 13)) == (3, 3)
    rows = hb.circuit_figures_at(tuesdays_fridays, done, date(2026, 11, 2), [date(2026, 11, 6), date(2026, 11, 13)],
                                 2 / 7)
    # on the 6th, Friday's turn is still open (done on the 7th): one kept; on the 13th, three
    assert [(r.planned, r.kept, r.current_streak, r.best_streak) for r in rows] == [(1, 1, 1, 1), (3, 3, 3, 3)]
    # days before the first planned circuit have nothing planned in their window: no score yet
    assert score_marks[0].day == date(2026, 11, 3) and score_marks[0].value == 1.0
    on_13th = next(m for m in score_marks if m.day == date(2026, 11, 13))
    assert on_13th.value == pytest.approx(3 / 4)  # 3 done of 4 planned in the 14 days ending that day


def test_a_day_done_stays_done_when_pelvic_tilts_join_in_the_evening(cli: Cli, clock: FixedClock) -> None:
    """The issue's case: both drills at 17:38, a sore lower back at 17:49; the day stays done."""
    clock.at = datetime(2026, 11, 25, 18, 0, tzinfo=BERLIN)
    for day in (23, 24):
        cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", f"2026-11-{day}T07:30")
    cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-25T17:38")
    cli.ok("soreness", "--lower-back", "4", "--at", "2026-11-25T17:49")
    set_created(cli.home, datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN))
    today: Any = cli.ok("drills", "--json").json()
    assert today["all_done"] is True and [d["name"] for d in today["drills"]] == ["wall-alignment", "chin-tuck"]
    tomorrow: Any = cli.ok("drills", "--date", "2026-11-26", "--json").json()
    assert [d["name"] for d in tomorrow["drills"]] == ["wall-alignment", "chin-tuck", "pelvic-tilt"]
    data: Any = cli.ok("report", "--json").json()
    assert data["drills"]["streak"] == 3 and data["drills"]["days_complete"] == 3
    assert data["drills"]["days"][2]["planned"] == ["wall-alignment", "chin-tuck"]
    # the schedule asks for no drills today (done) and for them tomorrow at 07:30
    sched: Any = cli.ok("schedule", "--from", "2026-11-25T00:00", "--days", "2", "--json").json()
    drills = [datetime.fromisoformat(p["due"]).astimezone(BERLIN) for p in sched["prompts"] if p["kind"] == "drills"]
    assert drills == [datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN)]


def test_a_streak_across_a_day_the_plan_grew(cli: Cli, clock: FixedClock) -> None:
    """Mon two drills; Mon evening a sore lower back; Tue and Wed three drills: all done, streak 3 and
    pelvic tilts' own streak 2. On Thursday (today) nothing yet: the streaks still stand."""
    clock.at = datetime(2026, 11, 26, 12, 0, tzinfo=BERLIN)
    cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-23T07:30")
    cli.ok("soreness", "--lower-back", "5", "--at", "2026-11-23T20:00")
    for day in (24, 25):
        cli.ok("drill", "done", "wall-alignment", "chin-tuck", "pelvic-tilt", "--at", f"2026-11-{day}T07:30")
    set_created(cli.home, datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN))
    data: Any = cli.ok("report", "--json").json()
    assert data["drills"]["streak"] == 3 and data["drills"]["best_streak"] == 3
    tilts = row(data, "pelvic-tilt")
    assert (tilts["current_streak"], tilts["best_streak"], tilts["planned"]) == (2, 2, 2)
    assert tilts["first_day"] == "2026-11-24"
    wall = row(data, "wall-alignment")
    assert (wall["current_streak"], wall["planned"], wall["kept"]) == (3, 3, 3)
    assert wall["score"] == pytest.approx(1 - M_DAILY ** 3, abs=1e-4)  # today, not done yet, is not counted
    every = row(data, "all-drills")
    assert every["score"] == pytest.approx(1 - M_DAILY ** 3, abs=1e-4)


def test_habit_score_after_one_miss_through_the_report(cli: Cli, clock: FixedClock) -> None:
    clock.at = datetime(2026, 11, 25, 23, 0, tzinfo=BERLIN)
    for i in range(15):
        day = date(2026, 11, 11) + timedelta(days=i)
        if day != date(2026, 11, 24):  # one miss, the day before today
            cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", f"{day.isoformat()}T07:30")
    set_created(cli.home, datetime(2026, 11, 11, 6, 0, tzinfo=BERLIN))
    data: Any = cli.ok("report", "--json").json()
    wall = row(data, "wall-alignment")
    expected = (1 - M_DAILY ** 13) * M_DAILY * M_DAILY + (1 - M_DAILY)  # 13 done, 1 miss, 1 done
    assert wall["score"] == pytest.approx(expected, abs=1e-4)
    assert (wall["current_streak"], wall["best_streak"]) == (1, 13)
    assert data["drills"]["streak"] == 1


def test_imported_runs_and_check_ins_plan_no_drills(cli: Cli, clock: FixedClock) -> None:
    """A 2019 run and check-in typed in on install day do not move the drills' plan to 2019."""
    cli.ok("run", "add", "--distance-km", "10", "--duration", "55:00", "--at", "2019-06-02T08:00")
    cli.ok("checkin", "slouched", "--at", "2019-06-01T10:00")
    set_created(cli.home, datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN))
    cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-23T08:00")
    data: Any = cli.ok("report", "--json").json()
    assert data["first_day"] == "2026-11-23" and data["drills_from"] == "2026-11-23"
    # Mon done, Tue missed, Wed (today) not done yet: counted once done or over
    assert data["drills"]["days_planned"] == 3 and row(data, "all-drills")["planned"] == 2
    before: Any = cli.ok("report", "--week", "2019-W22", "--json").json()
    assert before["drills"]["days_planned"] == 0 and before["drills"]["adherence"] is None
    assert before["circuits"]["planned"] == 0
    assert "Drills        0 of 0 planned" in cli.ok("report", "--week", "2019-W22").out


def test_drills_typed_in_before_the_install_plan_from_their_own_first_day(cli: Cli, clock: FixedClock) -> None:
    cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", "2026-11-16T07:30")
    cli.ok("circuit", "done", "--at", "2026-11-20T18:30")
    set_created(cli.home, datetime(2026, 11, 24, 7, 0, tzinfo=BERLIN))
    data: Any = cli.ok("report", "--json").json()
    assert (data["drills_from"], data["circuits_from"]) == ("2026-11-16", "2026-11-20")
    # circuits: Fri 20 done; Tue 24 not yet, and still open until Fri 27 (a day late still keeps it)
    circuit = row(data, "circuit")
    assert circuit["first_day"] == "2026-11-20" and circuit["frequency"] == pytest.approx(2 / 7, abs=1e-4)
    assert (circuit["current_streak"], circuit["best_streak"]) == (1, 1)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_streaks_and_scores_across_a_daylight_saving_week(cli: Cli, clock: FixedClock, zone: str) -> None:
    """Clocks go back on Sun 25 Oct 2026 in Berlin and Sun 1 Nov in New York: 23:30 local is still that
    day, a 25-hour day counts once."""
    tz = ZoneInfo(zone)
    (cli.home / "config.toml").write_text(f'[general]\ntimezone = "{zone}"\n', encoding="utf-8")
    clock.at = datetime(2026, 11, 4, 12, 0, tzinfo=tz)
    for i in range(16):  # Mon 19 Oct to Tue 3 Nov, late in the evening
        day = date(2026, 10, 19) + timedelta(days=i)
        cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", f"{day.isoformat()}T23:30")
    set_created(cli.home, datetime(2026, 10, 19, 6, 0, tzinfo=tz))
    data: Any = cli.ok("report", "--json").json()
    assert data["drills"]["streak"] == 16 and data["drills"]["days_complete"] == 2
    wall = row(data, "wall-alignment")
    assert (wall["planned"], wall["kept"], wall["current_streak"]) == (16, 16, 16)  # today not done yet
    assert wall["score"] == pytest.approx(1 - M_DAILY ** 16, abs=1e-4)
    week: Any = cli.ok("report", "--week", "2026-W44", "--json").json()
    assert [d["complete"] for d in week["drills"]["days"]] == [True] * 7


def test_form_answers_appear_beside_their_run(cli: Cli) -> None:
    cli.ok("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-24T07:00")
    cli.ok("soreness", "--upper-back", "4", "--form", "arms_high", "--form", "arms_crossing",
           "--at", "2026-11-24T10:00")
    data: Any = cli.ok("report", "--json").json()
    assert data["runs"]["items"][0]["soreness"]["form"] == ["arms_high", "arms_crossing"]
    assert "form: arms high or tight, arms crossing the body" in cli.ok("report").out


def test_exposures_counted_in_sql_match_the_check_ins(cli: Cli, clock: FixedClock) -> None:
    """`trends` counts each run's check-ins of the 48 h before it in SQL: the same counts as the
    check-ins read one by one, a taken-back check-in left out, the window's start included and its
    end (the run's start) not."""
    write_synthetic(cli.home, date(2026, 10, 26), date(2026, 11, 24), seed=4, until=clock.now())
    cli.ok("run", "add", "--distance-km", "8", "--duration", "45m", "--at", "2026-11-25T07:00")
    cli.ok("checkin", "slouched", "--at", "2026-11-23T07:00")  # exactly 48 h before: in
    cli.ok("checkin", "slouched", "--at", "2026-11-25T07:00")  # at the start: out
    cli.ok("checkin", "slouched", "--at", "2026-11-24T22:00")
    cli.ok("undo")  # the last one taken back: out
    store = open_store(cli.home / "data" / "posture-agent.db")
    try:
        with store.transaction() as s:
            counts = q.exposures(s)
            index = ex.AnswerIndex(q.checkins(s))
            runs = q.runs(s)
    finally:
        store.close()
    assert len(runs) > 10
    for run in runs:
        by_one = index.window(run.start - ex.EXPOSURE_WINDOW, run.start)
        assert counts.get(run.id, (0, 0)) == by_one, run
