"""The figures for camera check-ins, self-reports or both (`--source`), and how often the camera and
the user agreed when both answered: the pure rules on hand-built check-ins, then `report` and
`trends` on a real database, and the page's camera section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.domain.records import POSTURES, CheckIn
from posture_agent.domain.sources import agreement, by_source
from posture_agent.journal import Journal
from posture_agent.report.camera import camera_agreement
from posture_agent.store import queries as q
from posture_agent.store.db import open_store
from tests.conftest import Cli

T0 = datetime(2026, 11, 23, 9, 45, tzinfo=UTC)


def c(cid: str, minutes: int, posture: str, by: str, context: str = "desk") -> CheckIn:
    return CheckIn(cid, T0 + timedelta(minutes=minutes), context, posture, True, by)


def test_the_users_word_wins_where_both_answered() -> None:
    history = [
        c("cam1", 0, "slouched", "camera"), c("me1", 2, "upright", "user"),  # a correction
        c("cam2", 45, "slouched", "camera"), c("me2", 46, "slouched", "user"),  # "Sit tall": agreed
        c("cam3", 90, "upright", "camera"),  # the camera alone
        c("me3", 135, "standing", "user"),  # the user alone
        c("cam4", 180, "upright", "camera"), c("me4", 180, "slouched", "user", "sofa"),  # another context: no pair
        c("cam5", 225, "upright", "camera"), c("me5", 250, "upright", "user"),  # 25 min apart: no pair
    ]
    assert [x.id for x in by_source(history, "camera")] == ["cam1", "cam2", "cam3", "cam4", "cam5"]
    assert [x.id for x in by_source(history, "user")] == ["me1", "me2", "me3", "me4", "me5"]
    assert [x.id for x in by_source(history, "all")] == ["me1", "me2", "cam3", "me3", "cam4", "me4", "cam5", "me5"]
    a = agreement(history)
    assert (a.camera, a.pairs, a.agreed, a.rate) == (5, 2, 1, 0.5)
    with pytest.raises(ValueError, match="source"):
        by_source(history, "robot")


def test_report_and_trends_by_source(cli: Cli, tmp_path: Path) -> None:
    cli.ok("checkin", "upright", "--at", "2026-11-23T09:47")  # the user, two minutes after the camera
    cli.ok("checkin", "slouched", "--at", "2026-11-24T14:00")
    store = open_store(cli.home / "data" / "posture-agent.db", cli.home / "data" / "backups")
    journal = Journal(store, load_settings(cli.home / "config.toml"), FixedClock(cli.clock.now()))
    at = datetime.fromisoformat("2026-11-23T09:45:00+01:00")
    journal.record_checkin("slouched", "desk", at=at, source="prompt", by="camera", measures=(6.0, 1.1))
    journal.record_checkin("slouched", "desk", at=at + timedelta(hours=3), source="prompt", by="camera")
    store.close()

    def counts(source: str) -> tuple[int, int]:
        data = cli.ok("report", "--source", source, "--json").json()
        assert isinstance(data, dict)
        return data["checkins"]["answered"], data["checkins"]["slouched"]

    assert counts("user") == (2, 1)
    assert counts("camera") == (2, 2)
    assert counts("all") == (3, 2)  # the camera's 09:45 overruled by the user's 09:47
    report = cli.ok("report", "--json").json()
    assert isinstance(report, dict)
    assert report["camera"] == {"source": "all", "camera_checkins": 2, "both_answered": 1, "agreed": 0,
                                "agreement_rate": 0.0}
    text = cli.ok("report", "--source", "camera").out
    assert "Check-ins counted: camera checks only." in text
    assert "Camera and you agreed on 0 of 1 check-ins you both answered (0%)" in text
    trends = cli.ok("trends", "--source", "user", "--json").json()
    assert isinstance(trends, dict) and trends["camera"]["source"] == "user"
    bad = cli("report", "--source", "robot")
    assert bad.code == 2 and "invalid choice" in bad.err

    page = tmp_path / "week.html"
    cli.ok("report", "--html", str(page))
    html = page.read_text(encoding="utf-8")
    assert '<section id="camera"' in html and "Camera and you agreed on 0 of 1" in html


def test_a_page_without_camera_checkins_has_no_camera_section(cli: Cli, tmp_path: Path) -> None:
    cli.ok("checkin", "upright")
    page = tmp_path / "week.html"
    cli.ok("report", "--html", str(page))
    assert 'id="camera"' not in page.read_text(encoding="utf-8")
    assert "camera" in cli.ok("report", "--json").json()  # type: ignore[operator]


def test_a_dst_week_by_source(cli: Cli) -> None:
    """The week clocks go back in Berlin (Sunday 25 October 2026, 03:00 -> 02:00): camera check-ins
    either side of the change land on their local days, and the pairing reads real instants."""
    store = open_store(cli.home / "data" / "posture-agent.db", cli.home / "data" / "backups")
    journal = Journal(store, load_settings(cli.home / "config.toml"), FixedClock(cli.clock.now()))
    before = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 summer time
    after = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)  # 02:20 winter time, 50 minutes later
    journal.record_checkin("slouched", "sofa", at=before, source="prompt", by="camera")
    journal.record_checkin("upright", "sofa", at=after, source="prompt", by="camera")
    journal.record_checkin("upright", "sofa", at=after + timedelta(minutes=5), source="cli")  # pairs with `after` only
    store.close()
    data = cli.ok("report", "--week", "2026-W43", "--source", "camera", "--json").json()
    assert isinstance(data, dict)
    sunday = next(d for d in data["checkins"]["by_day"] if d["date"] == "2026-10-25")
    assert sunday["sofa"]["answered"] == 2
    assert data["camera"] == {"source": "camera", "camera_checkins": 2, "both_answered": 1, "agreed": 1,
                              "agreement_rate": 1.0}
    both = cli.ok("report", "--week", "2026-W43", "--json").json()
    assert isinstance(both, dict) and both["checkins"]["answered"] == 2  # the user's word replaced the camera's


def test_the_trends_sql_counts_each_source_as_the_figures_do(tmp_path: Path) -> None:
    """store/queries.exposures (SQLite, for the trends) and domain/sources.by_source (the weekly
    figures) count the same check-ins before a run for every source."""
    (tmp_path / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    store = open_store(tmp_path / "db.sqlite", tmp_path / "backups")
    run_start = T0 + timedelta(hours=30)
    journal = Journal(store, load_settings(tmp_path / "config.toml"), FixedClock(run_start + timedelta(hours=3)))
    journal.add_run(run_start, timedelta(minutes=40), 8.0)
    made = [
        ("slouched", "camera", 0), ("upright", "user", 3),  # a correction: the user's word counts in all
        ("slouched", "camera", 45), ("slouched", "user", 47),
        ("upright", "camera", 90), ("slouched", "camera", 135), ("standing", "user", 180),
        ("slouched", "camera", 225), ("upright", "user", 250),  # 25 minutes apart: both count
    ]
    for posture, by, minutes in made:
        source = "cli" if by == "user" else "prompt"
        journal.record_checkin(posture, "desk", at=T0 + timedelta(minutes=minutes), source=source, by=by)
    with store.transaction() as s:
        listed = q.checkins(s, None, run_start)
        for source in ("all", "user", "camera"):
            counted = [c for c in by_source(listed, source) if c.posture in POSTURES]
            expected = (len(counted), sum(c.posture == "slouched" for c in counted))
            assert list(q.exposures(s, None, run_start + timedelta(seconds=1), source).values()) == [expected], source
    store.close()
    assert expected == (5, 4)  # the camera: 5 answers, 4 of them slouched


def test_the_agreement_read_around_the_cameras_checkins_is_that_of_all_checkins(tmp_path: Path) -> None:
    """report/camera.py reads only the check-ins within PAIR_WINDOW of the camera's: the same figures
    as all check-ins of the period, a user's answer exactly at the window's edge included; none read
    and none counted where the camera was never used."""
    (tmp_path / "config.toml").write_text('[general]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    store = open_store(tmp_path / "db.sqlite", tmp_path / "backups")
    journal = Journal(store, load_settings(tmp_path / "config.toml"), FixedClock(T0 + timedelta(days=2)))
    end = T0 + timedelta(days=1)
    assert camera_agreement(store, None, end) == agreement([])
    made = [("upright", "user", -600), ("slouched", "camera", 0), ("slouched", "user", 15),  # the edge
            ("upright", "camera", 300), ("slouched", "user", 299), ("upright", "user", 900)]
    for posture, by, minutes in made:
        journal.record_checkin(posture, "desk", at=T0 + timedelta(minutes=minutes), source="cli", by=by)
    with store.transaction() as s:
        everything = agreement(q.checkins(s, None, end))
    assert camera_agreement(store, None, end) == everything
    assert (everything.camera, everything.pairs, everything.agreed) == (2, 2, 1)
    store.close()
