"""The watched import folder: new files are imported once, the index makes rescans cheap, changed
files are read again, and the index survives in the database (migration 0002)."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from posture_agent.agent.runtime import Agent
from posture_agent.clock import FixedClock
from posture_agent.config import load_settings
from posture_agent.errors import UserError
from posture_agent.importers.folder import scan_folder
from posture_agent.journal import Journal
from posture_agent.paths import Paths
from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD
from tests.importers.conftest import write_gpx

START = datetime(2026, 11, 18, 6, 30, tzinfo=UTC)


def test_new_files_are_imported_once(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "sync"
    (folder / "2026" / "11").mkdir(parents=True)
    write_gpx(folder / "a.gpx", START, 50, 10.0)
    write_gpx(folder / "2026" / "11" / "b.gpx", START + timedelta(days=1), 40, 8.0)
    write_gpx(folder / "bike.gpx", START + timedelta(days=2), 60, 30.0, sport="cycling")
    (folder / "notes.txt").write_text("not an activity")
    write_gpx(folder / ".hidden.gpx", START + timedelta(days=3), 30, 6.0)
    first = scan_folder(journal, folder, settle_seconds=0)
    assert sorted((Path(o.path).name, o.status) for o in first) == [
        ("a.gpx", "imported"), ("b.gpx", "imported"), ("bike.gpx", "skipped"),
    ]
    assert len(journal.runs()) == 2
    assert scan_folder(journal, folder, settle_seconds=0) == []
    assert len(journal.runs()) == 2


def test_the_agent_imports_from_the_folder_its_config_names(tmp_path: Path, clock: FixedClock, tz: str) -> None:
    folder = tmp_path / "sync"
    folder.mkdir()
    path = write_gpx(folder / "a.gpx", START, 50, 10.0)
    settled = path.stat().st_mtime_ns - 3600 * 10**9  # older than the settle time: a finished sync
    os.utime(path, ns=(settled, settled))
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[general]\ntimezone = "{tz}"\n[import]\nfolder = "{folder}"\n')
    paths = Paths.resolve(home)
    paths.make_dirs()
    store = open_store(paths.db_file, paths.backup_dir)
    try:
        agent = Agent(paths, load_settings(paths.config_file), store, clock)
        agent.import_folder()
        assert [round(run.distance_km) for run in agent.journal.runs()] == [10]
    finally:
        store.close()


def test_rescan_trusts_the_index_and_does_not_read_seen_files(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "sync"
    folder.mkdir()
    path = write_gpx(folder / "a.gpx", START, 50, 10.0)
    scan_folder(journal, folder, settle_seconds=0)
    stat = path.stat()
    # Same size and modification time, unreadable content: a rescan that read it would fail.
    path.write_bytes(b"\0" * stat.st_size)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert scan_folder(journal, folder, settle_seconds=0) == []


def test_a_changed_file_is_read_again(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "sync"
    folder.mkdir()
    path = folder / "a.gpx"
    path.write_text("<gpx><trk>", encoding="utf-8")  # a sync still in progress
    [first] = scan_folder(journal, folder, settle_seconds=0)
    assert first.status == "failed"
    assert scan_folder(journal, folder, settle_seconds=0) == []  # a failure is reported once
    write_gpx(path, START, 50, 10.0)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns - 5 * 10**9))
    [second] = scan_folder(journal, folder, settle_seconds=0)
    assert second.status == "imported"


def test_a_file_still_being_written_waits_for_the_next_scan(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "sync"
    folder.mkdir()
    write_gpx(folder / "a.gpx", START, 50, 10.0)
    now = time.time_ns()  # the scan's clock: under libfaketime the file's own time is the real one
    os.utime(folder / "a.gpx", ns=(now, now))
    assert scan_folder(journal, folder, settle_seconds=3600) == []
    assert [o.status for o in scan_folder(journal, folder, settle_seconds=0)] == ["imported"]


def test_a_missing_folder_is_a_clear_error(journal: Journal, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"import folder .*nowhere does not exist"):
        scan_folder(journal, tmp_path / "nowhere")


def test_the_index_lives_in_the_database(journal: Journal, tmp_path: Path) -> None:
    folder = tmp_path / "sync"
    folder.mkdir()
    write_gpx(folder / "a.gpx", START, 50, 10.0)
    scan_folder(journal, folder, settle_seconds=0)
    conn = sqlite3.connect(journal.store.db_file)
    try:
        rows = conn.execute("SELECT path, status FROM import_files").fetchall()
    finally:
        conn.close()
    assert rows == [(str((folder / "a.gpx").absolute()), "imported")]


def test_a_version_1_database_with_runs_is_migrated(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    db = tmp_path / "old.db"
    cfg = Config()
    cfg.set_main_option("script_location", "posture_agent.store:migrations")
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db}")
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO runs (id, created_at, device, source, start, duration_s, distance_km, sport) "
            "VALUES ('r1', '2026-11-01 10:00:00', 'pc', 'cli', '2026-11-01 09:00:00', 3000, 10, 'running')"
        )
    engine.dispose()
    store = open_store(db, tmp_path / "backups")
    store.close()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (SCHEMA_HEAD,)
        assert conn.execute("SELECT id FROM runs").fetchall() == [("r1",)]
        assert conn.execute("SELECT count(*) FROM import_files").fetchone() == (0,)
    finally:
        conn.close()
    assert list((tmp_path / "backups").glob("pre-migrate-0001-*.db")), "a backup is taken before migrating"
