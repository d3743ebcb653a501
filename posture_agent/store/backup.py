"""Backups and restores of the database, always through SQLite's backup API (a file copy of a live
WAL database can miss committed answers or catch a half-written page).

- `daily_backup`: one per local day, the last `KEEP_DAILY` kept; the agent calls it at start and
  once a day, so no command pays for it.
- `backup_now`: the `backup` command.
- `check_backup`: what a restore (store/restore.py) checks before it touches anything, down to its
  schema: nothing but the tables and indexes the migrations make (store/schema.py).

Pre-migration backups made by `store.migrate` (`pre-migrate-*.db`) are never pruned here.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from posture_agent.errors import StoreError, UserError
from posture_agent.paths import Paths
from posture_agent.store import sqlite_file
from posture_agent.store.migrate import SCHEMA_HEAD, alembic_config
from posture_agent.store.schema import foreign_objects_in_file, one_line
from posture_agent.store.sqlite_file import (
    backup_file,
    fsync_dir,
    quick_check,
    store_error,
    unique_path,
)

log = logging.getLogger(__name__)

KEEP_DAILY = 7
DAILY_PREFIX = "daily-"
MANUAL_PREFIX = "backup-"
ASIDE_PREFIX = "before-restore-"
SQLITE_HEADER = b"SQLite format 3\x00"
REQUIRED_TABLES = frozenset({"alembic_version", "meta", "checkins"})


def _make_backup(db_file: Path, target: Path) -> Path | None:
    """Copy into a temporary name, verify the copy, then rename it into place. A copy that fails
    its check is removed (it is ours) and None returned, so a damaged source never pushes a good
    backup out of the kept set."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(target.parent, 0o700)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        backup_file(db_file, temp)
        result = quick_check(temp)
        if result != "ok":
            log.error("backup of %s failed its check (%s); kept none", db_file, result)
            temp.unlink(missing_ok=True)
            return None
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def daily_backup(paths: Paths, now: datetime, zone: tzinfo | None = None) -> Path | None:
    """Today's backup if there is none yet (idempotent within a local day); None when there was
    nothing to do (no database yet, already done today, or the copy failed its check).

    `now` is aware; its local day (in `zone`, else its own zone) names the file.
    """
    db_file = paths.db_file
    if not db_file.exists() or db_file.stat().st_size == 0:
        return None
    day = (now.astimezone(zone) if zone else now).date()
    target = paths.backup_dir / f"{DAILY_PREFIX}{day.isoformat()}.db"
    remove_dead_temps(paths.backup_dir)
    if target.exists():
        return None
    try:
        made = _make_backup(db_file, target)
    except (sqlite3.Error, OSError) as exc:
        log.error("daily backup of %s failed: %s", db_file, exc)
        return None
    if made is not None:
        log.info("daily backup written to %s", made)
        prune_daily(paths.backup_dir)
    return made


def remove_dead_temps(backup_dir: Path) -> list[Path]:
    """Remove half-made backup copies (`.NAME.PID.tmp` and their journals) left by a process that
    was killed while copying; a live process's copy is left alone."""
    removed = []
    for temp in backup_dir.glob(".*.tmp*") if backup_dir.is_dir() else []:
        parts = temp.name.split(".tmp", 1)[0].rsplit(".", 1)
        pid = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None
        if pid is None or pid == os.getpid() or process_alive(pid):
            continue
        temp.unlink(missing_ok=True)
        removed.append(temp)
        log.info("removed a half-made backup %s (its process %d is gone)", temp, pid)
    return removed


def process_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # cannot tell cheaply: leave the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def prune_daily(backup_dir: Path, keep: int = KEEP_DAILY) -> list[Path]:
    """Remove daily backups beyond the newest `keep` (by the day in their name); returns them."""
    daily = sorted(backup_dir.glob(f"{DAILY_PREFIX}????-??-??.db"), reverse=True)
    removed = daily[keep:]
    for old in removed:
        old.unlink(missing_ok=True)
        log.info("removed old daily backup %s", old)
    return removed


def backup_now(paths: Paths, now: datetime) -> Path:
    """A backup made on request (kept until the user removes it)."""
    db_file = paths.db_file
    if not db_file.exists() or db_file.stat().st_size == 0:
        raise UserError(f"there is no database yet at {db_file}: nothing to back up")
    target = reserve_name(paths.backup_dir, f"{MANUAL_PREFIX}{now.astimezone():%Y%m%d-%H%M%S}")
    made: Path | None = None
    try:
        made = _make_backup(db_file, target)
    except sqlite3.Error as exc:
        raise store_error(exc, db_file) or StoreError(f"the backup of {db_file} failed: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"the backup could not be written to {paths.backup_dir}: {exc.strerror or exc}") from exc
    finally:
        if made is None:
            target.unlink(missing_ok=True)  # our empty reservation, never anyone's backup
    if made is None:
        raise StoreError(f"the database {db_file} failed its check, so no backup was made: run posture-agent doctor")
    return made


def reserve_name(folder: Path, stem: str) -> Path:
    """A backup name no other process can take too: created empty with O_EXCL, then replaced by the
    copy (six backups at once used to pick the same free name, and one copy replaced another)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    while True:
        candidate = unique_path(folder, stem)
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue  # taken between the look and the claim: the next free name
        return candidate


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    modified: datetime
    revision: str | None
    ok: bool
    problem: str | None


def list_backups(backup_dir: Path) -> list[BackupInfo]:
    """Every backup file, newest first, with whether it would restore."""
    found = []
    for path in backup_dir.glob("*.db") if backup_dir.is_dir() else []:
        if path.name.startswith("."):
            continue
        try:
            revision, problem = check_backup(path, thorough=False), None
        except UserError as exc:
            revision, problem = None, str(exc)
        st = path.stat()
        found.append(
            BackupInfo(path, st.st_size, datetime.fromtimestamp(st.st_mtime).astimezone(), revision,
                       problem is None, problem)
        )
    return sorted(found, key=lambda b: (b.modified, b.path.name), reverse=True)


def latest_good_backup(backup_dir: Path) -> Path | None:
    for info in list_backups(backup_dir):
        if info.ok:
            return info.path
    return None


def known_revisions() -> list[str]:
    """Migration ids from oldest to newest (Alembic is imported only here, for restores)."""
    from alembic.script import ScriptDirectory

    return [rev.revision for rev in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]


def check_backup(path: Path, thorough: bool = True) -> str:
    """The schema revision of a restorable posture-agent database at `path`, or a UserError naming
    what is wrong: not a file, not SQLite, damaged, not ours, or from a newer version."""
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a backup file") from None
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except OSError as exc:
        raise UserError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if header != SQLITE_HEADER:
        raise UserError(f"{path} is not a SQLite database (it does not start with the SQLite header)")
    try:
        conn = sqlite_file.connect(path)
        try:
            rows = conn.execute(f"PRAGMA {'integrity_check' if thorough else 'quick_check'}").fetchall()
            if [r[0] for r in rows] != ["ok"]:
                found = " ".join("; ".join(str(r[0]) for r in rows[:2]).split())
                raise UserError(f"{path} is damaged ({found}): choose another backup")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            missing = REQUIRED_TABLES - tables
            if missing:
                raise UserError(
                    f"{path} is a SQLite database but not a posture-agent one (no {', '.join(sorted(missing))} table)"
                )
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} cannot be read as a database ({exc})") from None
    except UnicodeDecodeError:  # SQLite's own error text about a damaged schema is not always UTF-8
        raise UserError(f"{path} is damaged (its schema cannot be read): choose another backup") from None
    if row is None:
        raise UserError(f"{path} has no schema version: not a complete posture-agent database")
    revision = str(row[0])
    if revision != SCHEMA_HEAD and revision not in known_revisions():
        raise UserError(
            f"{path} was written by a newer posture-agent (schema {revision}; this version knows up to "
            f"{SCHEMA_HEAD}): update posture-agent to restore it"
        )
    _refuse_foreign_schema(path, revision)
    return revision


def _refuse_foreign_schema(path: Path, revision: str) -> None:
    """A backup holding a trigger, a view or any schema object the migrations do not make is
    refused: SQLite would run a trigger at the app's next write (store/schema.py)."""
    try:
        problems = foreign_objects_in_file(path, revision)
    except sqlite3.DatabaseError as exc:
        raise UserError(f"{path} cannot be read as a database ({exc})") from None
    if problems:
        raise UserError(f"{path} is not posture-agent's own schema: it holds {one_line(problems)}; not restored")


