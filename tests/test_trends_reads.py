"""`trends` reads the database read-only with plain sqlite3 (store/reads.py): the same records, the
same text and the same JSON as through the store (store/queries.py), on real files in Berlin over a
daylight-saving week, with records taken back, edited runs (also on two computers at once), camera
check-ins and a peer's synced rows; and where the read-only path cannot answer (no file, an older
or a newer schema, a damaged file's marker, a busy file) the store's path, with today's output and
error lines."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from benchmarks.synthetic import write as write_synthetic
from posture_agent.config import load_settings
from posture_agent.domain.sources import SOURCES, agreement
from posture_agent.journal import Journal
from posture_agent.report.camera import camera_agreement
from posture_agent.store import queries as q
from posture_agent.store import reads
from posture_agent.store import tables as t
from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.store.reads import NotReadable
from posture_agent.store.sqlite_file import marker_file, read_revision
from tests.conftest import Cli, Result, as_newer_version
from tests.test_safety_open import damage_pages
from tests.test_store import database_at

FALLBACK = "trends read through the store"
PEER = "peer-laptop:0123456789ab"


def db_of(cli: Cli) -> Path:
    return cli.home / "data" / "posture-agent.db"


def fallbacks(cli: Cli) -> int:
    """How many times `trends` went through the store, by the log file's word."""
    log = cli.home / "logs" / "posture-agent.log"
    return log.read_text(encoding="utf-8").count(FALLBACK) if log.exists() else 0


def refuse(db_file: Path) -> Iterator[sqlite3.Connection]:
    raise NotReadable("forced by the test")


def both_ways(cli: Cli, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Result, Result]:
    """`trends ARGS` read-only, then through the store (the read-only path refused)."""
    before = fallbacks(cli)
    fast = cli.ok("trends", *args)
    assert fallbacks(cli) == before, "the read-only path did not answer"
    with monkeypatch.context() as m:
        m.setattr(reads, "read_only", refuse)
        slow = cli.ok("trends", *args)
    assert fallbacks(cli) == before + 1
    return fast, slow


def a_history_with_every_edge(cli: Cli) -> None:
    """Five months of synthetic history (the last October Sunday is a 25-hour day in Berlin), then by
    hand: a run on that Sunday, records taken back, a run edited after its soreness report, camera
    check-ins (one overruled by the user's answer), and a peer computer's synced rows, among them
    two edits of the same run made on two computers before they merged."""
    write_synthetic(cli.home, date(2026, 7, 6), date(2026, 11, 24), seed=7, until=cli.clock.now())
    cli.ok("run", "add", "--distance-km", "12", "--duration", "1:05:00", "--at", "2026-10-25T09:00")
    for hour in ("2026-10-24T20:00", "2026-10-25T01:30", "2026-10-25T03:30", "2026-10-25T08:00"):
        cli.ok("checkin", "slouched", "--context", "sofa", "--at", hour)
    cli.ok("soreness", "--upper-back", "6", "--mid-back", "2", "--at", "2026-10-25T12:00")
    cli.ok("checkin", "upright", "--at", "2026-11-23T08:00")
    cli.ok("undo")  # taken back
    runs: Any = cli.ok("run", "list", "--json").json()
    items = sorted(runs["runs"] if isinstance(runs, dict) else runs, key=lambda x: x["start"])
    cli.ok("run", "delete", items[-2]["id"])
    cli.ok("run", "edit", items[-5]["id"], "--distance-km", "21.1")  # its soreness report follows it

    store = open_store(db_of(cli))
    try:
        journal = Journal(store, load_settings(cli.home / "config.toml"), cli.clock)
        at = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
        for minutes, posture in ((0, "slouched"), (45, "slouched"), (90, "upright"), (600, "slouched")):
            journal.record_checkin(posture, "desk", at=at + timedelta(minutes=minutes), source="prompt", by="camera")
        journal.record_checkin("upright", "desk", at=at + timedelta(minutes=50), source="cli")  # overrules one
        journal.record_checkin("slouched", "desk", at=at + timedelta(minutes=300), source="prompt", by="camera")
        withdrawn = journal.record_checkin("upright", "desk", at=at + timedelta(minutes=305), source="cli")
        now = cli.clock.now()
        with store.transaction() as s:
            q.bury(s, t.checkins, [withdrawn.id], device=PEER, source="sync", now=now)  # overrules no more
            run = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
            peer_run = q.add(s, t.runs, {"start": run, "duration_s": 2400.0, "distance_km": 7.5, "sport": "running"},
                             device=PEER, source="sync", now=now)
            for hours in (2, 5, 9, 30):
                q.add(s, t.checkins, {"at": run - timedelta(hours=hours), "context": "desk", "posture": "slouched",
                                      "prompted": True}, device=PEER, source="sync", now=now)
            q.add(s, t.soreness_reports, {"at": run + timedelta(hours=2), "upper_back": 5, "run_id": peer_run},
                  device=PEER, source="sync", now=now)
            versions = []
            for device, km, made in (("here:aaaaaaaaaaaa", 8.0, now), (PEER, 9.0, now + timedelta(seconds=1))):
                new = q.add(s, t.runs, {"start": run, "duration_s": 2400.0, "distance_km": km, "sport": "running"},
                            device=device, source="cli", now=made)
                q.bury(s, t.runs, [peer_run], device=device, source="cli", now=made, replaced_by=new)
                versions.append(new)
    finally:
        store.close()


def read_both(db: Path, now: datetime, source: str) -> tuple[Any, Any]:
    """(read-only, through the store) for what `trends` reads."""
    store = open_store(db)
    try:
        with store.transaction() as s:
            slow = (q.run_facts(s, now, source), camera_agreement(store, None, now))
    finally:
        store.close()
    with reads.read_only(db) as conn:
        fast = (reads.run_facts(conn, now, source), agreement(reads.camera_checkins(conn, now)))
    return fast, slow


def test_the_read_only_path_gives_todays_figures_with_every_edge(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    a_history_with_every_edge(cli)
    now = cli.clock.now()
    for source in SOURCES:
        fast, slow = read_both(db_of(cli), now, source)
        assert fast == slow, source
        facts, camera = fast
        assert len(facts.runs) > 60 and len(facts.soreness) > 40
        assert len(facts.counts) == 2 if source == "camera" else len(facts.counts) > 60
        if source == "all":
            assert camera.camera == 5 and camera.pairs >= 1
            peer = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
            assert [run.distance_km for run in facts.runs if run.start == peer] == [9.0]  # the later edit won
            edited = next(run.id for run in facts.runs if run.distance_km == 21.1)
            assert any(report.run_id == edited for report in facts.soreness)  # followed its run
        for args in ((), ("--json",)):
            fast_out, slow_out = both_ways(cli, monkeypatch, "--source", source, *args)
            assert (fast_out.out, fast_out.err) == (slow_out.out, slow_out.err), (source, args)
    data: Any = cli.ok("trends", "--json").json()
    assert data["all_history"]["from"] == "2026-07-07" and data["zone"] == "Europe/Berlin"
    assert data["all_history"]["regions"]["upper_back"]["rho"] is not None  # figures, not only nulls

    cli.clock.at = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)  # 00:30 on the Monday after the 25-hour Sunday
    for args in (("--json",), ("--source", "user")):
        fast_out, slow_out = both_ways(cli, monkeypatch, *args)
        assert fast_out.out == slow_out.out, args
    data = cli.ok("trends", "--json").json()
    assert data["last_12_weeks"]["to"] == "2026-10-26"
    assert data["last_12_weeks"]["from"] == "2026-08-10"


def test_an_empty_database_reads_the_same_both_ways(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    open_store(db_of(cli)).close()
    fast, slow = both_ways(cli, monkeypatch, "--json")
    assert fast.out == slow.out
    data: Any = fast.json()
    assert data["all_history"]["runs"] == 0 and data["camera"]["camera_checkins"] == 0


def test_no_database_yet_is_created_by_the_store_as_before(cli: Cli) -> None:
    data: Any = cli.ok("trends", "--json").json()
    assert data["all_history"]["runs"] == 0
    assert fallbacks(cli) == 1 and read_revision(db_of(cli)) == SCHEMA_HEAD
    cli.ok("trends", "--json")
    assert fallbacks(cli) == 1  # the file now exists: read-only from here on


def test_an_older_schema_is_migrated_by_the_store_first(cli: Cli) -> None:
    db = db_of(cli)
    db.parent.mkdir(parents=True)
    database_at(db, "0004",
                "INSERT INTO runs (id, created_at, device, source, start, duration_s, distance_km, sport) "
                "VALUES ('r1', '2026-11-20 10:00:00.000000', 'd', 'cli', '2026-11-20 07:00:00.000000', 3000, 10, "
                "'running')")
    data: Any = cli.ok("trends", "--json").json()
    assert data["all_history"]["runs"] == 1 and fallbacks(cli) == 1
    assert read_revision(db) == SCHEMA_HEAD and list((cli.home / "data" / "backups").glob("pre-migrate-0004-*"))


def test_a_newer_schema_and_a_damaged_files_marker_are_refused_as_before(cli: Cli) -> None:
    open_store(db_of(cli)).close()
    kept = as_newer_version(db_of(cli))
    refused = cli("trends")
    assert refused.code != 0 and len(refused.err.splitlines()) == 1 and "newer" in refused.err, refused.err
    assert refused.out == "" and db_of(cli).read_bytes() == kept and fallbacks(cli) == 1
    assert cli("report").err == refused.err  # the words of every other command

    db_of(cli).unlink()
    open_store(db_of(cli)).close()
    marker_file(db_of(cli)).write_text("{}", encoding="utf-8")
    damaged = cli("trends", "--json")
    assert damaged.code != 0 and damaged.err == cli("report").err and fallbacks(cli) == 2


def lock(db: Path) -> sqlite3.Connection:
    """A writer holding the file in exclusive locking mode: no other connection can read it."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("INSERT INTO meta(key, value) VALUES ('held', 'by the test')")
    return conn


def test_a_busy_file_waits_for_the_store_as_before(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Locked for a moment: the store waits and answers (what the read-only path would have said);
    locked for longer than the store waits: today's one line saying so."""
    write_synthetic(cli.home, date(2026, 11, 2), date(2026, 11, 24), seed=2, until=cli.clock.now())
    expected = cli.ok("trends", "--json").out
    holder = lock(db_of(cli))
    threading.Timer(0.5, holder.close).start()  # exclusive locking mode: held until closed
    answered = cli.ok("trends", "--json")
    assert answered.out == expected and fallbacks(cli) == 1
    holder.close()

    monkeypatch.setattr("posture_agent.store.sqlite_file.BUSY_TIMEOUT_MS", 300)  # the store's wait, shortened
    holder = lock(db_of(cli))
    try:
        busy = cli("trends")
    finally:
        holder.close()
    assert busy.code != 0 and "is busy" in busy.err and len(busy.err.splitlines()) == 1, busy.err
    assert busy.out == "" and fallbacks(cli) == 2


def plan_of_exposures(conn: sqlite3.Connection, count: Callable[[], object]) -> str:
    """SQLite's plan for the statement `count` runs on `conn` that joins runs and check-ins."""
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        count()
    finally:
        conn.set_trace_callback(None)
    statement = next(sql for sql in seen if "count(" in sql.lower() and "JOIN checkins" in sql)
    return " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}"))


def test_every_source_counts_through_the_at_index(cli: Cli) -> None:
    """Each run's check-ins are searched by time for every source, in both reads: with `answered_by`
    compared bare, SQLite indexed it on the fly and scanned every check-in for each run (48 s for
    `--source user` on ten years). Plans, not timings: the figures are benchmarks/report_bench.py's."""
    write_synthetic(cli.home, date(2026, 11, 16), date(2026, 11, 24), seed=3, until=cli.clock.now())
    now = cli.clock.now()
    store = open_store(db_of(cli))
    try:
        for source in SOURCES:
            with store.transaction() as s:
                raw = s.connection.dbapi_connection
                assert isinstance(raw, sqlite3.Connection)
                slow = plan_of_exposures(raw, partial(q.exposures, s, None, now, source))
            with reads.read_only(db_of(cli)) as conn:
                fast = plan_of_exposures(conn, partial(reads.exposures, conn, now, source))
            for plan in (slow, fast):
                assert "SEARCH c" in plan and "ix_checkins_at" in plan and "AUTOMATIC" not in plan, (source, plan)
    finally:
        store.close()


def test_a_damaged_file_is_moved_aside_by_the_store_as_before(cli: Cli) -> None:
    """Pages the read-only path's quick_check finds damaged: the store moves the file aside and says
    so in today's one line, as for any command."""
    for _ in range(30):
        cli.ok("checkin", "upright")
    conn = sqlite3.connect(db_of(cli))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    damage_pages(db_of(cli))
    damaged = cli("trends", "--json")
    assert damaged.code == 3 and len(damaged.err.splitlines()) == 1 and "damaged" in damaged.err, damaged.err
    assert damaged.out == "" and fallbacks(cli) == 1
    assert not db_of(cli).exists() and list((cli.home / "data").glob("posture-agent-damaged-*.db"))
