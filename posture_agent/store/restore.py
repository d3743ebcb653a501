"""Restores: the file checked first (store/backup.py), the current database kept aside (renamed
with a time stamp, never deleted), the copy swapped in with one atomic rename, then opened (and
migrated if older) like any other.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from posture_agent.errors import StoreError, UserError
from posture_agent.paths import Paths
from posture_agent.store import recovery
from posture_agent.store.backup import ASIDE_PREFIX, check_backup
from posture_agent.store.db import open_store
from posture_agent.store.migrate import SCHEMA_HEAD
from posture_agent.store.restored_rows import RefusedRow, refuse_invalid_rows
from posture_agent.store.sqlite_file import BUSY_TIMEOUT_MS, backup_file, fsync_dir, move_with_sidecars, unique_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Restored:
    source: Path | None
    database: Path
    previous: Path | None
    migrated_from: str | None
    refused: tuple[RefusedRow, ...] = ()
    """Records of the backup that failed validation: left out of the restored database."""


def _set_aside(paths: Paths) -> Path | None:
    """Keep the current database (and its WAL, checkpointed when possible) under a new name in the
    backup folder; it stays readable as a database and is never deleted."""
    db_file = paths.db_file
    if not db_file.exists():
        return None
    try:  # fold the WAL into the main file so the kept copy is one self-contained file
        conn = sqlite3.connect(db_file, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("could not checkpoint %s before setting it aside: %s", db_file, exc)
    paths.backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = unique_path(paths.backup_dir, f"{ASIDE_PREFIX}{recovery.stamp()}")
    if os.stat(paths.backup_dir).st_dev == os.stat(db_file.parent).st_dev:
        move_with_sidecars(db_file, aside)
    else:  # another file system: a consistent copy instead of a rename, then the original moves
        backup_file(db_file, aside)
        move_with_sidecars(db_file, unique_path(db_file.parent, f"{db_file.stem}-{ASIDE_PREFIX}"))
    fsync_dir(paths.backup_dir)
    return aside


def restore(paths: Paths, source: Path | None, now: datetime) -> Restored:
    """Put `source` in place of the database (None: start with an empty one), keeping the current
    database aside. The source is checked before anything is touched, and its records validated
    as of `now` (store/restored_rows.py)."""
    db_file = paths.db_file
    revision = None
    refused: list[RefusedRow] = []
    temp = db_file.with_name(f".{db_file.name}.restore-{os.getpid()}.tmp")
    if source is not None:
        source = source.expanduser().absolute()
        if db_file.exists() and source.exists() and source.samefile(db_file):
            raise UserError(f"{source} is the database in use; name a backup file to restore")
        revision = check_backup(source)
        paths.make_dirs()
        try:
            backup_file(source, temp)
            conn = sqlite3.connect(temp)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            finally:
                conn.close()
            refused = refuse_invalid_rows(temp, now)
        except (sqlite3.Error, OSError) as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"could not copy {source} into {db_file.parent}: {exc}") from exc
    previous = _set_aside(paths)
    if source is not None:
        os.replace(temp, db_file)
        fsync_dir(db_file.parent)
    recovery.clear_quarantine(db_file)
    store = open_store(db_file, paths.backup_dir)  # migrates an older backup; creates a fresh one
    store.close()
    log.info("restored %s into %s (previous kept as %s)", source, db_file, previous)
    return Restored(source, db_file, previous, revision if revision != SCHEMA_HEAD else None, tuple(refused))
