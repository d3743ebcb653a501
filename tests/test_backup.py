"""Backups through SQLite's backup API, the last 7 daily ones kept, and restores that check the file
and keep the current database aside."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from posture_agent.paths import Paths
from posture_agent.store.backup import daily_backup, latest_good_backup
from tests.conftest import Cli, as_newer_version

BERLIN = ZoneInfo("Europe/Berlin")


def checkin_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM checkins")}
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_daily_backup_one_per_local_day_keeps_seven_and_spares_pre_migration(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    pre = paths.backup_dir / "pre-migrate-none-20200101T000000Z.db"
    paths.backup_dir.mkdir(exist_ok=True)
    pre.write_bytes((paths.db_file).read_bytes())
    start = datetime(2026, 11, 1, 23, 30, tzinfo=BERLIN)
    made = []
    for day in range(10):
        now = start + timedelta(days=day)
        first = daily_backup(paths, now)
        assert first is not None and first.name == f"daily-{now.date().isoformat()}.db"
        assert daily_backup(paths, now + timedelta(minutes=20)) is None  # same local day: nothing new
        made.append(first)
    daily = sorted(p.name for p in paths.backup_dir.glob("daily-*.db"))
    assert daily == [p.name for p in made[-7:]]
    assert pre.exists()
    assert mode(paths.backup_dir) == 0o700
    assert all(mode(p) == 0o600 for p in paths.backup_dir.glob("*.db") if p != pre)


def test_daily_backup_uses_the_local_day_across_midnight_utc(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    # 23:30 UTC on the 28th is already the 29th in Berlin (the DST-change day, 2026-03-29)
    now = datetime(2026, 3, 28, 23, 30, tzinfo=ZoneInfo("UTC"))
    made = daily_backup(paths, now, BERLIN)
    assert made is not None and made.name == "daily-2026-03-29.db"


def test_backup_is_consistent_with_uncheckpointed_wal(cli: Cli) -> None:
    """Committed answers that still live only in the -wal file are in the backup."""
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    holder = sqlite3.connect(paths.db_file)  # an open reader keeps the WAL from being folded back
    holder.execute("PRAGMA wal_autocheckpoint=0")
    holder.execute("SELECT count(*) FROM checkins").fetchone()
    for _ in range(5):
        cli.ok("checkin", "slouched")
    wal = paths.db_file.with_name(paths.db_file.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    made = cli.ok("backup").out.strip()
    holder.close()
    backup = Path(made)
    assert checkin_ids(backup) == checkin_ids(paths.db_file) and len(checkin_ids(backup)) == 6
    assert not backup.with_name(backup.name + "-wal").exists()
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file
    conn.close()
    assert mode(backup) == 0o600


def test_backup_without_database_is_one_line(cli: Cli) -> None:
    result = cli("backup")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "nothing to back up" in result.err


def test_restore_round_trip_keeps_current_aside(cli: Cli) -> None:
    first = cli.ok("--json", "checkin", "upright").json()["id"]  # type: ignore[index]
    backup = Path(cli.ok("backup").out.strip())
    later = cli.ok("--json", "checkin", "slouched").json()["id"]  # type: ignore[index]
    paths = Paths.resolve(cli.home)
    result = cli.ok("--json", "restore", str(backup)).json()
    assert isinstance(result, dict)
    assert checkin_ids(paths.db_file) == {first}
    previous = Path(result["previous_kept_as"])
    assert previous.exists() and checkin_ids(previous) == {first, later}  # nothing deleted
    assert backup.exists()
    conn = sqlite3.connect(paths.db_file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert mode(paths.db_file) == 0o600
    # the restored database is usable straight away
    cli.ok("checkin", "standing")
    assert len(checkin_ids(paths.db_file)) == 2


def test_restore_refuses_bad_files_and_touches_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.ok("checkin", "upright")
    before = cli.db_dump()
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    newer = tmp_path / "newer.db"
    newer.write_bytes(Path(cli.ok("backup").out.strip()).read_bytes())
    as_newer_version(newer)
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(newer.read_bytes()[:5000])
    cases = {
        str(tmp_path / "missing.db"): "does not exist",
        str(tmp_path): "is a folder",
        str(text): "not a SQLite database",
        str(other): "not a posture-agent one",
        str(newer): "newer posture-agent",
        str(truncated): "",
    }
    for path, expected in cases.items():
        result = cli("restore", path)
        assert result.code != 0, path
        assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
        assert expected in result.err
        assert cli.db_dump() == before
    assert not list((cli.home / "data" / "backups").glob("before-restore-*"))
    assert cli("restore").code == 2
    assert cli("restore", "x.db", "--fresh").code == 2


def test_latest_good_backup_skips_damaged_ones(cli: Cli) -> None:
    cli.ok("checkin", "upright")
    paths = Paths.resolve(cli.home)
    good = Path(cli.ok("backup").out.strip())
    bad = paths.backup_dir / "backup-29991231-000000.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    os.utime(bad, (good.stat().st_mtime + 100, good.stat().st_mtime + 100))
    assert latest_good_backup(paths.backup_dir) == good
    listing = cli.ok("--json", "backup", "--list").json()
    assert isinstance(listing, dict)
    assert [b["ok"] for b in listing["backups"]] == [False, True]
