"""A new user's first days through the command line on real SQLite files, with a pinned clock:
history typed in from before the install counts as planned, nothing due before the install counts
against the user, rest days hold in the report and on `run add`, and what is already recorded is
not prompted again (PRODUCT.md §2-§3)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from posture_agent.clock import FixedClock
from tests.conftest import Cli

BERLIN = ZoneInfo("Europe/Berlin")


def new_cli(tmp_path: Path, name: str, at: datetime, capsys: pytest.CaptureFixture[str]) -> Cli:
    home = tmp_path / name
    home.mkdir()
    (home / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    return Cli(home, FixedClock(at), capsys, "Europe/Berlin")


def fortnight(cli: Cli) -> None:
    """Mon 16 .. Sun 29 Nov 2026: the drills on 13 of 14 days (not Wed 25), the circuits on
    Tue 17 and Fri 20, and Tue 24; one run."""
    for day in range(16, 30):
        if day != 25:
            cli.ok("drill", "done", "wall-alignment", "chin-tuck", "--at", f"2026-11-{day}T07:40")
    for day in (17, 20, 24):
        cli.ok("circuit", "done", "--at", f"2026-11-{day}T18:40")
    cli.ok("run", "add", "--distance-km", "8", "--duration", "45:00", "--at", "2026-11-22T09:00")


def report(cli: Cli, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = cli.ok("report", "--json", *args).json()  # type: ignore[assignment]
    data.pop("generated_at", None)
    for item in data["runs"]["items"]:
        item.pop("id")  # a new id in each database
    # the circuit's plan starts at its own first record (Tue 17) when typed in, at the install (Mon 16)
    # otherwise: the same circuit days are planned either way
    data.pop("circuits_from", None)
    for row in data.get("habits", {}).get("rows", []):
        if row["habit"] == "circuit":
            row.pop("first_day")
    return data


def test_a_backfilled_fortnight_reports_as_if_the_database_was_made_on_its_first_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    late = new_cli(tmp_path, "backfilled", datetime(2026, 11, 29, 21, 0, tzinfo=BERLIN), capsys)
    fortnight(late)  # the database is made on the last evening, the history typed in with --at

    early = new_cli(tmp_path, "from-day-one", datetime(2026, 11, 16, 7, 0, tzinfo=BERLIN), capsys)
    early.ok("report", "--json")  # the database is made on the first morning
    early.clock.advance(days=13, hours=14)
    fortnight(early)

    for args in ((), ("--week", "2026-W47")):
        assert report(late, *args) == report(early, *args)
    data = report(late)
    d = data["drills"]
    assert (d["days_planned"], d["days_complete"], d["streak"]) == (7, 6, 4)
    assert data["first_day"] == "2026-11-16"
    assert (data["circuits"]["planned"], data["circuits"]["done"]) == (2, 1)  # Tue 24 done, Fri 27 not
    assert report(late, "--week", "2026-W47")["drills"]["days_complete"] == 7


def test_nothing_due_before_the_install_counts_on_day_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Installed on a circuit day (Tue) at 19:47: the 07:30 drills and the 18:30 circuit were due before."""
    cli = new_cli(tmp_path, "home", datetime(2026, 11, 24, 19, 47, tzinfo=BERLIN), capsys)
    data = report(cli)
    assert (data["drills"]["days_planned"], data["drills"]["adherence"]) == (0, None)
    assert data["circuits"]["planned"] == 0
    cli.ok("checkin", "upright")  # an answer on the first evening does not move the plan back
    cli.clock.advance(days=1)  # Wednesday 19:47, drills not done: now they count
    data = report(cli)
    assert (data["drills"]["days_planned"], data["drills"]["days_complete"]) == (1, 0)
    assert data["circuits"]["planned"] == 0


def schedule_kinds(cli: Cli) -> list[tuple[str, str]]:
    data: Any = cli.ok("schedule", "--json", "--from", "2026-11-24T00:00", "--days", "1").json()
    return [
        (p["kind"], f"{datetime.fromisoformat(p['due']).astimezone(BERLIN):%H:%M}")
        for p in data["prompts"] if p["kind"] in ("drills", "circuit")
    ]


def test_a_circuit_and_drills_logged_by_hand_are_not_prompted(cli: Cli) -> None:
    cli.clock.advance(days=-1, hours=7, minutes=56)  # Tue 24 Nov 19:56, a circuit day
    assert schedule_kinds(cli) == [("drills", "07:30"), ("circuit", "18:30")]
    cli.ok("circuit", "done", "--at", "2026-11-24T18:40")
    cli.ok("drill", "done", "wall-alignment", "--at", "2026-11-24T07:35")
    assert schedule_kinds(cli) == [("drills", "07:30")]  # one of the two drills still to do
    cli.ok("drill", "done", "chin-tuck", "--at", "2026-11-24T08:00")
    assert schedule_kinds(cli) == []


def test_an_extra_rest_day_has_no_planned_circuit_and_a_run_on_it_warns(cli: Cli) -> None:
    """A sore report after Monday's run makes Tuesday (a circuit day) an extra rest day."""
    cli.ok("run", "add", "--distance-km", "10", "--duration", "55:00", "--at", "2026-11-23T07:00")
    cli.ok("soreness", "--upper-back", "6", "--at", "2026-11-23T12:00")
    assert schedule_kinds(cli) == [("drills", "07:30")]
    assert report(cli)["circuits"]["planned"] == 0  # Tue was a rest day, Fri is to come
    saved = cli("run", "add", "--distance-km", "5", "--duration", "30:00", "--at", "2026-11-24T07:00")
    assert saved.code == 0
    assert saved.err.strip().splitlines() == [
        "Saved, but Tue 24 Nov is an extra rest day (your back was sore after your last run). "
        "Running again from Wed 25 Nov."
    ]
    assert "Run saved" in saved.out and "rest day" not in saved.out
    assert [r["distance_km"] for r in cli.ok("run", "list", "--json").json()["runs"]] == [10.0, 5.0]  # type: ignore[index]


def test_a_run_logged_long_after_is_not_asked_about_in_2_h(cli: Cli) -> None:
    old = cli.ok("run", "add", "--distance-km", "10", "--duration", "50:00", "--at", "2026-11-11T07:00").out
    assert "in 2 h" not in old and "posture-agent soreness" in old
    fresh = cli.ok("run", "add", "--distance-km", "5", "--duration", "30:00", "--at", "2026-11-25T11:00").out
    assert "You'll be asked in 2 h." in fresh


def test_the_circuit_notification_names_exercises_as_the_catalogue_writes_them(cli: Cli) -> None:
    cli.clock.advance(days=-1)  # Tue 24 Nov, a circuit day
    data: Any = cli.ok("schedule", "--json", "--from", "2026-11-24T00:00", "--days", "1").json()
    [circuit] = [p for p in data["prompts"] if p["kind"] == "circuit"]
    assert circuit["note"] == (
        "Superman hold, Prone Y-T-W raises, Bird dog, Band pull-apart, Side plank: 2 rounds."
    )
    assert "prone-ytw" not in cli.ok("schedule", "--from", "2026-11-24T00:00", "--days", "1").out


def test_human_lines_give_local_times(cli: Cli) -> None:
    from posture_agent.timeparse import spoken

    now = cli.clock.now()  # Wed 25 Nov 12:00 Berlin
    assert spoken("2026-11-25T19:46:00+00:00", BERLIN, now) == "20:46"
    assert spoken("2026-11-26T07:30:00+00:00", BERLIN, now) == "Thu 26 Nov 08:30"
    assert spoken(None, BERLIN, now) is None


def test_a_first_start_an_hour_after_a_due_circuit_shows_nothing_of_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Installed on a circuit day (Tue) at 19:47: the 18:30 circuit (3 h of grace) and the 07:30
    drills (4 h) were due before the install and are not shown; the next day's are."""
    from posture_agent.agent.events import EventBus
    from posture_agent.agent.prompts import PromptService
    from posture_agent.config import load_settings
    from posture_agent.journal import Journal
    from posture_agent.store.db import open_store

    cli = new_cli(tmp_path, "home", datetime(2026, 11, 24, 19, 47, tzinfo=BERLIN), capsys)
    cli.ok("report", "--json")  # the database is made now: the install
    store = open_store(cli.home / "data" / "posture-agent.db")
    service = PromptService(Journal(store, load_settings(cli.home / "config.toml"), cli.clock), EventBus())
    assert [p.kind for p in service.due(cli.clock.now())] == []
    later = datetime(2026, 11, 27, 19, 47, tzinfo=BERLIN)  # Friday 19:47: a circuit day, after the install
    assert "circuit" in [p.kind for p in service.due(later)]
    store.close()
