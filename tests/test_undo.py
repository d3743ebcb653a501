"""Forgiving input: untick a drill, delete and edit a run, undo the last record. What is taken back
is a tombstone: gone from every figure, and never brought back by a backup, a restore or a merge."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.store.sqlite_file import read_revision
from tests.conftest import Cli
from tests.test_store import database_at
from tests.test_sync import Home, full_round, pair  # noqa: F401  (`pair` is a fixture)

WEEK = "2026-W48"  # Mon 23 Nov to Sun 29 Nov 2026; the pinned clock is Wed 25 Nov 12:00 Berlin


def digest(db: Path) -> str:
    """Every row of every table, hashed: the same digest means nothing was added, changed or lost."""
    conn = sqlite3.connect(db)
    try:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    finally:
        conn.close()


def db_of(cli: Cli) -> Path:
    return cli.home / "data" / "posture-agent.db"


def data(result: Any) -> dict[str, Any]:
    value: dict[str, Any] = result.json()
    return value


def week(cli: Cli) -> dict[str, Any]:
    return data(cli.ok("--json", "report", "--week", WEEK))


def add_run(cli: Cli, km: str = "10", at: str = "2026-11-24T07:00") -> str:
    return str(data(cli.ok("--json", "run", "add", "--distance-km", km, "--duration", "55:00", "--at", at))["id"])


def test_tick_then_untick_a_drill(cli: Cli) -> None:
    cli.ok("drill", "done", "chin-tuck", "--at", "2026-11-25T07:40")
    cli.clock.advance(minutes=1)
    out = cli.ok("drill", "untick", "chin-tuck").out
    assert out.strip() == "Unticked: chin-tuck (ticked 07:40)"
    drills = data(cli.ok("--json", "drills"))["drills"]
    assert not next(d for d in drills if d["name"] == "chin-tuck")["done"]
    assert week(cli)["drills"]["done"] == 0
    # a tick of another day is not today's: refused, nothing written
    cli.ok("drill", "done", "chin-tuck", "--at", "2026-11-24T07:40")
    before = digest(db_of(cli))
    bad = cli("drill", "untick", "chin-tuck")
    assert bad.code == 2 and bad.err.strip().count("\n") == 0 and "chin-tuck is not ticked on Wed 25 Nov" in bad.err
    assert digest(db_of(cli)) == before
    done = data(cli.ok("--json", "drill", "untick", "chin-tuck", "--at", "2026-11-24T12:00"))
    assert [d["drill"] for d in done["removed"]] == ["chin-tuck"]


def test_run_delete_leaves_every_figure(cli: Cli) -> None:
    rid = add_run(cli)
    assert week(cli)["runs"]["count"] == 1
    cli.clock.advance(minutes=1)
    out = cli.ok("run", "delete", rid[:8]).out
    assert out.strip() == f"Deleted run {rid[:8]}: 10 km in 55:00, Tue 24 Nov 07:00."
    assert week(cli)["runs"] == {"count": 0, "distance_km": 0, "duration_s": 0, "items": []}
    assert data(cli.ok("--json", "run", "list"))["runs"] == []
    assert data(cli.ok("--json", "export", "--format", "json"))["records"] == []
    assert data(cli.ok("--json", "trends"))  # reads the whole history without it
    # the row is still in the file, named by a tombstone
    conn = sqlite3.connect(db_of(cli))
    try:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (1,)
        assert conn.execute("SELECT record_table, record_id FROM tombstones").fetchall() == [("runs", rid)]
    finally:
        conn.close()


@pytest.mark.parametrize("args", [["run", "delete", "deadbeef"], ["run", "edit", "deadbeef", "--distance-km", "5"],
                                  ["run", "delete", "%"], ["run", "edit", "not-an-id", "--distance-km", "5"]])
def test_an_unknown_id_is_one_line_and_nothing_is_written(cli: Cli, args: list[str]) -> None:
    add_run(cli)
    before = digest(db_of(cli))
    result = cli(*args)
    assert result.code == 2, result
    assert result.out == ""
    line = result.err.strip()
    assert "\n" not in line and f"no run with id {args[2]!r}" in line
    assert digest(db_of(cli)) == before


def test_a_deleted_run_cannot_be_deleted_or_edited_again(cli: Cli) -> None:
    rid = add_run(cli)
    cli.ok("run", "delete", rid)
    before = digest(db_of(cli))
    for args in (["run", "delete", rid], ["run", "edit", rid, "--distance-km", "3"]):
        result = cli(*args)
        assert result.code == 2 and f"no run with id '{rid}'" in result.err
    assert digest(db_of(cli)) == before


def test_run_edit_changes_the_figure_and_keeps_the_soreness_link(cli: Cli) -> None:
    rid = add_run(cli)
    sore = data(cli.ok("--json", "soreness", "--upper-back", "4", "--at", "2026-11-24T10:00"))
    assert sore["run_id"] == rid
    cli.clock.advance(minutes=1)
    result = cli.ok("run", "edit", rid[:8], "--distance-km", "12.5", "--duration", "1:05:00")
    new = data(cli.ok("--json", "run", "list"))["runs"]
    assert len(new) == 1 and new[0]["id"] != rid and new[0]["distance_km"] == 12.5
    assert new[0]["id"][:8] == rid[:8], "the run keeps the id a user sees"
    assert result.out.strip() == (f"Run {rid[:8]} changed: 12.5 km in 1:05:00, "
                                  "Tue 24 Nov 07:00 (was 10 km in 55:00, Tue 24 Nov 07:00).")
    assert cli.ok("run", "list").out.count(rid[:8]) == 1
    again = data(cli.ok("--json", "run", "edit", rid, "--distance-km", "12.5"))  # the full old id still finds it
    assert again["replaces"] == new[0]["id"] and again["id"][:8] == rid[:8]
    new = data(cli.ok("--json", "run", "list"))["runs"]
    runs = week(cli)["runs"]
    assert runs["count"] == 1 and runs["distance_km"] == 12.5 and runs["duration_s"] == 3900
    assert runs["items"][0]["soreness"]["upper_back"] == 4
    exported = data(cli.ok("--json", "export", "--format", "json"))["records"]
    assert next(x for x in exported if x["type"] == "soreness")["run_id"] == new[0]["id"]
    # the start moves too; a bad value is refused with nothing written
    moved = data(cli.ok("--json", "run", "edit", new[0]["id"], "--at", "2026-11-23T18:00"))
    assert moved["start_local"] == "2026-11-23T18:00:00+01:00" and moved["replaces"] == new[0]["id"]
    before = digest(db_of(cli))
    for bad in (["--distance-km", "0"], ["--duration", "1000h"], [], ["--at", "2026-11-30T07:00"]):
        assert cli("run", "edit", moved["id"], *bad).code == 2
    assert digest(db_of(cli)) == before


def test_undo_takes_back_the_last_record_of_each_kind(cli: Cli) -> None:
    steps: list[tuple[list[str], str]] = [
        (["checkin", "slouched", "--at", "2026-11-25T10:00"], "Removed check-in: slouched at the desk, 10:00."),
        (["drill", "done", "chin-tuck", "wall-alignment"],
         "Removed drills: chin-tuck, 12:00; wall-alignment, 12:00."),
        (["circuit", "done", "--at", "2026-11-24T18:40"], "Removed circuit: 2 rounds, Tue 24 Nov 18:40."),
        (["run", "add", "--distance-km", "8", "--duration", "45:00", "--at", "2026-11-24T07:00"], "Removed run: "),
        (["soreness", "--mid-back", "3", "--at", "2026-11-24T09:00"], "Removed soreness report: mid back 3, "
         "Tue 24 Nov 09:00."),
    ]
    empty = week(cli)
    for args, _ in steps:
        cli.ok(*args)
        cli.clock.advance(seconds=5)
    for _, line in reversed(steps):
        out = cli.ok("undo").out.strip()
        assert out.startswith(line), out
        cli.clock.advance(seconds=5)
    after = week(cli)
    assert after["checkins"] == empty["checkins"] and after["runs"]["count"] == 0
    assert after["drills"]["done"] == 0 and after["circuits"]["done"] == 0
    assert after["soreness_after_runs"] == empty["soreness_after_runs"]
    before = digest(db_of(cli))
    result = cli("undo")
    assert result.code == 2 and result.err.strip() == "posture-agent: nothing to undo: no record made on this computer"
    assert digest(db_of(cli)) == before


def test_undo_json_and_undo_of_an_edit_puts_the_run_back(cli: Cli) -> None:
    rid = add_run(cli)
    cli.clock.advance(minutes=1)
    edited = data(cli.ok("--json", "run", "edit", rid, "--distance-km", "15"))
    cli.clock.advance(minutes=1)
    undone = data(cli.ok("--json", "undo"))
    assert undone["kind"] == "run" and undone["records"][0]["id"] == edited["id"]
    assert undone["restored"]["distance_km"] == 10 and undone["restored"]["start"] == "2026-11-24T06:00:00+00:00"
    assert [r["distance_km"] for r in data(cli.ok("--json", "run", "list"))["runs"]] == [10]
    # the next undo takes back the run itself (not the edit again)
    cli.clock.advance(minutes=1)
    assert data(cli.ok("--json", "undo"))["records"][0]["distance_km"] == 10
    assert data(cli.ok("--json", "run", "list"))["runs"] == []


def test_undone_stays_undone_after_backup_and_restore(cli: Cli) -> None:
    keep = add_run(cli, "5", "2026-11-23T07:00")
    cli.clock.advance(minutes=1)
    gone = add_run(cli)
    cli.clock.advance(minutes=1)
    cli.ok("undo")
    backup = Path(data(cli.ok("--json", "backup"))["path"])
    cli.clock.advance(minutes=1)
    cli.ok("restore", str(backup))
    ids = [r["id"] for r in data(cli.ok("--json", "run", "list"))["runs"]]
    assert ids == [keep] and gone not in ids
    assert week(cli)["runs"]["count"] == 1


def test_an_undone_record_stays_undone_after_a_merge(pair: tuple[Home, Home]) -> None:  # noqa: F811
    """Deleted at work while the sofa still has it: gone on both after the merge, in either order."""
    work, sofa = pair
    rid = add_run(work.cli)
    work.cli.ok("checkin", "slouched", "--at", "2026-11-25T11:00")
    full_round(work, sofa)
    assert [r["id"] for r in data(sofa.cli.ok("--json", "run", "list"))["runs"]] == [rid]
    work.clock.advance(minutes=1)
    work.cli.ok("run", "delete", rid[:8])
    work.cli.ok("undo")  # the 11:00 check-in
    sofa.cli.ok("drill", "done", "chin-tuck")
    sofa.clock.advance(minutes=1)
    sofa.cli.ok("drill", "untick", "chin-tuck")
    full_round(work, sofa)
    for h in (work, sofa):
        assert data(h.cli.ok("--json", "run", "list"))["runs"] == [], h.name
        report = week(h.cli)
        assert report["runs"]["count"] == 0 and report["drills"]["done"] == 0
        assert report["checkins"]["by_context"]["desk"]["slouched"] == 0, h.name
    assert work.rows() == sofa.rows()
    again = full_round(work, sofa)
    assert all(x["written"] == 0 and x["merged"] == 0 for x in again)


def test_an_edit_merges_to_the_same_run_on_both_computers(pair: tuple[Home, Home]) -> None:  # noqa: F811
    work, sofa = pair
    rid = add_run(work.cli)
    full_round(work, sofa)
    sofa.clock.advance(minutes=1)
    new = data(sofa.cli.ok("--json", "run", "edit", rid, "--distance-km", "11"))["id"]
    full_round(work, sofa)
    for h in (work, sofa):
        assert [(r["id"], r["distance_km"]) for r in data(h.cli.ok("--json", "run", "list"))["runs"]] == [(new, 11)]


def test_the_same_run_edited_on_both_computers_merges_to_the_later_edit(pair: tuple[Home, Home]) -> None:  # noqa: F811
    """Edited at work, then on the sofa, before they merged: both show the sofa's edit, one run."""
    work, sofa = pair
    rid = add_run(work.cli)
    full_round(work, sofa)
    work.clock.advance(minutes=1)
    work.cli.ok("run", "edit", rid, "--distance-km", "11")
    sofa.clock.advance(minutes=2)
    later = data(sofa.cli.ok("--json", "run", "edit", rid, "--distance-km", "12"))["id"]
    full_round(work, sofa)
    for h in (work, sofa):
        assert [(r["id"], r["distance_km"]) for r in data(h.cli.ok("--json", "run", "list"))["runs"]] == [(later, 12)]
        assert week(h.cli)["runs"]["count"] == 1, h.name


def test_a_deleted_imported_run_is_not_imported_again_and_undo_leaves_imports(cli: Cli, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from tests.importers.conftest import write_gpx

    path = write_gpx(tmp_path / "morning.gpx", datetime(2026, 11, 20, 7, 0, tzinfo=UTC), minutes=50, km=10.0)
    [rid] = data(cli.ok("--json", "run", "import", str(path)))["files"][0]["run_ids"]
    cli.clock.advance(minutes=1)
    assert cli("undo").code == 2  # an imported run is not "the last record you made": run delete takes it
    cli.ok("run", "delete", rid)
    again = data(cli.ok("--json", "run", "import", str(path)))["files"][0]
    assert again["status"] == "already_imported" and "since deleted or edited" in again["activities"][0]["detail"]
    assert data(cli.ok("--json", "run", "list"))["runs"] == []


def test_a_real_process_undo_and_bad_id(cli: Cli) -> None:
    """The installed entry point: exit codes and one line on stderr, as scripts see them."""
    add_run(cli)
    env_home = ["--home", str(cli.home)]
    bad = subprocess.run([sys.executable, "-m", "posture_agent", *env_home, "run", "delete", "abc123"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == ["posture-agent: no run with id 'abc123' (see `posture-agent run list`)"]
    ok = subprocess.run([sys.executable, "-m", "posture_agent", *env_home, "--json", "undo"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and '"kind": "run"' in ok.stdout


def test_migration_0004_adds_tombstones_to_an_older_file(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    database_at(db, "0003", "INSERT INTO runs (id, created_at, device, source, start, duration_s, distance_km, "
                "sport) VALUES ('r1', '2026-01-01', 'd', 'cli', '2026-01-01 07:00:00', 3000, 10, 'running')")
    open_store(db, tmp_path / "backups").close()
    assert read_revision(db) == SCHEMA_HEAD
    conn2 = sqlite3.connect(db)
    try:
        assert conn2.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        assert conn2.execute("SELECT count(*) FROM tombstones").fetchone() == (0,)
        assert conn2.execute("SELECT name FROM sqlite_master WHERE name = 'ix_tombstones_record_id'").fetchall()
    finally:
        conn2.close()
