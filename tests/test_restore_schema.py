"""A restored backup is posture-agent's own schema and nothing else: a trigger, a view, a virtual or
extra table, an extra, changed or missing index or table is refused with one line naming it, on real
SQLite files; `doctor` names such objects in the live database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from posture_agent.store.migrate import SCHEMA_HEAD, make_schema
from posture_agent.store.schema import foreign_objects_in_file
from tests.conftest import Cli

WIPE_RUNS = "CREATE TRIGGER wipe AFTER INSERT ON checkins BEGIN DELETE FROM runs; END"


def fts5() -> bool:
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE v USING fts5(a)")
    except sqlite3.OperationalError:
        return False
    return True


def with_history(cli: Cli) -> Path:
    """A run and a check-in, then a backup of them; returns the backup."""
    cli.ok("run", "add", "--distance-km", "12", "--duration", "1:05:00", "--at", "2026-11-24T18:00")
    cli.ok("checkin", "upright")
    return Path(cli.ok("backup").out.strip())


def altered(source: Path, target: Path, *statements: str) -> Path:
    shutil.copyfile(source, target)
    conn = sqlite3.connect(target)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return target


def run_count(cli: Cli) -> int:
    conn = sqlite3.connect(cli.home / "data" / "posture-agent.db")
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        conn.close()


CASES = {
    "trigger": ((WIPE_RUNS,), "a trigger 'wipe' on 'checkins' that posture-agent does not make"),
    "view": (("CREATE VIEW recent AS SELECT * FROM runs",), "a view 'recent' that posture-agent does not make"),
    "extra table": (("CREATE TABLE notes (x)",), "a table 'notes' that posture-agent does not make"),
    "extra index": (("CREATE INDEX ix_sport ON runs (sport)",), "an index 'ix_sport' on 'runs' that"),
    "changed table": (("ALTER TABLE runs ADD COLUMN note TEXT DEFAULT 'x'",), "a table 'runs' unlike posture-agent's"),
    "missing index": (("DROP INDEX ix_runs_start",), "no index 'ix_runs_start' on 'runs'"),
    "a name with a newline": (('CREATE VIEW "evil\nview" AS SELECT 1',), r"a view 'evil\nview'"),
    "two objects": ((WIPE_RUNS, "CREATE VIEW recent AS SELECT 1"), "'checkins' that posture-agent does not make "
                    "(and 1 more schema object)"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_backup_with_foreign_schema_objects_is_refused_naming_one(cli: Cli, tmp_path: Path, case: str) -> None:
    statements, expected = CASES[case]
    backup = altered(with_history(cli), tmp_path / "hostile.db", *statements)
    before = cli.db_dump()
    result = cli("restore", str(backup))
    assert result.code == 2, result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert "is not posture-agent's own schema: it holds " in result.err and expected in result.err, result.err
    assert result.err.rstrip().endswith("not restored")
    assert cli.db_dump() == before, "nothing changed"
    assert not list((cli.home / "data" / "backups").glob("before-restore-*"))
    cli.ok("checkin", "slouched")
    assert run_count(cli) == 1


@pytest.mark.skipif(not fts5(), reason="this SQLite has no FTS5 module to make a virtual table with")
def test_a_backup_with_a_virtual_table_is_refused(cli: Cli, tmp_path: Path) -> None:
    backup = altered(with_history(cli), tmp_path / "fts.db", "CREATE VIRTUAL TABLE search USING fts5(sport)")
    result = cli("restore", str(backup))
    assert result.code == 2 and "a virtual table 'search' that posture-agent does not make" in result.err
    assert "(and 5 more schema objects)" in result.err, result.err  # FTS5's own shadow tables


def test_the_apps_own_backup_restores_and_the_trigger_would_have_wiped_the_runs(cli: Cli, tmp_path: Path) -> None:
    """What the refusal prevents, shown on a copy opened without the check: one check-in deletes
    every run. The app's own backup restores as before."""
    backup = with_history(cli)
    hostile = altered(backup, tmp_path / "hostile.db", WIPE_RUNS)
    conn = sqlite3.connect(hostile)
    with conn:
        conn.execute("INSERT INTO checkins (at, context, posture, prompted, id, created_at, device, source) "
                     "SELECT at, context, posture, prompted, id || 'x', created_at, device, source FROM checkins")
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    conn.close()
    assert foreign_objects_in_file(backup, SCHEMA_HEAD) == []
    cli.ok("restore", str(backup))
    cli.ok("checkin", "slouched")
    assert run_count(cli) == 1


def older(tmp_path: Path, revision: str, *statements: str) -> Path:
    """A database at an older schema revision, made by the migrations, with `statements` run on it."""
    db = tmp_path / f"old-{revision}-{len(statements)}.db"
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            make_schema(conn, revision)
            conn.exec_driver_sql("INSERT INTO meta(key, value) VALUES ('device_id', 'abcdef123456')")
            for statement in statements:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()
    return db


def test_an_older_backup_is_checked_against_its_own_revision(cli: Cli, tmp_path: Path) -> None:
    cli.ok("checkin", "upright")
    plain = older(tmp_path, "0001")
    hostile = older(tmp_path, "0001", "CREATE TRIGGER wipe AFTER INSERT ON checkins BEGIN DELETE FROM runs; END")
    result = cli("restore", str(hostile))
    assert result.code == 2 and "a trigger 'wipe' on 'checkins'" in result.err, result.err
    restored = cli.ok("--json", "restore", str(plain)).json()
    assert isinstance(restored, dict) and restored["migrated_from"] == "0001", restored


def test_doctor_names_a_foreign_object_in_the_live_database(cli: Cli) -> None:
    with_history(cli)
    report = cli("--json", "doctor").json()  # other checks (no desktop here) may fail
    assert isinstance(report, dict)
    schema = next(c for c in report["checks"] if c["check"] == "schema")
    assert schema["ok"], schema
    altered_in_place = cli.home / "data" / "posture-agent.db"
    conn = sqlite3.connect(altered_in_place)
    conn.execute(WIPE_RUNS)
    conn.commit()
    conn.close()
    result = cli("doctor")
    assert result.code == 1
    lines = result.out.splitlines()
    assert any("integrity ok" in line for line in lines), "the file itself is sound"
    bad = [line for line in lines if line.lstrip().startswith("BAD schema")]
    assert len(bad) == 1 and "a trigger 'wipe' on 'checkins' that posture-agent does not make" in bad[0], lines
    assert any("DROP TRIGGER" in line for line in lines)
