"""The SQLite store: migrations from empty and with data, refusal of a newer schema, pragmas."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from posture_agent.errors import StoreError
from posture_agent.store import migrate as store_migrate
from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD, alembic_config
from posture_agent.store.sqlite_file import read_revision
from tests.conftest import Cli, as_newer_version, modules_after


def database_at(db: Path, revision: str, *statements: str) -> None:
    """A database file left at an older `revision` by its migrations, with `statements` run in it."""
    from alembic import command
    from sqlalchemy import create_engine

    cfg = alembic_config()
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            for sql in statements:
                conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def test_schema_head_matches_the_migrations_folder() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_current_head() == SCHEMA_HEAD


def test_new_database_is_created_at_head_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    db = tmp_path / "data" / "posture-agent.db"
    store = open_store(db)
    try:
        assert read_revision(db) == SCHEMA_HEAD
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
            indexes = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        store.close()
    assert {"checkins", "drill_completions", "circuits", "runs", "soreness_reports", "prompts", "meta"} <= tables
    assert {"ix_checkins_at", "ix_runs_start", "ix_soreness_reports_at"} <= indexes
    assert not any(p.name.startswith("pre-migrate") for p in (tmp_path / "data").rglob("*"))
    assert (db.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("name", ["hé llo?#%x", "a?mode=memory", "b#c"])
def test_a_home_with_url_characters_in_its_name_keeps_the_records_inside_it(
    tmp_path: Path, clock: object, capsys: pytest.CaptureFixture[str], tz: str, name: str
) -> None:
    """"?" and "#" end a URL's path: a database URL pasted from the path wrote every record into a
    file cut at that character, outside the data folder; the records go into the home's own file."""
    home = tmp_path / "x" / name
    home.mkdir(parents=True)
    (home / "config.toml").write_text(f'[general]\ntimezone = "{tz}"\n', encoding="utf-8")
    cli = Cli(home, clock, capsys, tz)  # type: ignore[arg-type]
    cli.ok("checkin", "slouched")
    conn = sqlite3.connect(home / "data" / "posture-agent.db")
    try:
        assert conn.execute("SELECT posture FROM checkins").fetchall() == [("slouched",)]
    finally:
        conn.close()
    backup = Path(cli.ok("backup").out.strip())  # read back by SQLite through a file: URI
    assert backup.is_relative_to(home)
    cli.ok("checkin", "upright")
    cli.ok("restore", str(backup))
    trends = cli.ok("--json", "trends").json()  # the read-only path, also a file: URI
    assert isinstance(trends, dict)
    assert "read through the store" not in (home / "logs" / "posture-agent.log").read_text()
    assert cli.ok("--json", "report").json()["checkins"]["answered"] == 1  # type: ignore[index]
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [name], "nothing written beside the home"


def test_database_with_data_is_migrated_after_a_backup_and_keeps_its_rows(tmp_path: Path) -> None:
    """Build the first schema revision by hand with a row in it, then open it with the current code."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    cfg = alembic_config()
    first = list(ScriptDirectory.from_config(cfg).walk_revisions())[-1].revision  # type: ignore[arg-type]
    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.upgrade(cfg, first)  # type: ignore[arg-type]
        conn.exec_driver_sql(
            "INSERT INTO checkins (id, created_at, device, source, at, context, posture, prompted) "
            "VALUES ('a', '2026-01-01 10:00:00', 'd', 'cli', '2026-01-01 10:00:00', 'desk', 'slouched', 0)"
        )
        conn.exec_driver_sql("DELETE FROM alembic_version")
        conn.exec_driver_sql(f"INSERT INTO alembic_version VALUES ('{first}')")
    engine.dispose()
    if first == SCHEMA_HEAD:  # one revision only: pretend the file predates Alembic's stamp
        conn2 = sqlite3.connect(db)
        conn2.execute("DROP TABLE alembic_version")
        conn2.commit()
        conn2.close()
        pytest.skip("only one schema revision exists: nothing older to migrate from yet")
    store = open_store(db, tmp_path / "backups")
    store.close()
    assert read_revision(db) == SCHEMA_HEAD
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT posture FROM checkins WHERE id='a'").fetchone() == ("slouched",)
    conn.close()
    backups = list((tmp_path / "backups").glob(f"pre-migrate-{first}-*.db"))
    assert len(backups) == 1
    kept = sqlite3.connect(backups[0])
    assert kept.execute("SELECT version_num FROM alembic_version").fetchone() == (first,)
    kept.close()


def test_database_from_a_newer_version_is_refused_and_untouched(tmp_path: Path) -> None:
    db = tmp_path / "posture-agent.db"
    open_store(db).close()
    before = as_newer_version(db)
    with pytest.raises(StoreError, match=r"newer posture-agent.*schema '9999'.*left untouched"):
        open_store(db, tmp_path / "backups")
    assert db.read_bytes() == before
    assert not (tmp_path / "backups").exists()


def test_newer_database_through_the_cli_is_one_line(cli: object, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import Cli

    assert isinstance(cli, Cli)
    cli.ok("checkin", "upright")
    db = cli.home / "data" / "posture-agent.db"
    as_newer_version(db)
    before = cli.db_dump()
    result = cli("checkin", "slouched")
    assert result.code == 3
    assert len(result.err.strip().splitlines()) == 1 and "newer posture-agent" in result.err
    assert cli.db_dump() == before


def test_naive_datetimes_are_refused_by_the_store(tmp_path: Path) -> None:
    from posture_agent.store import queries as q
    from posture_agent.store import tables as t

    store = open_store(tmp_path / "x.db")
    try:
        with pytest.raises(Exception, match="naive datetime"), store.transaction() as conn:
            q.add(conn, t.circuits, {"at": datetime(2026, 1, 1), "rounds": 2}, device="d", source="cli",
                  now=datetime.now(UTC))
    finally:
        store.close()


def test_a_new_database_is_the_file_the_migrations_make(tmp_path: Path) -> None:
    """store/fresh.py replays the head schema; after a new migration this fails until
    `python scripts/fresh_schema.py` writes it again."""
    from posture_agent.store import fresh
    from scripts.fresh_schema import migrated_schema, schema_of

    head, migrated = migrated_schema()
    assert head == fresh.REVISION == SCHEMA_HEAD
    db = tmp_path / "posture-agent.db"
    open_store(db).close()
    assert schema_of(db) == migrated  # every table, index and its SQL, in the same order
    assert read_revision(db) == SCHEMA_HEAD
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT count(*) FROM meta WHERE key IN ('created_at', 'device_id')").fetchone() == (2,)
    finally:
        conn.close()


def test_the_first_start_leaves_alembic_unloaded(tmp_path: Path) -> None:
    """A new home: the database is made without importing Alembic (the agent would keep it all day)."""
    loaded = modules_after(tmp_path, "checkin", "upright")
    assert {m.split(".")[0] for m in loaded} & {"alembic", "mako", "pygments"} == set()
    assert read_revision(tmp_path / "data" / "posture-agent.db") == SCHEMA_HEAD


def test_store_module_keeps_alembic_out_of_the_hot_path() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tempfile, pathlib\n"
        "from posture_agent.store.db import open_store\n"
        "d = pathlib.Path(tempfile.mkdtemp()) / 'x.db'\n"
        "open_store(d).close()\n"
        "for k in [k for k in sys.modules if k.startswith('alembic')]: del sys.modules[k]\n"
        "open_store(d).close()\n"
        "print(any(k.startswith('alembic') for k in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert store_migrate.SCHEMA_HEAD


def test_a_checkin_process_loads_neither_the_orm_nor_alembic(tmp_path: Path) -> None:
    """What keeps `checkin` within budget as a whole process (benchmarks/checkin_bench.py)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from posture_agent.cli import main\n"
        f"home = {str(tmp_path)!r}\n"
        "main(['--home', home, 'checkin', 'upright'])\n"
        "for k in [k for k in sys.modules if k.startswith(('alembic', 'sqlalchemy.orm'))]: del sys.modules[k]\n"
        "main(['--home', home, 'checkin', 'slouched'])\n"
        "print(sorted({k.split('.')[0] + '.' + k.split('.')[1] for k in sys.modules\n"
        "       if k.startswith(('alembic.', 'sqlalchemy.orm'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_migration_0003_keeps_the_prompts_and_lets_them_end_away(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    cfg = alembic_config()
    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}")
    row = ("p1", "2026-01-01 10:00:00", "d", "prompt", "checkin-desk", "2026-01-01 09:45:00", "desk",
           "2026-01-01 09:45:01", "missed")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
        command.upgrade(cfg, "0002")
        conn.exec_driver_sql(
            "INSERT INTO prompts (id, created_at, device, source, kind, due, context, shown_at, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row,
        )
        with pytest.raises(Exception, match="CHECK constraint failed"), conn.begin_nested():
            conn.exec_driver_sql("UPDATE prompts SET outcome = 'away'")
    engine.dispose()
    open_store(db, tmp_path / "backups").close()
    assert read_revision(db) == SCHEMA_HEAD
    conn2 = sqlite3.connect(db)
    try:
        assert conn2.execute("SELECT id, created_at, device, source, kind, due, context, shown_at, outcome "
                             "FROM prompts").fetchall() == [row]
        conn2.execute("INSERT INTO prompts (id, created_at, device, source, kind, due, context, shown_at, outcome) "
                      "VALUES ('p2', '2026-01-01', 'd', 'prompt', 'checkin-desk', '2026-01-01 10:30:00', 'desk', "
                      "NULL, 'away')")
        with pytest.raises(sqlite3.IntegrityError):
            conn2.execute("UPDATE prompts SET outcome = 'gone' WHERE id = 'p2'")
        assert conn2.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'prompts' "
                             "AND name = 'ix_prompts_due'").fetchall() == [("ix_prompts_due",)]
    finally:
        conn2.close()
