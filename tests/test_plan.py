"""The agent's day (domain/plan.py) over real time zones, two weeks across each DST change,
checked against expectations worked out by hand from PRODUCT.md §2 and the default config."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from posture_agent.config import Settings, Window
from posture_agent.domain import advice as rules
from posture_agent.domain.plan import Prompt, plan, wall_time
from posture_agent.domain.records import History, Run, Soreness

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

DESK = ["09:45", "10:30", "11:15", "12:00", "12:45", "13:30", "14:15", "15:00", "15:45", "16:30", "17:15"]
"""09:00 + k*45 min before 17:30; the 09:00 one coincides with the car prompt and is dropped."""
SOFA = ["19:30", "20:30", "21:30"]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_rows(prompts: list[Prompt], zone: ZoneInfo) -> list[tuple[str, str, str, str | None]]:
    return [
        (f"{p.due.astimezone(zone):%Y-%m-%d}", f"{p.due.astimezone(zone):%H:%M}", p.kind, p.context)
        for p in prompts
    ]


def expected_default_day(day: date) -> list[tuple[str, str, str, str | None]]:
    """A default day by hand: drills 07:30; weekdays car 09:00 and 17:45, desk; Tue/Fri circuit; sofa."""
    rows: list[tuple[str, str, str, str | None]] = [(day.isoformat(), "07:30", "drills", None)]
    if day.weekday() < 5:
        rows.append((day.isoformat(), "09:00", "checkin", "car"))
        rows += [(day.isoformat(), t, "checkin", "desk") for t in DESK]
        rows.append((day.isoformat(), "17:45", "checkin", "car"))
    if day.weekday() in (1, 4):
        rows.append((day.isoformat(), "18:30", "circuit", None))
    rows += [(day.isoformat(), t, "checkin", "sofa") for t in SOFA]
    return sorted(rows)


@pytest.mark.parametrize(
    ("zone", "first_monday", "change_day"),
    [
        (BERLIN, date(2026, 3, 23), date(2026, 3, 29)),
        (BERLIN, date(2026, 10, 19), date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 2), date(2026, 3, 8)),
        (NEW_YORK, date(2026, 10, 26), date(2026, 11, 1)),
    ],
)
def test_two_weeks_across_dst_keep_local_wall_times(zone: ZoneInfo, first_monday: date, change_day: date) -> None:
    settings = Settings(timezone=str(zone))
    start = datetime.combine(first_monday, time(0), zone)
    end = datetime.combine(first_monday + timedelta(days=14), time(0), zone)
    prompts = plan(settings, History(), zone, start, end)
    # 10 weekdays x (11 desk + 2 car + 3 sofa + drills) + 4 weekend days x (3 sofa + drills) + 4 circuits
    assert len(prompts) == 10 * 17 + 4 * 4 + 4 == 190
    expected = sorted(row for k in range(14) for row in expected_default_day(first_monday + timedelta(days=k)))
    assert sorted(local_rows(prompts, zone)) == expected
    assert len({(p.slot, p.due) for p in prompts}) == len(prompts)
    assert prompts == sorted(prompts, key=lambda p: p.due)
    # the UTC instant of the 07:30 drills prompt moves by one hour across the change
    drills = {p.due.astimezone(zone).date(): p.due for p in prompts if p.kind == "drills"}
    before, after = [drills[change_day - timedelta(1)]], [drills[change_day]]
    assert after[0] - before[0] == (timedelta(hours=23) if change_day.month == 3 else timedelta(hours=25))


def test_berlin_spring_forward_utc_instants_by_hand() -> None:
    s = Settings(timezone="Europe/Berlin")
    day = plan(s, History(), BERLIN, utc(2026, 3, 28, 0), utc(2026, 3, 30, 0))
    drills = [p.due for p in day if p.kind == "drills"]
    # Sat 28 March 07:30 CET = 06:30Z; Sun 29 March 07:30 CEST = 05:30Z
    assert drills == [utc(2026, 3, 28, 6, 30), utc(2026, 3, 29, 5, 30)]
    sofa = [p.due for p in day if p.context == "sofa" and p.due.day == 29]
    assert sofa == [utc(2026, 3, 29, 17, 30), utc(2026, 3, 29, 18, 30), utc(2026, 3, 29, 19, 30)]


def test_skipped_wall_time_moves_to_the_end_of_the_gap_and_repeated_fires_once() -> None:
    night = Window(frozenset(range(7)), time(1, 0), time(4, 0), 30)
    s = Settings(
        timezone="Europe/Berlin", desk=replace(night, days=frozenset()), sofa=night,
        car_days=frozenset(), drill_time=time(2, 30), circuit_days=frozenset(),
    )
    spring = plan(s, History(), BERLIN, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    # 01:00 01:30 CET; 02:00 and 02:30 do not exist → 03:00 CEST (once); 03:00 (same instant); 03:30
    assert [(p.kind, p.due) for p in spring] == [
        ("checkin", utc(2026, 3, 29, 0, 0)),
        ("checkin", utc(2026, 3, 29, 0, 30)),
        ("checkin", utc(2026, 3, 29, 1, 0)),
        ("drills", utc(2026, 3, 29, 1, 0)),
        ("checkin", utc(2026, 3, 29, 1, 30)),
    ]
    autumn = plan(s, History(), BERLIN, utc(2026, 10, 24, 22), utc(2026, 10, 25, 4))
    # 01:00 01:30 02:00 02:30 CEST (first pass), then 03:00 03:30 CET; the repeated hour fires once
    assert [(p.kind, p.due) for p in autumn] == [
        ("checkin", utc(2026, 10, 24, 23, 0)),
        ("checkin", utc(2026, 10, 24, 23, 30)),
        ("checkin", utc(2026, 10, 25, 0, 0)),
        ("checkin", utc(2026, 10, 25, 0, 30)),
        ("drills", utc(2026, 10, 25, 0, 30)),
        ("checkin", utc(2026, 10, 25, 2, 0)),
        ("checkin", utc(2026, 10, 25, 2, 30)),
    ]


def test_new_york_dst_nights() -> None:
    night = Window(frozenset(range(7)), time(0, 30), time(3, 0), 30)
    s = Settings(
        timezone="America/New_York", desk=replace(night, days=frozenset()), sofa=night,
        car_days=frozenset(), drill_time=time(2, 30), circuit_days=frozenset(),
    )
    spring = plan(s, History(), NEW_YORK, utc(2026, 3, 8, 4), utc(2026, 3, 8, 9))
    # 00:30 01:00 01:30 EST = 05:30Z 06:00Z 06:30Z; 02:00 and 02:30 skipped → 03:00 EDT = 07:00Z
    assert [(p.kind, p.due) for p in spring] == [
        ("checkin", utc(2026, 3, 8, 5, 30)),
        ("checkin", utc(2026, 3, 8, 6, 0)),
        ("checkin", utc(2026, 3, 8, 6, 30)),
        ("checkin", utc(2026, 3, 8, 7, 0)),
        ("drills", utc(2026, 3, 8, 7, 0)),
    ]
    autumn = plan(s, History(), NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 11, 1, 9))
    # 00:30 01:00 01:30 EDT (01:xx repeats, first pass only), then 02:00 02:30 EST
    assert [(p.kind, p.due) for p in autumn] == [
        ("checkin", utc(2026, 11, 1, 4, 30)),
        ("checkin", utc(2026, 11, 1, 5, 0)),
        ("checkin", utc(2026, 11, 1, 5, 30)),
        ("checkin", utc(2026, 11, 1, 7, 0)),
        ("checkin", utc(2026, 11, 1, 7, 30)),
        ("drills", utc(2026, 11, 1, 7, 30)),
    ]


def test_wall_time_helper() -> None:
    assert wall_time(date(2026, 3, 29), time(2, 15), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert wall_time(date(2026, 10, 25), time(2, 15), BERLIN) == utc(2026, 10, 25, 0, 15)
    assert wall_time(date(2026, 11, 25), time(12, 0), BERLIN) == utc(2026, 11, 25, 11, 0)


def test_quiet_hours_drop_checkins_and_move_one_offs() -> None:
    s = Settings(timezone="Europe/Berlin", quiet_hours=((time(12, 0), time(13, 0)), (time(18, 0), time(19, 0))))
    day = plan(s, History(), BERLIN, utc(2026, 11, 24, 0), utc(2026, 11, 25, 0))  # a Tuesday
    rows = local_rows(day, BERLIN)
    desk = [t for (_, t, k, c) in rows if c == "desk"]
    assert "12:00" not in desk and "12:45" not in desk and "13:30" in desk and len(desk) == 9
    # the circuit at 18:30 falls in 18:00-19:00: it moves to 19:00 instead of being lost
    assert [t for (_, t, k, _) in rows if k == "circuit"] == ["19:00"]


def test_weekends_off() -> None:
    s = Settings(timezone="Europe/Berlin", weekends_off=True)
    week = plan(s, History(), BERLIN, utc(2026, 11, 22, 23), utc(2026, 11, 29, 23))  # Mon..Sun Berlin
    days = Counter(p.due.astimezone(BERLIN).strftime("%a") for p in week)
    assert set(days) == {"Mon", "Tue", "Wed", "Thu", "Fri"}
    assert days["Tue"] == days["Mon"] + 1 == 18


def run_at(rid: str, start: datetime, minutes: int = 60) -> Run:
    return Run(rid, start, timedelta(minutes=minutes), 10.0)


def test_soreness_after_run_and_next_morning() -> None:
    s = Settings(timezone="Europe/Berlin")
    run = run_at("r1", datetime(2026, 11, 24, 18, 0, tzinfo=BERLIN))
    day = plan(s, History(runs=(run,)), BERLIN, utc(2026, 11, 24, 0), utc(2026, 11, 26, 0))
    sore = [(p.due.astimezone(BERLIN).strftime("%d %H:%M"), p.run_id, p.note) for p in day if p.kind == "soreness"]
    assert sore == [("24 21:00", "r1", "after the run"), ("25 08:00", "r1", "next morning")]
    # a report about the run made before the 2-hour prompt makes that prompt unnecessary
    report = Soreness("s1", datetime(2026, 11, 24, 20, 0, tzinfo=BERLIN), upper_back=1, run_id="r1")
    day = plan(s, History(runs=(run,), soreness=(report,)), BERLIN, utc(2026, 11, 24, 0), utc(2026, 11, 26, 0))
    assert [p.note for p in day if p.kind == "soreness"] == ["next morning"]


def test_no_circuit_on_an_extra_rest_day_but_drills_go_on() -> None:
    s = Settings(timezone="Europe/Berlin")
    run = run_at("r1", datetime(2026, 11, 23, 7, 0, tzinfo=BERLIN))  # Monday
    sore = Soreness("s1", datetime(2026, 11, 23, 20, 0, tzinfo=BERLIN), mid_back=5, run_id="r1")
    week = plan(s, History(runs=(run,), soreness=(sore,)), BERLIN, utc(2026, 11, 22, 23), utc(2026, 11, 29, 23))
    circuits = [p.due.astimezone(BERLIN).strftime("%a") for p in week if p.kind == "circuit"]
    assert circuits == ["Fri"]  # Tuesday became a rest day
    assert sum(p.kind == "drills" for p in week) == 7


def test_si_protocol_ice_reminders_every_day_of_it() -> None:
    s = Settings(timezone="Europe/Berlin")
    report = Soreness("s1", datetime(2026, 11, 20, 14, 0, tzinfo=BERLIN), si_joint=5)
    prompts = plan(s, History(soreness=(report,)), BERLIN, utc(2026, 11, 15, 0), utc(2026, 12, 10, 0))
    ice = [p.due.astimezone(BERLIN) for p in prompts if p.kind == "ice"]
    # 20 Nov 20:30; 21 Nov .. 3 Dec twice a day; 4 Dec 12:30 (the protocol ends at 14:00 that day)
    assert len(ice) == 1 + 13 * 2 + 1 == 28
    assert ice[0] == datetime(2026, 11, 20, 20, 30, tzinfo=BERLIN)
    assert ice[-1] == datetime(2026, 12, 4, 12, 30, tzinfo=BERLIN)


def test_the_ice_reminders_carry_the_disclaimer_once() -> None:
    """The first of the 28 reminders says it is not medical advice; the other 27 do not repeat it."""
    s = Settings(timezone="Europe/Berlin")
    report = Soreness("s1", datetime(2026, 11, 20, 14, 0, tzinfo=BERLIN), si_joint=5)
    prompts = plan(s, History(soreness=(report,)), BERLIN, utc(2026, 11, 15, 0), utc(2026, 12, 10, 0))
    bodies = [p.message() for p in prompts if p.kind == "ice"]
    assert len(bodies) == 28
    assert rules.NOT_MEDICAL_ADVICE in bodies[0]
    assert bodies[1:] == ["An ice pack on the SI joint for 15-20 minutes."] * 27
