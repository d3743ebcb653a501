"""Opening the database: a damaged file moved aside, the schema brought up to date
(store/migrate.py), and the `Store` every unit of work goes through.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from posture_agent.errors import StoreError
from posture_agent.store import recovery
from posture_agent.store.migrate import SCHEMA_HEAD, make_engine, migrate_to_head
from posture_agent.store.sqlite_file import (
    QUICK_CHECK_MAX_BYTES,
    is_corruption,
    quick_check,
    read_revision,
    store_error,
    user_tables,
)

log = logging.getLogger(__name__)


class Store:
    """The open database: an engine and a way to run one unit of work in one transaction."""

    def __init__(self, db_file: Path, engine: Engine) -> None:
        self.db_file = db_file
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work: committed when the block ends, rolled back if it raises."""
        with self.mapped_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """A locked, full, read-only or damaged database becomes a StoreError with one clear line."""
        started = time.monotonic()
        try:
            yield
        except (DBAPIError, sqlite3.DatabaseError) as exc:
            mapped = store_error(exc, self.db_file, time.monotonic() - started)
            if mapped is None:
                raise
            if is_corruption(exc):
                mapped = StoreError(
                    f"the database {self.db_file} is damaged ({getattr(exc, 'orig', exc)}); "
                    f"{recovery.restore_hint(self.db_file.parent / 'backups')}"
                )
            log.warning("database error on %s", self.db_file, exc_info=True)
            raise mapped from exc

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    db_file: Path, backup_dir: Path | None = None, *, check: bool | None = None, now: datetime | None = None,
) -> Store:
    """Open (creating or migrating if needed) the database at `db_file`; a new one records `now`
    (the caller's clock, else the system's) as its install time, where planned days begin.

    A damaged file (not a database, or failing `PRAGMA quick_check`: always when `check` is True,
    never when False, when the file is at most QUICK_CHECK_MAX_BYTES when None) is moved aside,
    never overwritten, and a StoreError says where it went and which backup to restore; until the
    user restores or starts fresh, no empty database is silently created in its place.
    """
    backup_dir = backup_dir or db_file.parent / "backups"
    recovery.refuse_if_quarantined(db_file, backup_dir)
    try:
        revision = read_revision(db_file)
        if check is None:
            check = revision is not None and db_file.stat().st_size <= QUICK_CHECK_MAX_BYTES
        if check and revision is not None:
            result = quick_check(db_file)
            if result != "ok":
                recovery.quarantine(db_file, backup_dir, f"quick_check: {result}")
        if revision is None and user_tables(db_file):
            recovery.quarantine(db_file, backup_dir, "it has tables but no schema version")
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        recovery.quarantine(db_file, backup_dir, str(exc))
    started = time.monotonic()
    try:
        if revision != SCHEMA_HEAD:
            migrate_to_head(db_file, revision, backup_dir, now)
    except (DBAPIError, sqlite3.DatabaseError) as exc:
        mapped = store_error(exc, db_file, time.monotonic() - started)
        if mapped is None:
            raise
        log.warning("could not prepare %s", db_file, exc_info=True)
        raise mapped from exc
    engine = make_engine(db_file)
    return Store(db_file, engine)
