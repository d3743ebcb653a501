"""A run logged when the brief says not to run is saved, with a warning that names the rule and the
first day running is fine again: through `run add`, `run edit` and `run import` as real processes on
a pinned clock (the Log a run window's warning is in test_ui_windows)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.importers.conftest import write_gpx
from tests.processes import PinnedClock, rows, run_cli

# Monday 7 December 2026, 17:57 in Berlin (16:57 UTC)
REPORT = datetime(2026, 12, 7, 16, 57, tzinfo=UTC)


@pytest.fixture
def env() -> dict[str, str]:
    return PinnedClock(REPORT + timedelta(minutes=2)).env(TZ="Europe/Berlin")


def test_a_run_logged_just_after_an_si_report_is_saved_and_warned(tmp_path: Path, env: dict[str, str]) -> None:
    said = run_cli(tmp_path, "soreness", "--si-joint", "6", env=env)
    assert said.returncode == 0, said.stderr
    # no --at: the run "ended just now", so it began before the report; it is still during the protocol
    added = run_cli(tmp_path, "run", "add", "--distance-km", "5", "--duration", "30:00", env=env)
    assert added.returncode == 0, added.stderr
    assert added.stderr.strip() == (
        "Saved, but this run falls in the SI-joint protocol (SI joint sore on Mon 07 Dec: no running for "
        "two weeks). Running again from Tue 22 Dec."
    )
    assert "Run saved" in added.stdout and "SI-joint" not in added.stdout
    assert len(rows(tmp_path, "select id from runs")) == 1
    as_json = run_cli(tmp_path, "--json", "run", "add", "--distance-km", "3", "--duration", "20:00",
                      "--at", "2026-12-21T18:30", env=PinnedClock(datetime(2026, 12, 21, 20, 0, tzinfo=UTC)).env(
                          TZ="Europe/Berlin"))
    assert as_json.returncode == 0, as_json.stderr
    # the 14 days run out at 17:57 on Mon 21 Dec: that whole day is still a no-running day
    assert "Running again from Tue 22 Dec." in json.loads(as_json.stdout)["warning"]
    fine = run_cli(tmp_path, "run", "add", "--distance-km", "5", "--duration", "30:00", "--at", "2026-12-07T07:00",
                   env=env)
    assert fine.returncode == 0 and fine.stderr == "", "a run before the report is not warned about"


def test_a_run_on_an_extra_rest_day_is_saved_and_warned(tmp_path: Path) -> None:
    sunday = PinnedClock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC)).env(TZ="Europe/Berlin")
    assert run_cli(tmp_path, "run", "add", "--distance-km", "18", "--duration", "1:40:00", "--at", "2026-12-06T09:00",
                   env=sunday).returncode == 0
    sore = run_cli(tmp_path, "soreness", "--upper-back", "5", env=sunday)
    assert sore.returncode == 0, sore.stderr
    monday = PinnedClock(datetime(2026, 12, 7, 8, 0, tzinfo=UTC)).env(TZ="Europe/Berlin")
    added = run_cli(tmp_path, "run", "add", "--distance-km", "5", "--duration", "30:00", env=monday)
    assert added.returncode == 0, added.stderr
    assert added.stderr.strip() == (
        "Saved, but Mon 07 Dec is an extra rest day (your back was sore after your last run). "
        "Running again from Tue 08 Dec."
    )
    [run_id] = [r for (r,) in rows(tmp_path, "select id from runs where distance_km = 5")]
    edited = run_cli(tmp_path, "run", "edit", str(run_id)[:8], "--distance-km", "6", env=monday)
    assert edited.returncode == 0 and "extra rest day" in edited.stderr


def test_an_imported_run_in_the_protocol_is_saved_and_warned(tmp_path: Path, env: dict[str, str]) -> None:
    assert run_cli(tmp_path, "soreness", "--si-pain", "--at", "2026-12-01T10:00", env=env).returncode == 0
    gpx = write_gpx(tmp_path / "morning.gpx", datetime(2026, 12, 5, 8, 0, tzinfo=UTC), 40, 7)
    before = write_gpx(tmp_path / "before.gpx", datetime(2026, 11, 28, 8, 0, tzinfo=UTC), 40, 7)
    done = run_cli(tmp_path, "run", "import", str(gpx), str(before), env=env)
    assert done.returncode == 0, done.stderr
    [line] = [x for x in done.stdout.splitlines() if "morning.gpx" in x]
    assert "SI-joint protocol (SI joint sore on Tue 01 Dec" in line and "Running again from Wed 16 Dec." in line
    [other] = [x for x in done.stdout.splitlines() if "before.gpx" in x]
    assert "SI-joint" not in other
    assert len(rows(tmp_path, "select id from runs")) == 2
